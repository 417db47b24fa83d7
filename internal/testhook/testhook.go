// Package testhook lets tests of the real binaries stop, fail or kill a
// process at a named point, to check what a crash or a failure at that
// point leaves behind. It is driven by one environment variable, read at
// every point reached (cheap: one Getenv), and does nothing when it is
// unset:
//
//	FDAG_TEST_HOOK=POINT[@MATCH]=ACTION[;...]
//
// POINT is a name passed to At (e.g. "run.before-commit"); MATCH, when
// given, must be a substring of the detail passed with it (a shard's
// "SYMBOL [start, end)"). ACTION is
//
//	kill      SIGKILL the process (no deferred cleanup runs, as in a crash)
//	pause     print "testhook: paused at POINT" on stderr and block
//	          until the context is done (a test then kills the process)
//	fail[:N]  return an error, the first N times only (default: always)
//
// Several rules are separated by semicolons.
package testhook

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Env is the variable holding the rules.
const Env = "FDAG_TEST_HOOK"

var (
	mu    sync.Mutex
	fails = map[string]int{} // rule -> failures returned so far
)

// At is a hook point. It returns an error for a fail rule, never returns
// for kill, and blocks for pause until ctx is done (returning ctx's error).
func At(ctx context.Context, point, detail string) error {
	spec := os.Getenv(Env)
	if spec == "" {
		return nil
	}
	for _, rule := range strings.Split(spec, ";") {
		where, action, _ := strings.Cut(strings.TrimSpace(rule), "=")
		name, match, _ := strings.Cut(where, "@")
		if name != point || !strings.Contains(detail, match) {
			continue
		}
		verb, arg, _ := strings.Cut(action, ":")
		switch verb {
		case "kill":
			fmt.Fprintf(os.Stderr, "testhook: killing at %s %s\n", point, detail)
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		case "pause":
			fmt.Fprintf(os.Stderr, "testhook: paused at %s %s\n", point, detail)
			<-ctx.Done()
			return ctx.Err()
		case "fail":
			limit := -1
			if arg != "" {
				if n, err := strconv.Atoi(arg); err == nil {
					limit = n
				}
			}
			mu.Lock()
			n := fails[rule]
			if limit < 0 || n < limit {
				fails[rule] = n + 1
				mu.Unlock()
				return fmt.Errorf("testhook: injected failure at %s %s", point, detail)
			}
			mu.Unlock()
		}
	}
	return nil
}
