package formula

import (
	"errors"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"log(close) - log(lag(close, 1))",
		"rolling_mean(x, 20)",
		"rolling_std(diff(log(close)), '5m')",
		"rolling_mean(close, \"1h30m\", min_samples=3)",
		"lag(x, k=5)",
		"-x**2",
		"2**-1",
		"2**3**2",
		"(a < b) == (c < d)",
		"a - (b - c) / d * -e",
		"1e-3 + .5 + 5. + 1E+6",
		"ewm_mean(close, 0.5) > 0",
		"f(x,)",
		"'it\\'s'",
		"résumé",
		"rolling_mean(x)",
		"a < b < c",
		"log(x",
		"log(x))",
		"'5m",
		"rolling_mean(x, 5m)",
		"lag(x, k=1, 2)",
		"x // 2",
		"a and b",
		"1.2.3",
		"",
		"\xff\xfe",
		"x\x00y",
		strings.Repeat("(", 70) + "x" + strings.Repeat(")", 70),
		strings.Repeat("-", 70) + "x",
		strings.Repeat("2**", 70) + "2",
		"1" + strings.Repeat("0", 400),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		n, err := Parse(src)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is %T, not *Error: %v", err, err)
			}
			if e.Pos.Start < 0 || e.Pos.Start > e.Pos.End || e.Pos.End > len(src) {
				t.Fatalf("error range %v outside the %d-byte source: %v", e.Pos, len(src), err)
			}
			_ = e.Render()
			return
		}
		checkPositions(t, src, n)
		checkRoundTrip(t, src, n)
		if _, err := Check(n); err != nil {
			for _, e := range err.(Errors) {
				if e.Pos.Start < 0 || e.Pos.Start > e.Pos.End || e.Pos.End > len(src) {
					t.Fatalf("check error range %v outside the source: %v", e.Pos, e)
				}
			}
		}
	})
}

// checkPositions asserts that every node's range lies inside its parent's
// and inside the source.
func checkPositions(t *testing.T, src string, n Node) {
	t.Helper()
	var walk func(n Node, outer PosRange)
	walk = func(n Node, outer PosRange) {
		r := n.PositionRange()
		if r.Start < outer.Start || r.End > outer.End || r.Start >= r.End {
			t.Fatalf("%T range %v not inside %v in %q", n, r, outer, src)
		}
		switch n := n.(type) {
		case *UnaryExpr:
			walk(n.X, r)
		case *BinaryExpr:
			walk(n.L, r)
			walk(n.R, r)
		case *ParenExpr:
			walk(n.X, r)
		case *Call:
			for _, a := range n.Args {
				walk(a.Value, r)
			}
		}
	}
	walk(n, PosRange{0, len(src)})
}
