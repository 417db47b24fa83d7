package batch

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/ir"
)

var day0 = time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)

func TestSplit(t *testing.T) {
	at := func(d, h int) time.Time { return day0.Add(time.Duration(d)*24*time.Hour + time.Duration(h)*time.Hour) }
	cases := []struct {
		name       string
		syms       []string
		start, end time.Time
		every      time.Duration
		want       []Shard
	}{
		{"inside one day", []string{"A"}, at(0, 3), at(0, 5), DefaultShard, []Shard{{"A", at(0, 3), at(0, 5)}}},
		{"aligned days", []string{"A"}, at(0, 0), at(2, 0), DefaultShard, []Shard{{"A", at(0, 0), at(1, 0)}, {"A", at(1, 0), at(2, 0)}}},
		{"ragged ends, two symbols", []string{"A", "B"}, at(0, 20), at(1, 2), DefaultShard,
			[]Shard{{"A", at(0, 20), at(1, 0)}, {"A", at(1, 0), at(1, 2)}, {"B", at(0, 20), at(1, 0)}, {"B", at(1, 0), at(1, 2)}}},
		{"hours", []string{"A"}, at(0, 1).Add(30 * time.Minute), at(0, 3), time.Hour,
			[]Shard{{"A", at(0, 1).Add(30 * time.Minute), at(0, 2)}, {"A", at(0, 2), at(0, 3)}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Split(c.syms, c.start, c.end, c.every)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i].Symbol != c.want[i].Symbol || !got[i].Start.Equal(c.want[i].Start) || !got[i].End.Equal(c.want[i].End) {
					t.Errorf("shard %d: got %v, want %v", i, got[i], c.want[i])
				}
			}
		})
	}
	for _, bad := range []struct {
		start, end time.Time
		every      time.Duration
	}{{at(1, 0), at(0, 0), DefaultShard}, {at(0, 0), at(0, 0), DefaultShard}, {at(0, 0), at(1, 0), 0}, {at(0, 0), at(400, 0), time.Second}} {
		if _, err := Split([]string{"A"}, bad.start, bad.end, bad.every); err == nil {
			t.Errorf("Split(%v, %v, %v): no error", bad.start, bad.end, bad.every)
		}
	}
}

