// Package mlfinpy finds the mlfinpy interpreter for the agreement tests of
// bars/ and labels/: the venv scripts/test.sh builds (mlfinpy pins numpy
// 1.26, so it has a venv of its own; tests/mlfinpy/*.py exchange CSV with
// the Go tests).
package mlfinpy

import (
	"os"
	"testing"
)

// Python is FDAG_MLFINPY_PYTHON; without it the test skips, or fails
// under CI.
func Python(t testing.TB) string {
	t.Helper()
	py := os.Getenv("FDAG_MLFINPY_PYTHON")
	if py == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("FDAG_MLFINPY_PYTHON is not set (scripts/test.sh builds the mlfinpy venv and sets it)")
		}
		t.Skip("FDAG_MLFINPY_PYTHON is not set: run through scripts/test.sh for the mlfinpy agreement")
	}
	return py
}
