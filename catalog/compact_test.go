package catalog

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
)

// smallIngests ingests rounds x symbols x days trades, one ingest per
// round, so that every (symbol, day) partition holds rounds files.
func smallIngests(t *testing.T, w *Warehouse, mem memory.Allocator, rounds int, symbols []string, days int) {
	t.Helper()
	for r := range rounds {
		var rows []trade
		for _, s := range symbols {
			for d := range days {
				for i := range 50 {
					at := day0.Add(time.Duration(d)*24*time.Hour + time.Duration(r*50+i)*time.Second)
					rows = append(rows, trade{s, at, 100 + float64(r) + float64(i)/100, int64(d*100000 + r*50 + i)})
				}
			}
		}
		ingestTrades(t, w, mem, rows)
	}
}

// readAllTrades is the table's rows in ReadTable's order.
func readAllTrades(t *testing.T, w *Warehouse) arrow.Table {
	t.Helper()
	tbl, err := w.ReadTable(context.Background(), TradesTable, TableQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func countLiveFiles(t *testing.T, w *Warehouse) int {
	t.Helper()
	tbl, err := w.LoadTable(context.Background(), TradesTable)
	if err != nil {
		t.Fatal(err)
	}
	live, err := liveDataFiles(context.Background(), tbl)
	if err != nil {
		t.Fatal(err)
	}
	return len(live)
}

func TestCompactRewritesSmallFilesKeepingRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	w := openTemp(t, mem)
	smallIngests(t, w, mem, 6, []string{"A", "B"}, 2)
	before := readAllTrades(t, w)
	defer before.Release()
	if n := countLiveFiles(t, w); n != 24 {
		t.Fatalf("%d files before, want 24 (6 per partition)", n)
	}

	// a dry run and a filtered run first
	rep, err := w.Compact(ctx, TradesTable, CompactOptions{DryRun: true})
	if err != nil || rep.Partitions != 4 || rep.FilesBefore != 24 || countLiveFiles(t, w) != 24 {
		t.Fatalf("dry run: %+v, %v; files now %d", rep, err, countLiveFiles(t, w))
	}
	rep, err = w.Compact(ctx, TradesTable, CompactOptions{Query: TableQuery{Symbols: []string{"A"}, Start: day0, End: day0.Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Partitions != 1 || rep.FilesBefore != 6 || rep.FilesAfter != 1 || rep.Rows != 300 || rep.TableFilesAfter != 19 {
		t.Fatalf("filtered to A on day 0: %+v", rep)
	}
	rep, err = w.Compact(ctx, TradesTable, CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Partitions != 3 || rep.FilesBefore != 18 || rep.FilesAfter != 3 || rep.TableFilesAfter != 4 || rep.Rows != 900 {
		t.Fatalf("the rest: %+v", rep)
	}
	after := readAllTrades(t, w)
	defer after.Release()
	if !array.TableEqual(before, after) {
		t.Fatal("the rows changed")
	}
	tbl, _ := w.LoadTable(ctx, TradesTable)
	if op := tbl.CurrentSnapshot().Summary.Operation; op != "replace" {
		t.Errorf("snapshot operation %q, want replace (same rows, other files)", op)
	}
	if rep, err = w.Compact(ctx, TradesTable, CompactOptions{}); err != nil || rep.Partitions != 0 {
		t.Errorf("again: %+v, %v; want nothing to do", rep, err)
	}
}

// Writers committing between the rewrite and its commit: an append to a
// partition being compacted stays beside the compacted file; a partition
// whose files another writer replaced is left to it. No row is lost or
// doubled.
func TestCompactWithConcurrentWriters(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	dir := t.TempDir()
	open, _ := writers(t, dir, mem)
	w, other := open(), open()
	smallIngests(t, w, mem, 3, []string{"A", "B"}, 1)
	var replacement []trade
	for i := range 7 {
		replacement = append(replacement, trade{"B", day0.Add(time.Duration(i) * time.Minute), 1, int64(900000 + i)})
	}
	beforeCompactCommit = func() {
		beforeCompactCommit = nil
		// append to A's partition
		ingestTrades(t, other, mem, []trade{{"A", day0.Add(time.Hour), 5, 777777}})
		// replace every row of B on day 0
		tbl, err := other.LoadTable(ctx, TradesTable)
		if err != nil {
			t.Fatal(err)
		}
		src := tradesTable(mem, replacement)
		defer src.Release()
		files, err := other.StageRecords(ctx, tbl, tableSource("replace", src).Batches)
		if err != nil {
			t.Fatal(err)
		}
		del := iceberg.EqualTo(iceberg.Reference(ColSymbol), "B")
		if _, err := other.CommitReplace(ctx, tbl, del, files, nil); err != nil {
			t.Fatal(err)
		}
	}
	defer func() { beforeCompactCommit = nil }()
	rep, err := w.Compact(ctx, TradesTable, CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Attempts < 2 || rep.Partitions != 1 || len(rep.Changed) != 1 {
		t.Fatalf("%+v: want a retry, A compacted and B changed", rep)
	}
	t.Logf("%+v", rep)
	got := readAllTrades(t, w)
	defer got.Release()
	ids := map[string]int{}
	sym := got.Column(got.Schema().FieldIndices(ColSymbol)[0]).Data().Chunk(0).(*array.String)
	for i := 0; i < sym.Len(); i++ {
		ids[sym.Value(i)]++
	}
	if fmt.Sprint(ids) != "map[A:151 B:7]" {
		t.Errorf("rows per symbol %v, want A: 150 + 1 appended, B: the 7 of the replacement", ids)
	}
	if n := countLiveFiles(t, w); n != 3 {
		t.Errorf("%d live files, want 3 (A compacted + A appended + B's replacement)", n)
	}
}
