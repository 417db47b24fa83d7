package catalog

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/ir"
)

// TestMaxWarmupGap: a symbol quiet from 2020 to 2024 pulls its 2020 rows
// into the warmup of a 2024 range; MaxWarmupGap stops the warmup that far
// before the start, for row and duration lookbacks (issue 10 item 6).
func TestMaxWarmupGap(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	w := openTemp(t, mem)
	old := time.Date(2020, 3, 2, 0, 0, 0, 0, time.UTC)
	start := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	var rows []trade
	for i := range 20 {
		rows = append(rows, trade{"XRPETH", old.Add(time.Duration(i) * time.Minute), 1, int64(i)})
	}
	for i := range 3 { // three trades the day before start, then the range
		rows = append(rows, trade{"XRPETH", start.Add(-time.Duration(3-i) * time.Hour), 2, int64(100 + i)})
	}
	for i := range 5 {
		rows = append(rows, trade{"XRPETH", start.Add(time.Duration(i) * time.Minute), 3, int64(200 + i)})
	}
	tbl := tradesTable(mem, rows)
	defer tbl.Release()
	if _, err := w.Ingest(ctx, TradesTable, tableSource("quiet", tbl)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		lb   ir.Lookback
		gap  time.Duration
		want int64
	}{
		{"rows, no bound", ir.Lookback{Rows: 10}, 0, 10},
		{"rows, 30 days", ir.Lookback{Rows: 10}, 30 * 24 * time.Hour, 3},
		{"rows, 2 hours", ir.Lookback{Rows: 10}, 2 * time.Hour, 2},
		{"duration, no bound", ir.Lookback{Dur: int64(5 * 365 * 24 * time.Hour)}, 0, 23},
		{"duration, 30 days", ir.Lookback{Dur: int64(5 * 365 * 24 * time.Hour)}, 30 * 24 * time.Hour, 3},
	} {
		data, err := w.ReadSource(ctx, SourceRequest{Symbols: []string{"XRPETH"}, Start: start, End: start.Add(time.Hour),
			Lookback: c.lb, MaxWarmupGap: c.gap})
		if err != nil {
			t.Fatal(err)
		}
		if data.WarmupRows != c.want || data.Table.NumRows() != c.want+5 {
			t.Errorf("%s: %d warmup rows of %d, want %d", c.name, data.WarmupRows, data.Table.NumRows(), c.want)
		}
		data.Release()
	}
}
