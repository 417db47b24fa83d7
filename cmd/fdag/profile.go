package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// profileEnv names a file to write a CPU profile of the whole command to
// (bench/README.md profiles `fdag compute` with it):
//
//	FDAG_CPUPROFILE=cpu.prof fdag compute ...; go tool pprof -top bin/fdag cpu.prof
const profileEnv = "FDAG_CPUPROFILE"

// startProfile starts the CPU profile when profileEnv is set and returns
// what stops it.
func startProfile(stderr io.Writer) (stop func()) {
	path := os.Getenv(profileEnv)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "fdag: %s: %v\n", profileEnv, err)
		if f != nil {
			f.Close()
		}
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
