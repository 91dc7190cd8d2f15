//go:build !unix

package store

import "time"

// processCPU is 0 where getrusage is missing: no cpu-µs/op is reported.
func processCPU() time.Duration { return 0 }
