// Package cpuprofile writes a CPU profile of a whole command to the file
// named by FDAG_CPUPROFILE, for fdag and fdag-flight alike (bench/README.md
// profiles `fdag compute` and a DoExchange with it):
//
//	FDAG_CPUPROFILE=cpu.prof fdag compute ...; go tool pprof -top bin/fdag cpu.prof
//	FDAG_CPUPROFILE=cpu.prof fdag-flight ...   # written when the server stops (SIGINT/SIGTERM)
package cpuprofile

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// Env names the file to write the profile to; unset or empty: no profile.
const Env = "FDAG_CPUPROFILE"

// Start starts the CPU profile when Env is set and returns what stops it
// (and closes the file). A profile that cannot start is said on stderr
// under the program's name; the program runs on without it.
func Start(program string, stderr io.Writer) (stop func()) {
	path := os.Getenv(Env)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s: %v\n", program, Env, err)
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
