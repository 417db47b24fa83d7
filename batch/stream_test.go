package batch

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/internal/demodata"
)

// wholeCompute is the computation as it was before streaming, kept as the
// reference: the whole source read (catalog.ReadSource), computed in one
// go, the warmup dropped after.
func wholeCompute(t *testing.T, ctx context.Context, wh *catalog.Warehouse, req Request) (arrow.Table, *arrow.Chunked) {
	t.Helper()
	plan, _, err := req.Plan(ctx, wh)
	if err != nil {
		t.Fatal(err)
	}
	data, err := wh.ReadSource(ctx, catalog.SourceRequest{Symbols: req.Symbols, Start: req.Start, End: req.End,
		Columns: plan.SourceColumns(), Lookback: plan.MaxLookback()})
	if err != nil {
		t.Fatal(err)
	}
	defer data.Release()
	res, err := compute.ComputePlan(ctx, plan, []compute.Frame{{Name: "trades", Table: data.Table}}, req.options(data.TimeColumn))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	kept, err := catalog.DropWarmup(res.Table, data.Warmup)
	if err != nil {
		t.Fatal(err)
	}
	col := data.Table.Column(data.Table.Schema().FieldIndices(catalog.ColTradeID)[0])
	ids := array.NewTable(arrow.NewSchema([]arrow.Field{col.Field()}, nil), []arrow.Column{*col}, data.Table.NumRows())
	defer ids.Release()
	keptIDs, err := catalog.DropWarmup(ids, data.Warmup)
	if err != nil {
		t.Fatal(err)
	}
	defer keptIDs.Release()
	c := keptIDs.Column(0).Data()
	c.Retain()
	return kept, c
}

// sameBits fails unless two tables hold the same columns and values, bit
// for bit (floats compared by their bits, nulls by position).
func sameBits(t *testing.T, what string, got, want arrow.Table) {
	t.Helper()
	if !got.Schema().Equal(want.Schema()) {
		t.Fatalf("%s: schema\n%s\nwant\n%s", what, got.Schema(), want.Schema())
	}
	if got.NumRows() != want.NumRows() {
		t.Fatalf("%s: %d rows, want %d", what, got.NumRows(), want.NumRows())
	}
	for i := range int(got.NumCols()) {
		sameColumn(t, what+" "+got.Schema().Field(i).Name, got.Column(i).Data(), want.Column(i).Data())
	}
}

func sameColumn(t *testing.T, what string, got, want *arrow.Chunked) {
	t.Helper()
	if got.Len() != want.Len() {
		t.Fatalf("%s: %d rows, want %d", what, got.Len(), want.Len())
	}
	if got.Len() == 0 {
		return
	}
	g, err := array.Concatenate(got.Chunks(), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Release()
	w, err := array.Concatenate(want.Chunks(), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Release()
	if f, ok := g.(*array.Float64); ok {
		wf := w.(*array.Float64)
		for r := range f.Len() {
			if f.IsNull(r) != wf.IsNull(r) || (f.IsValid(r) && math.Float64bits(f.Value(r)) != math.Float64bits(wf.Value(r))) {
				t.Fatalf("%s row %d: %v (null %v), want %v (null %v)", what, r, f.Value(r), f.IsNull(r), wf.Value(r), wf.IsNull(r))
			}
		}
		return
	}
	if !array.Equal(g, w) {
		t.Fatalf("%s differs", what)
	}
}

// TestStreamedEqualsWhole: Compute and a fetch's batches, streamed through
// the computation from files that overlap in time (two appends per day),
// give the bits of the whole read computed in one go.
func TestStreamedEqualsWhole(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	wh, err := catalog.Open(ctx, t.TempDir(), catalog.Config{}, catalog.Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	ingestDemo(t, wh, mem)
	rdr := demodata.NewReader(demodata.Config{Rows: 7_000, Seed: 8, Symbols: []string{"BTCUSDT", "ETHUSDT"}, MeanGap: 30 * time.Second, Start: day0.Add(time.Hour), BatchRows: 999}, mem)
	_, err = wh.Ingest(ctx, catalog.TradesTable, catalog.ReaderSource("more", rdr))
	rdr.Release()
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name    string
		symbols []string
		start   time.Time
		end     time.Time
	}{
		{"one symbol, warmup over a day", []string{"ETHUSDT"}, day0.Add(31 * time.Hour), day0.Add(48 * time.Hour)},
		{"every symbol, three days", nil, day0.Add(2 * time.Hour), day0.Add(80 * time.Hour)},
		{"no rows", []string{"BTCUSDT"}, day0.Add(-48 * time.Hour), day0.Add(-47 * time.Hour)},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := Request{Specs: shardSpecs, Symbols: c.symbols, Start: c.start, End: c.end, Mem: mem}
			want, wantIDs := wholeCompute(t, ctx, wh, req)
			defer want.Release()
			defer wantIDs.Release()

			got, err := Compute(ctx, wh, req)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Release()
			sameBits(t, "Compute", got.Table, want)
			sameColumn(t, "Compute trade ids", got.TradeIDs, wantIDs)
			if got.SourceRows != want.NumRows() {
				t.Errorf("SourceRows %d, want %d", got.SourceRows, want.NumRows())
			}

			// Small batches: warmup and output cut across batch boundaries.
			plan, _, err := req.Plan(ctx, wh)
			if err != nil {
				t.Fatal(err)
			}
			f, err := OpenPlanned(ctx, wh, req, plan, catalog.StreamOptions{BatchRows: 333})
			if err != nil {
				t.Fatal(err)
			}
			var recs []arrow.RecordBatch
			for b, err := range f.Batches(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				if b.Rec.NumRows() > 333 || b.TradeIDs.Len() != int(b.Rec.NumRows()) {
					t.Fatalf("batch of %d rows with %d trade ids", b.Rec.NumRows(), b.TradeIDs.Len())
				}
				b.Rec.Retain()
				recs = append(recs, b.Rec)
			}
			streamed := array.NewTableFromRecords(f.Schema, recs)
			for _, r := range recs {
				r.Release()
			}
			defer streamed.Release()
			// The fetch's schema keeps the failed feature's status and no
			// column for it, as the whole computation's does.
			sameBits(t, "batches", streamed, want)
			if f.SourceRows != want.NumRows() || f.SourceRows+f.WarmupRows == 0 && c.name != "no rows" {
				t.Errorf("fetch counted %d rows (+%d warmup), want %d", f.SourceRows, f.WarmupRows, want.NumRows())
			}
		})
	}
}
