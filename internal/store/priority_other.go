//go:build !linux

package store

import "errors"

// raiseThreadPriority is supported on Linux only (per-thread nice values).
func raiseThreadPriority(int) (int, error) {
	return 0, errors.New("per-thread priority is supported on Linux only")
}
