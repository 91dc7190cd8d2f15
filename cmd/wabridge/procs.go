package main

import "runtime"

// extraProc gives Go's scheduler one processor more than its default (the
// cores the process may use) unless GOMAXPROCS is set in the environment
// (getenv), and returns the count in effect.
//
// The store's single writer spends much of its time in blocking system
// calls (the log's writes and fsync) and wakes a goroutine for every
// operation it commits: the SMPP answers, the webhook handlers, the
// senders. With one processor per core, those goroutines wait on the
// writer's processor until it blocks again or another goroutine yields;
// with one more, an idle processor takes them at once and the kernel
// shares the cores among the threads. Measured on 2 cores (BENCHMARKS.md,
// eighth round): submit_sm_resp p99 at 2,500/s 6.0 / 6.2 / 6.0 -> 5.6 /
// 5.5 / 5.6 ms, SMPP flat out 4,050 / 4,071 / 4,187 -> 4,269 / 4,192 /
// 4,170 msg/s, webhooks 35,987 / 37,459 -> 38,830 / 38,672 /s.
func extraProc(getenv func(string) string) int {
	if getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	n := runtime.GOMAXPROCS(0) + 1
	runtime.GOMAXPROCS(n)
	return n
}
