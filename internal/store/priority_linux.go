package store

import (
	"fmt"
	"syscall"
)

// raiseThreadPriority gives the calling OS thread a nice value levels below
// its current one (at most -20) and returns the value set. Lowering a nice
// value needs CAP_SYS_NICE or an RLIMIT_NICE that allows it; without either
// the thread keeps its priority and the error says so. The caller must hold
// the thread (runtime.LockOSThread) and not give it back to the scheduler:
// threads the runtime starts later inherit the nice value of the thread
// that starts them.
func raiseThreadPriority(levels int) (int, error) {
	nice, err := threadNice()
	if err != nil {
		return 0, fmt.Errorf("read the thread's nice value: %w", err)
	}
	want := max(nice-levels, -20)
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), want); err != nil {
		if err == syscall.EPERM || err == syscall.EACCES {
			return nice, fmt.Errorf("nice %d needs CAP_SYS_NICE or RLIMIT_NICE of at least %d: %w", want, 20-want, err)
		}
		return nice, fmt.Errorf("set nice %d: %w", want, err)
	}
	return want, nil
}

// threadNice is the calling OS thread's nice value.
func threadNice() (int, error) {
	// The raw system call answers 20 - nice (1…40), never a negative number.
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	return 20 - raw, err
}
