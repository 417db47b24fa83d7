// Package cputime reads the CPU time the process has used. Benchmarks on a
// shared machine report it beside wall time: under contention the wall
// time of a run says more about the neighbours than about the code.
package cputime

import (
	"syscall"
	"time"
)

// Process is the user plus system CPU time of the process so far.
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
