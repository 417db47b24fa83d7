package catalog

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/ir"
)

// overlappingTrades ingests demo trades in three appends whose files
// overlap in time within every (symbol, day) partition, one of them in
// reverse time order, plus ties (same time, other trade ids) in a fourth:
// the cases where a streamed read must merge files, not just follow them.
func overlappingTrades(t *testing.T, w *Warehouse, mem memory.Allocator) []trade {
	t.Helper()
	gen := demodata.Generate(demodata.Config{Rows: 12000, Seed: 11, MeanGap: 20 * time.Second}, mem)
	all := rowsOf(t, gen)
	gen.Release()
	parts := make([][]trade, 4)
	for i, r := range all {
		parts[i%3] = append(parts[i%3], r)
		if i%97 == 0 {
			tie := r
			tie.id += 1 << 40
			tie.px += 0.5
			parts[3] = append(parts[3], tie)
		}
	}
	slices.Reverse(parts[1])
	for i, p := range parts {
		tbl := tradesTable(mem, p)
		_, err := w.Ingest(context.Background(), TradesTable, tableSource("part", tbl))
		tbl.Release()
		if err != nil {
			t.Fatalf("ingest part %d: %v", i, err)
		}
	}
	return slices.Concat(parts...)
}

// streamRows ranges over a streamed read and returns its rows.
func streamRows(t *testing.T, w *Warehouse, req SourceRequest, opts StreamOptions) ([]trade, error) {
	t.Helper()
	s, err := w.StreamSource(context.Background(), req, opts)
	if err != nil {
		return nil, err
	}
	var out []trade
	for rec, err := range s.Batches {
		if err != nil {
			return out, err
		}
		if !rec.Schema().Equal(s.Schema) {
			t.Fatalf("batch schema %s, stream schema %s", rec.Schema(), s.Schema)
		}
		if opts.BatchRows > 0 && rec.NumRows() > int64(opts.BatchRows) {
			t.Fatalf("batch of %d rows, more than %d", rec.NumRows(), opts.BatchRows)
		}
		tbl := array.NewTableFromRecords(rec.Schema(), []arrow.RecordBatch{rec})
		out = append(out, rowsOf(t, tbl)...)
		tbl.Release()
	}
	return out, nil
}

func TestStreamSourceEqualsReadSource(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	w := openTemp(t, mem)
	overlappingTrades(t, w, mem)

	start, end := day0.Add(20*time.Hour), day0.Add(50*time.Hour)
	cases := []struct {
		name       string
		symbols    []string
		start, end time.Time
		lb         ir.Lookback
		gap        time.Duration
	}{
		{"one symbol no warmup", []string{"ETHUSDT"}, start, end, ir.Lookback{}, 0},
		{"two symbols rows", []string{"XRPUSDT", "BTCUSDT"}, start, end, ir.Lookback{Rows: 300}, 0},
		{"duration over a day boundary", []string{"SOLUSDT"}, start, end, ir.Lookback{Dur: int64(6 * time.Hour)}, 0},
		{"all symbols rows+duration", nil, start, end, ir.Lookback{Rows: 10, Dur: int64(time.Hour)}, 0},
		{"rows past the first day", []string{"BTCUSDT"}, start, end, ir.Lookback{Rows: 100000}, 0},
		{"from the beginning", nil, time.Time{}, end, ir.Lookback{Rows: 5}, 0},
		{"to the end", []string{"ETHUSDT"}, start, time.Time{}, ir.Lookback{Rows: 5}, 0},
		{"a symbol without data", []string{"DOGEUSDT", "ETHUSDT"}, start, end, ir.Lookback{Rows: 5}, 0},
		{"nothing in range", nil, day0.Add(-48 * time.Hour), day0.Add(-24 * time.Hour), ir.Lookback{Rows: 5}, 0},
		{"warmup gap bound", []string{"BTCUSDT"}, start, end, ir.Lookback{Rows: 100000}, 5 * time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := SourceRequest{Symbols: c.symbols, Start: c.start, End: c.end, Columns: []string{"trade_price"}, Lookback: c.lb, MaxWarmupGap: c.gap}
			data, err := w.ReadSource(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			want := rowsOf(t, data.Table)
			data.Release()
			got, err := streamRows(t, w, req, StreamOptions{BatchRows: 777})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("streamed %d rows, read %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("row %d: streamed %+v, read %+v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestStreamSourceBufferLimit(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	w := openTemp(t, mem)
	overlappingTrades(t, w, mem)
	req := SourceRequest{Symbols: []string{"BTCUSDT"}, Start: day0, End: day0.Add(72 * time.Hour), Columns: []string{"trade_price"}}
	// A day of one symbol is ~1000 rows of 4 columns: ~30 KB decoded.
	if _, err := streamRows(t, w, req, StreamOptions{MaxBufferBytes: 1 << 20}); err != nil {
		t.Fatalf("under the limit: %v", err)
	}
	_, err := streamRows(t, w, req, StreamOptions{MaxBufferBytes: 4 << 10})
	var be *BufferLimitError
	if !errors.As(err, &be) || be.Symbol != "BTCUSDT" || be.Files < 2 || be.Limit != 4<<10 {
		t.Fatalf("err = %v, want a BufferLimitError for BTCUSDT's overlapping files", err)
	}
}

// A consumer that stops early, or a cancelled context, ends the read
// ahead: nothing leaks, no goroutine stays.
func TestStreamSourceStopsEarly(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	w := openTemp(t, mem)
	overlappingTrades(t, w, mem)
	before := runtime.NumGoroutine()
	req := SourceRequest{Start: day0, End: day0.Add(72 * time.Hour), Lookback: ir.Lookback{Rows: 3}}

	s, err := w.StreamSource(context.Background(), req, StreamOptions{BatchRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range s.Batches {
		if err != nil {
			t.Fatal(err)
		}
		break
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err = w.StreamSource(ctx, req, StreamOptions{BatchRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var last error
	for _, err := range s.Batches {
		if n++; n == 3 {
			cancel()
		}
		last = err
	}
	if !errors.Is(last, context.Canceled) {
		t.Fatalf("after cancel: last error %v, want context.Canceled", last)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines after the reads, %d before", g, before)
	}
}
