package compute

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/formula"
	"github.com/featuredag/fdag/ir"
)

// Issue 8: rolling_mean(close, 3000000000), rolling_max/corr with ~1e12 and
// lag(close, 1e8) ended fdag-flight and fdag compute with "out of memory".
// Past the documented bounds they are now a positioned error of that
// feature alone; at the bounds they run over a small table in memory that
// follows the rows, not the parameter.
func TestHugeWindowsAndLags(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	tbl := tradeTable(t, mem, genTrades(8, 2000), 500)
	defer tbl.Release()
	w := formula.MaxWindowRows
	atBound := []ir.Spec{
		{Name: "mean_max", Formula: "rolling_mean(close, 10000000, 1)"},
		{Name: "max_max", Formula: "rolling_max(close, 10000000, 1)"},
		{Name: "corr_max", Formula: "rolling_corr(close, volume, 10000000, 2)"},
		{Name: "std_max", Formula: "rolling_std(close, 10000000)"},
		{Name: "lag_max", Formula: "lag(close, 10000000)"},
		{Name: "diff_max", Formula: "diff(close, 10000000)"},
		{Name: "ewm_max", Formula: "ewm_mean(close, 1000000000)"},
		{Name: "dur_max", Formula: "rolling_sum(volume, '3650d')"},
	}
	pastBound := map[string]string{
		"mean_huge": "rolling_mean(close, 3000000000)",
		"max_huge":  "rolling_max(close, 1000000000000)",
		"corr_huge": "rolling_corr(close, volume, 1000000000000)",
		"lag_huge":  "lag(close, 100000000)",
	}
	pastBoundAt := map[string]string{"mean_huge": "1:21", "max_huge": "1:20", "corr_huge": "1:29", "lag_huge": "1:12"}
	specs := append([]ir.Spec(nil), atBound...)
	for _, name := range []string{"mean_huge", "max_huge", "corr_huge", "lag_huge"} {
		specs = append(specs, ir.Spec{Name: name, Formula: pastBound[name]})
	}
	if w != 10_000_000 {
		t.Fatalf("MaxWindowRows = %d; update the formulas above", w)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := ComputeFeatures(context.Background(), specs, []Frame{{Name: "t", Table: tbl}}, Options{Mem: mem, Parallelism: 1})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	// 2000 rows, 12 features: kernel state, chunk buffers and the output
	// are a few MB; one ring sized by a parameter would be 80 MB or more.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("allocated %d bytes for 2000 rows", alloc)
	}
	for _, s := range res.Statuses {
		src, huge := pastBound[s.Name]
		switch {
		case !huge && s.Status != StatusSuccess:
			t.Errorf("%s: %s", s.Name, s.Error)
		case huge && (s.Status != StatusError || !strings.Contains(s.Error, "must be at most")):
			t.Errorf("%s = %s: status %s, error %q; want a bound error", s.Name, src, s.Status, s.Error)
		case huge && !strings.HasPrefix(s.Error, s.Name+": "+pastBoundAt[s.Name]+": "):
			t.Errorf("%s: error %q is not at %s", s.Name, s.Error, pastBoundAt[s.Name])
		}
	}
	// A window longer than every symbol's rows is the whole history.
	cum := compute(t, tbl, []ir.Spec{{Name: "mean_max", Formula: "rolling_mean(close, 2001, 1)"}}, Options{Mem: mem})
	defer cum.Release()
	if a, b := column(t, res, "mean_max"), column(t, cum, "mean_max"); !slices.Equal(a, b) {
		t.Error("rolling_mean(close, 10000000, 1) differs from the same window cut to the data")
	}
}

// A feature named like the time or symbol column fails alone (issue 8: it
// duplicated that column in the output).
func TestFeatureNamedLikeAColumn(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	tbl := tradeTable(t, mem, genTrades(9, 50), 500)
	defer tbl.Release()
	specs := []ir.Spec{{Name: "event_time", Formula: "close * 2"}, {Name: "symbol", Formula: "close"}, {Name: "ok", Formula: "close"}}
	res, err := ComputeFeatures(context.Background(), specs, []Frame{{Name: "t", Table: tbl}}, Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	for _, s := range res.Statuses[:2] {
		if s.Status != StatusError || !strings.Contains(s.Error, "rename the feature") {
			t.Errorf("%s: %s %q", s.Name, s.Status, s.Error)
		}
	}
	if names := res.Table.Schema().Fields(); len(names) != 3 {
		t.Errorf("output columns %v, want event_time, symbol, ok", res.Table.Schema())
	}
}

// StateBytes measures the kernels' state: duration windows over a long
// stream hold what their windows cover, not every row seen (the plan-based
// estimate of "every row" refused a 10M-row exchange of the demo features
// at the default --max-state-bytes), while a long row window grows with the
// rows it has seen.
func TestStateBytesFollowsTheWindows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rows := genTrades(3, 40000)
	cases := []struct {
		name     string
		specs    []ir.Spec
		min, max int64 // bounds on the final state
		flat     bool  // the state stops growing once the windows are full
	}{
		{"duration windows", []ir.Spec{
			{Name: "m", Formula: "rolling_mean(close, '1s')"},
			{Name: "x", Formula: "rolling_max(close, '1s')"},
			{Name: "q", Formula: "rolling_median(close, '1s')"},
			{Name: "l", Formula: "lag(close, 10)"},
		}, 1, 64 << 10, true},
		{"a long row window", []ir.Spec{{Name: "m", Formula: "rolling_mean(close, 1000000)"}}, 100 << 10, 1 << 20, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			one := tradeTable(t, mem, rows[:1], 1)
			s, err := NewStream(c.specs, one.Schema(), Options{Mem: mem})
			one.Release()
			if err != nil {
				t.Fatal(err)
			}
			var early int64
			for lo, batch := 0, 0; lo < len(rows); lo, batch = lo+4000, batch+1 {
				in := tradeTable(t, mem, rows[lo:min(lo+4000, len(rows))], 1<<20)
				rec := tableRecord(t, in)
				out, err := s.Process(context.Background(), rec)
				rec.Release()
				in.Release()
				if err != nil {
					t.Fatal(err)
				}
				out.Release()
				if batch == 1 {
					early = s.StateBytes()
				}
			}
			final := s.StateBytes()
			t.Logf("state %d bytes after the 2nd batch, %d after %d rows", early, final, len(rows))
			if final < c.min || final > c.max {
				t.Errorf("state %d bytes after %d rows, want in [%d, %d]", final, len(rows), c.min, c.max)
			}
			if c.flat && final > 2*early {
				t.Errorf("state grew from %d to %d bytes with full windows", early, final)
			}
		})
	}
}
