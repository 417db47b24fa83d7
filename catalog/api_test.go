package catalog

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/ir"
)

// TestWorkersAndCoordinator stages files in two "workers", ships them as
// bytes, and commits them from a coordinator in one snapshot; then streams
// them back with ScanTable and drops warmup rows with DropWarmup.
func TestWorkersAndCoordinator(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	w := openTemp(t, mem)
	gen := demodata.Generate(demodata.Config{Rows: 6000, Seed: 9, MeanGap: 20 * time.Second}, mem)
	defer gen.Release()
	if _, err := w.Ingest(ctx, TradesTable, tableSource("demo", gen)); err != nil {
		t.Fatal(err)
	}
	start, end := day0.Add(10*time.Hour), day0.Add(20*time.Hour)
	var encoded [][]byte
	var want int64
	scope := FeatureScope{Start: start, End: end}
	for _, sym := range []string{"BTCUSDT", "XRPUSDT"} { // one worker per symbol
		res, feats, sc := computeNarrow(t, w, mem, []string{sym}, start, end)
		scope.Features = sc.Features
		scope.Symbols = append(scope.Symbols, sym)
		staged, err := w.StageFeatures(ctx, WideToNarrow(res.Table, feats, NarrowOptions{Start: start, End: end, Symbols: []string{sym}, Mem: mem}))
		res.Release()
		if err != nil {
			t.Fatal(err)
		}
		enc, err := w.EncodeStaged(ctx, staged)
		if err != nil {
			t.Fatal(err)
		}
		encoded = append(encoded, enc...)
		want += staged.Rows
	}
	staged, err := w.DecodeStaged(ctx, encoded)
	if err != nil {
		t.Fatal(err)
	}
	tbl, _ := w.LoadTable(ctx, FeaturesTable)
	before := len(tbl.Metadata().Snapshots())
	st, err := w.CommitFeatures(ctx, scope, staged)
	if err != nil {
		t.Fatal(err)
	}
	tbl, _ = w.LoadTable(ctx, FeaturesTable)
	// a delete of nothing adds no snapshot; the append adds one
	if n := len(tbl.Metadata().Snapshots()) - before; n < 1 || n > 2 {
		t.Errorf("%d snapshots added by one commit", n)
	}
	if st.Rows != want {
		t.Fatalf("committed %d rows, staged %d", st.Rows, want)
	}
	schema, seq, err := w.ScanTable(ctx, FeaturesTable, TableQuery{Equal: map[string][]string{"status": {StatusSuccess}}}, StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if schema.NumFields() != len(FeatureSchema.Fields()) {
		t.Errorf("schema has %d fields", schema.NumFields())
	}
	var got int64
	for rec, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		got += rec.NumRows()
	}
	if got != want-int64(2) { // minus one error row per symbol for "broken"
		t.Errorf("streamed %d success rows, want %d", got, want-2)
	}

	data, err := w.ReadSource(ctx, SourceRequest{Symbols: []string{"BTCUSDT"}, Start: start, End: end, Lookback: ir.Lookback{Rows: 7}})
	if err != nil {
		t.Fatal(err)
	}
	defer data.Release()
	kept, err := DropWarmup(data.Table, data.Warmup)
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Release()
	if data.WarmupRows != 7 || kept.NumRows() != data.Table.NumRows()-7 {
		t.Fatalf("DropWarmup kept %d of %d rows (%d warmup)", kept.NumRows(), data.Table.NumRows(), data.WarmupRows)
	}
	for _, r := range rowsOf(t, kept) {
		if r.t.Before(start) {
			t.Fatalf("warmup row at %v kept", r.t)
		}
	}
}
