package process

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/bars"
	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/internal/demodata"
)

var day0 = time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)

func ingestDemo(t *testing.T, wh *catalog.Warehouse, mem memory.Allocator) {
	t.Helper()
	rdr := demodata.NewReader(demodata.Config{Rows: 30_000, Seed: 7, Symbols: []string{"BTCUSDT", "ETHUSDT"}, MeanGap: 8 * time.Second, Start: day0, BatchRows: 4096}, mem)
	defer rdr.Release()
	if _, err := wh.Ingest(context.Background(), catalog.TradesTable, catalog.ReaderSource("demo", rdr)); err != nil {
		t.Fatal(err)
	}
}

// TestRunBars writes bar tables from the warehouse's trades and checks
// them against one in-memory engine per symbol over all its trades (the
// day-reset rule makes both the same), twice: a re-run replaces, never
// duplicates.
func TestRunBars(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	wh, err := catalog.Open(ctx, t.TempDir(), catalog.Config{}, catalog.Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	ingestDemo(t, wh, mem)
	specs, err := bars.ParseSpecs("tick:500,volume:1000,dollar:8e4,time:1m,tick_imbalance:100:min=50")
	if err != nil {
		t.Fatal(err)
	}
	syms := []string{"BTCUSDT", "ETHUSDT"}
	req := BarsRequest{Specs: specs, Symbols: syms, Start: day0, End: day0.Add(72 * time.Hour), Mem: mem}
	for run := range 2 {
		sum, err := RunBars(ctx, wh, req)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Shards != 6 || sum.Trades != 30_000 || len(sum.Tables) != len(specs) {
			t.Fatalf("run %d: summary %+v", run, sum)
		}
		for i, s := range specs {
			for _, sym := range syms {
				got, err := wh.ReadTable(ctx, s.Table(), catalog.TableQuery{Symbols: []string{sym}})
				if err != nil {
					t.Fatal(err)
				}
				want := inMemory(t, wh, mem, s, sym, req.End)
				if got.NumRows() != want.NumRows() || got.NumRows() == 0 {
					t.Fatalf("run %d %s %s: %d bars in the table, %d in memory", run, s.Table(), sym, got.NumRows(), want.NumRows())
				}
				for c := range want.NumCols() {
					g := got.Column(int(c)).Data().Chunk(0)
					if got.Column(int(c)).Data().Len() != g.Len() {
						g, _ = array.Concatenate(got.Column(int(c)).Data().Chunks(), mem)
						defer g.Release()
					}
					if !array.Equal(g, want.Column(int(c))) && g.String() != want.Column(int(c)).String() {
						t.Fatalf("run %d %s %s: column %s differs", run, s.Table(), sym, want.ColumnName(int(c)))
					}
				}
				got.Release()
				want.Release()
			}
			if sum.Tables[i].Bars == 0 {
				t.Errorf("%s: no bars", s.Table())
			}
		}
	}
	list, err := wh.ListTables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ti := range list {
		names = append(names, ti.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "cdm_bars_time_1m") {
		t.Errorf("tables listed: %v", names)
	}
}

func inMemory(t *testing.T, wh *catalog.Warehouse, mem memory.Allocator, s bars.Spec, sym string, end time.Time) arrow.RecordBatch {
	t.Helper()
	src, err := wh.ReadSource(context.Background(), catalog.SourceRequest{Symbols: []string{sym}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Release()
	e, err := bars.New(mem, sym, []bars.Spec{s}, bars.Columns{})
	if err != nil {
		t.Fatal(err)
	}
	tr := array.NewTableReader(src.Table, 777)
	defer tr.Release()
	for tr.Next() {
		if err := e.Push(tr.RecordBatch()); err != nil {
			t.Fatal(err)
		}
	}
	e.Finish(end)
	return e.Take(0)
}

func TestRunBarsErrors(t *testing.T) {
	ctx := context.Background()
	wh, err := catalog.Open(ctx, t.TempDir(), catalog.Config{}, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	specs, _ := bars.ParseSpecs("tick:5")
	_, err = RunBars(ctx, wh, BarsRequest{Specs: specs, Symbols: []string{"X"}, Start: day0.Add(time.Hour), End: day0.Add(48 * time.Hour)})
	if err == nil || !strings.Contains(err.Error(), "is not a UTC midnight") {
		t.Errorf("mid-day start: %v", err)
	}
	_, err = RunBars(ctx, wh, BarsRequest{Specs: specs, Symbols: []string{"X"}, Start: day0, End: day0.Add(24 * time.Hour)})
	if err == nil || !strings.Contains(err.Error(), "cdm_trade_enriched") {
		t.Errorf("no trade table: %v", err)
	}
}
