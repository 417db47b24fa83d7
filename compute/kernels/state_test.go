package kernels

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// Kernel state grows with the rows seen, never with the parameter (issue 8:
// rolling_mean(close, 3000000000) allocated its ring for three billion rows
// up front and ended fdag-flight with "out of memory"; lag(close, 1e8) over
// four symbols reserved 3.7 GB). Each kernel below is given a parameter far
// beyond the checker's bounds and must (a) allocate about what the data
// needs and (b) give bit-identically what the same kernel gives with the
// parameter cut to the data's length, where window membership is the same.
func TestStateGrowsWithDataNotParameter(t *testing.T) {
	const n = 3000
	rng := rand.New(rand.NewPCG(5, 6))
	d := genData(rng, n)[0]
	huge := []int{3_000_000_000, 1e12, 1 << 62}
	type kcase struct {
		name      string
		big, same Factory
		in        []Col
	}
	var cases []kcase
	names := []string{"sum", "mean", "std", "min", "max"}
	for _, w := range huge {
		for agg := AggSum; agg <= AggMax; agg++ {
			cases = append(cases, kcase{fmt.Sprintf("rolling_%s/%d", names[agg], w),
				NewRolling(agg, w, 0, 3), NewRolling(agg, n, 0, 3), []Col{d.x}})
		}
		cases = append(cases,
			kcase{fmt.Sprintf("rolling_corr/%d", w), NewRollingCorr(w, 0, 2), NewRollingCorr(n, 0, 2), []Col{d.x, d.y}},
			kcase{fmt.Sprintf("lag/%d", w), NewLag(w), NewLag(n), []Col{d.x}},
			kcase{fmt.Sprintf("lag_short/%d", w), NewLag(w), NewLag(n + 1), []Col{d.x}})
	}
	cases = append(cases, kcase{"lag/1e8", NewLag(1e8), NewLag(n), []Col{d.x}})
	for _, c := range cases {
		// Chunks of 100 rows, as the executor feeds them; the bound is
		// generous for what 3000 rows need (a ring of 4096 slots of
		// value, validity and, for corr, a second value: < 100 kB).
		cuts := make([]int, 0, n/100)
		for i := 100; i < n; i += 100 {
			cuts = append(cuts, i)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got, gotOK := run(c.big, c.in, nil, cuts)
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
			t.Errorf("%s: %d bytes allocated for %d rows; state must grow with the data", c.name, alloc, n)
		}
		want, wantOK := run(c.same, c.in, nil, cuts)
		sameOutput(t, c.name, want, wantOK, got, gotOK)
	}
}
