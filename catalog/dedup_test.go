package catalog

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/internal/demodata"
)

// countTrades is the number of rows of cdm_trade_enriched and of distinct
// (symbol, trade_id) among them.
func countTrades(t *testing.T, w *Warehouse) (rows, keys int) {
	t.Helper()
	tbl, err := w.ReadTable(context.Background(), TradesTable, TableQuery{Columns: []string{ColSymbol, ColTradeID}})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	seen := map[string]bool{}
	tr := array.NewTableReader(tbl, 0)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		sym, ids := rec.Column(0).(*array.String), rec.Column(1).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			key := sym.Value(i) + "/"
			if ids.IsNull(i) {
				key += "null" + time.Duration(len(seen)).String() // every null its own key
			} else {
				key += time.Duration(ids.Value(i)).String()
			}
			seen[key] = true
		}
	}
	return int(tbl.NumRows()), len(seen)
}

func ingestTrades(t *testing.T, w *Warehouse, mem memory.Allocator, rows []trade) IngestStats {
	t.Helper()
	tbl := tradesTable(mem, rows)
	defer tbl.Release()
	st, err := w.Ingest(context.Background(), TradesTable, tableSource("test", tbl))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// The ingest rule (dedup.go): a (symbol, trade_id) lands once, whether it
// comes again in a later ingest, twice in one, or in an overlapping dump;
// the same id of another symbol is another trade.
func TestIngestSkipsKnownTrades(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	w := openTemp(t, mem)
	day1 := day0.Add(24 * time.Hour)
	first := []trade{{"X", day0, 1, 1}, {"X", day0.Add(time.Second), 2, 2}, {"X", day1, 3, 3}, {"Y", day0, 9, 1}}
	for _, c := range []struct {
		name             string
		rows             []trade
		wantRows, wantDu int64
	}{
		{"first", first, 4, 0},
		{"the same again", first, 0, 4},
		{"overlap: two known, two new, one new twice", []trade{{"X", day1, 3, 3}, {"Y", day0, 9, 1}, {"X", day1, 4, 4}, {"Y", day1, 8, 2}, {"Y", day1, 8, 2}}, 2, 3},
		{"same id, other symbol", []trade{{"Z", day0, 1, 1}}, 1, 0},
	} {
		st := ingestTrades(t, w, mem, c.rows)
		if st.Rows != c.wantRows || st.Duplicates != c.wantDu {
			t.Errorf("%s: rows %d duplicates %d, want %d and %d", c.name, st.Rows, st.Duplicates, c.wantRows, c.wantDu)
		}
	}
	if rows, keys := countTrades(t, w); rows != 7 || keys != 7 {
		t.Errorf("table holds %d rows with %d keys, want 7 and 7", rows, keys)
	}
}

// Rows without a trade_id have no key: appended every time, counted apart.
func TestIngestRowsWithoutTradeID(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	w := openTemp(t, mem)
	b := array.NewRecordBuilder(mem, demodata.Schema)
	for i := range 3 {
		b.Field(0).(*array.StringBuilder).Append("N")
		b.Field(1).(*array.StringBuilder).Append("x")
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(day0.UnixMicro()))
		b.Field(3).(*array.Float64Builder).Append(1)
		b.Field(4).(*array.Float64Builder).Append(1)
		b.Field(5).(*array.StringBuilder).Append("buy")
		if i == 2 {
			b.Field(6).(*array.Int64Builder).Append(7)
		} else {
			b.Field(6).(*array.Int64Builder).AppendNull()
		}
	}
	rec := b.NewRecordBatch()
	b.Release()
	tbl := array.NewTableFromRecords(demodata.Schema, []arrow.RecordBatch{rec})
	rec.Release()
	defer tbl.Release()
	for round, want := range []IngestStats{{Rows: 3, WithoutKey: 2}, {Rows: 2, WithoutKey: 2, Duplicates: 1}} {
		st, err := w.Ingest(context.Background(), TradesTable, tableSource("nulls", tbl))
		if err != nil {
			t.Fatal(err)
		}
		if st.Rows != want.Rows || st.WithoutKey != want.WithoutKey || st.Duplicates != want.Duplicates {
			t.Errorf("round %d: %+v, want rows %d without key %d duplicates %d", round, st, want.Rows, want.WithoutKey, want.Duplicates)
		}
	}
	if rows, _ := countTrades(t, w); rows != 5 {
		t.Errorf("%d rows, want 5", rows)
	}
}

// A writer that commits the same trades while an ingest is under way makes
// that ingest fail at its commit, with nothing written.
func TestIngestRecheckRefusesConcurrentSameTrades(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	w := openTemp(t, mem)
	ingestTrades(t, w, mem, []trade{{"X", day0, 1, 1}})
	base, err := w.LoadTable(ctx, TradesTable)
	if err != nil {
		t.Fatal(err)
	}
	d := newDedup(w, TradesTable, base, KnownTables[TradesTable])
	mine := tradesTable(mem, []trade{{"X", day0, 1, 1}, {"X", day0, 2, 2}})
	defer mine.Release()
	tr := array.NewTableReader(mine, 0)
	defer tr.Release()
	tr.Next()
	kept, err := d.filter(ctx, tr.RecordBatch(), mem)
	if err != nil {
		t.Fatal(err)
	}
	if kept.NumRows() != 1 || d.duplicates != 1 {
		t.Fatalf("kept %d rows, %d duplicates; want 1 and 1", kept.NumRows(), d.duplicates)
	}
	kept.Release()
	// another writer: an unrelated trade first (no clash), then trade 2
	ingestTrades(t, w, mem, []trade{{"X", day0, 5, 5}})
	cur, _ := w.LoadTable(ctx, TradesTable)
	if err := d.recheck(ctx, cur); err != nil {
		t.Fatalf("an unrelated concurrent commit: %v", err)
	}
	ingestTrades(t, w, mem, []trade{{"X", day0, 2, 2}})
	cur, _ = w.LoadTable(ctx, TradesTable)
	err = d.recheck(ctx, cur)
	if !errors.Is(err, ErrConcurrentIngest) {
		t.Fatalf("recheck after the same trade was committed: %v, want ErrConcurrentIngest", err)
	}
	t.Log(err)
}

// Writers in separate processes ingesting the same file at once: every
// trade lands exactly once; a writer either commits (the new rows, or none
// when another was first) or fails with ErrConcurrentIngest.
func TestConcurrentIngestsOfTheSameTrades(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	open, _ := writers(t, t.TempDir(), mem)
	var rows []trade
	for i := range 500 {
		rows = append(rows, trade{"S", day0.Add(time.Duration(i) * time.Second), float64(i), int64(i)})
	}
	seed := tradesTable(mem, rows[:1])
	if _, err := open().Ingest(ctx, TradesTable, tableSource("seed", seed)); err != nil {
		t.Fatal(err)
	}
	seed.Release()
	tbl := tradesTable(mem, rows)
	defer tbl.Release()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		w := open()
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = w.Ingest(ctx, TradesTable, tableSource("same", tbl))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, ErrConcurrentIngest) {
			t.Errorf("unexpected error: %v", err)
		}
	}
	if got, keys := countTrades(t, open()); got != 500 || keys != 500 {
		t.Errorf("%d rows, %d keys; want 500 and 500 (errors: %v)", got, keys, errs)
	}
}