// ingestDemo writes about three days of synthetic trades of two symbols.
// demoWarehouse opens a warehouse in a temp dir holding the demo trades.
func demoWarehouse(t *testing.T, mem memory.Allocator) *catalog.Warehouse {
	t.Helper()
	wh, err := catalog.Open(context.Background(), t.TempDir(), catalog.Config{}, catalog.Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	ingestDemo(t, wh, mem)
	return wh
}

func ingestDemo(t *testing.T, wh *catalog.Warehouse, mem memory.Allocator) {
	t.Helper()
	rdr := demodata.NewReader(demodata.Config{Rows: 30_000, Seed: 7, Symbols: []string{"BTCUSDT", "ETHUSDT"}, MeanGap: 8 * time.Second, Start: day0, BatchRows: 4096}, mem)
	defer rdr.Release()
	if _, err := wh.Ingest(context.Background(), catalog.TradesTable, catalog.ReaderSource("demo", rdr)); err != nil {
		t.Fatal(err)
	}
}

var shardSpecs = []ir.Spec{
	{Name: "lag_3", Formula: "lag(close, 3)"},
	{Name: "ma_50", Formula: "rolling_mean(close, 50)"},
	{Name: "vol_200", Formula: "rolling_std(diff(log(close)), 200)"},
	{Name: "vsum_10m", Formula: "rolling_sum(volume, '10m')"},
	{Name: "hi_1h", Formula: "rolling_max(close, '1h')"},
	{Name: "ewm_20", Formula: "ewm_mean(close, 20)"},
	{Name: "broken", Formula: "log(no_such_column)"},
}

// TestComputeMatchesFullHistory: a shard computed with its warmup gives,
// for every row in [start, end), the value computed over the symbol's whole
// history (bit for bit for lags, sums, means and extremes; ewm_mean, whose memory is
// unbounded, to the 2^-40 of its 40-half-life warmup; rolling std to
// 1e-12, see compareRange).
func TestComputeMatchesFullHistory(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	wh := demoWarehouse(t, mem)
	defer wh.Close()

	start, end := day0.Add(31*time.Hour), day0.Add(48*time.Hour)
	for _, sym := range []string{"BTCUSDT", "ETHUSDT"} {
		got, err := Compute(ctx, wh, Request{Specs: shardSpecs, Symbols: []string{sym}, Start: start, End: end, Mem: mem})
		if err != nil {
			t.Fatal(err)
		}
		if st := got.Statuses[len(got.Statuses)-1]; st.Status != compute.StatusError {
			t.Errorf("broken feature: status %+v", st)
		}
		all, err := wh.ReadSource(ctx, catalog.SourceRequest{Symbols: []string{sym}})
		if err != nil {
			t.Fatal(err)
		}
		want, err := compute.ComputeFeatures(ctx, shardSpecs, []compute.Frame{{Name: "all", Table: all.Table}}, compute.Options{Mem: mem})
		all.Release()
		if err != nil {
			t.Fatal(err)
		}
		compareRange(t, sym, got.Table, want.Table, start, end)
		got.Release()
		want.Release()
	}
}

// compareRange checks that got holds exactly the rows of want with time in
// [start, end), in order, with the same values.
func compareRange(t *testing.T, sym string, got, want arrow.Table, start, end time.Time) {
	t.Helper()
	times := func(tbl arrow.Table) []int64 {
		var out []int64
		for _, c := range tbl.Column(0).Data().Chunks() {
			for _, v := range c.(*array.Timestamp).Values() {
				out = append(out, int64(v))
			}
		}
		return out
	}
	wt, gt := times(want), times(got)
	lo, hi := -1, -1
	for i, v := range wt {
		if v >= start.UnixMicro() && lo < 0 {
			lo = i
		}
		if v < end.UnixMicro() {
			hi = i + 1
		}
	}
	if lo < 0 || hi-lo != len(gt) {
		t.Fatalf("%s: %d rows, want %d (rows [%d, %d) of the full history)", sym, len(gt), hi-lo, lo, hi)
	}
	if lo == 0 {
		t.Fatalf("%s: the range starts at the first row: the test exercises no warmup", sym)
	}
	for c := 2; c < int(want.NumCols()); c++ {
		name := want.Schema().Field(c).Name
		gv, wv := floats(got.Column(c)), floats(want.Column(c))[lo:hi]
		// Running kernels carry rounding from before the window: rolling
		// std's compensated sums are rebased from the window only once it
		// has been fully replaced, so the last bits depend on where the
		// history starts; ewm_mean's memory is unbounded.
		tol := 0.0
		switch name {
		case "vol_200":
			tol = 1e-12
		case "ewm_20":
			tol = 1e-9
		}
		for i := range gv {
			g, w := gv[i], wv[i]
			same := (math.IsNaN(g) && math.IsNaN(w)) || g == w || (tol > 0 && math.Abs(g-w) <= tol*math.Abs(w))
			if !same {
				t.Fatalf("%s %s row %d (time %d): got %v, want %v", sym, name, i, gt[i], g, w)
			}
		}
	}
}

// floats returns the column's values with nulls as NaN... except that a
// null must match a null: they are mapped to -Inf, which no feature here
// produces.
func floats(col *arrow.Column) []float64 {
	var out []float64
	for _, c := range col.Data().Chunks() {
		a := c.(*array.Float64)
		for i := range a.Len() {
			if a.IsNull(i) {
				out = append(out, math.Inf(-1))
			} else {
				out = append(out, a.Value(i))
			}
		}
	}
	return out
}

func TestComputeErrors(t *testing.T) {
	ctx := context.Background()
	wh, err := catalog.Open(ctx, t.TempDir(), catalog.Config{}, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	ok := []ir.Spec{{Name: "x", Formula: "log(close)"}}
	if _, err := Compute(ctx, wh, Request{Specs: ok, Start: day0, End: day0.Add(time.Hour)}); !errors.Is(err, catalog.ErrNoTable) {
		t.Errorf("missing source table: %v, want ErrNoTable", err)
	}
	if _, err := Compute(ctx, wh, Request{Specs: ok, Start: day0, End: day0}); err == nil {
		t.Error("empty range: no error")
	}
	if _, err := Compute(ctx, wh, Request{Start: day0, End: day0.Add(time.Hour)}); err == nil {
		t.Error("no features: no error")
	}
}

// A cumulative feature would restart at the warmup's first row, so a
// batch/fetch computation refuses it (its status names the call) and
// computes the others.
func TestComputeRefusesCumulative(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	wh := demoWarehouse(t, mem)
	defer wh.Close()
	specs := []ir.Spec{{Name: "vol", Formula: "cum_sum(volume)"}, {Name: "ret", Formula: "diff(log(close))"}}
	got, err := Compute(ctx, wh, Request{Specs: specs, Symbols: []string{"BTCUSDT"}, Start: day0, End: day0.Add(time.Hour), Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if st := got.Statuses[0]; st.Status != compute.StatusError || !strings.Contains(st.Error, "1:1: cum_sum needs every earlier row") {
		t.Errorf("cum_sum status %+v", st)
	}
	if st := got.Statuses[1]; st.Status != compute.StatusSuccess {
		t.Errorf("ret status %+v", st)
	}
}
