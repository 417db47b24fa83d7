package catalog

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/ir"
)

var testSpecs = []ir.Spec{
	{Name: "ret_1", Formula: "log(close) - log(lag(close, 1))"},
	{Name: "vol_20", Formula: "rolling_std(log(close) - log(lag(close, 1)), 20)"},
	{Name: "mean_5m", Formula: "rolling_mean(close, '5m')"},
	{Name: "broken", Formula: "rolling_mean(close)"},
}

// computeNarrow reads the source for the window with warmup, computes the
// specs and returns the narrow batches and the scope of the write.
func computeNarrow(t *testing.T, w *Warehouse, mem memory.Allocator, symbols []string, start, end time.Time) (*compute.Result, []FeatureInfo, FeatureScope) {
	t.Helper()
	ctx := context.Background()
	cols := []string{"symbol", "venue", "event_time", "trade_price", "trade_size", "side", "trade_id"}
	plan := ir.Compile(testSpecs, ir.Options{SourceColumns: cols})
	data, err := w.ReadSource(ctx, SourceRequest{Symbols: symbols, Start: start, End: end,
		Columns: plan.SourceColumns(), Lookback: plan.MaxLookback()})
	if err != nil {
		t.Fatal(err)
	}
	defer data.Release()
	if data.WarmupRows == 0 {
		t.Fatal("no warmup rows read")
	}
	res, err := compute.ComputeFeatures(ctx, testSpecs, []compute.Frame{{Name: TradesTable, Table: data.Table}}, compute.Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	feats := FeatureInfos(plan, res.Statuses)
	scope := FeatureScope{Symbols: symbols, Start: start, End: end}
	for _, f := range feats {
		scope.Features = append(scope.Features, FeatureKey{f.Name, f.Version})
	}
	return res, feats, scope
}

// writeFeaturesTwice computes and writes ft_features for symbols over
// [start, end) twice: the first write must read back as computed
// (checkNarrow), the second must replace it, not duplicate it. It returns
// the rows stored.
func writeFeaturesTwice(t *testing.T, w *Warehouse, mem memory.Allocator, symbols []string, start, end time.Time) int64 {
	t.Helper()
	ctx := context.Background()
	var rows int64
	for run := range 2 {
		res, feats, scope := computeNarrow(t, w, mem, symbols, start, end)
		st, err := w.WriteFeatures(ctx, scope, WideToNarrow(res.Table, feats, NarrowOptions{Start: start, End: end, Symbols: symbols, Mem: mem}))
		if err != nil {
			res.Release()
			t.Fatal(err)
		}
		stored, err := w.ReadFeatures(ctx, nil, symbols, time.Time{}, time.Time{})
		if err != nil {
			res.Release()
			t.Fatal(err)
		}
		if run == 0 {
			rows = stored.NumRows()
			checkNarrow(t, res.Table, stored, start, end)
		}
		if stored.NumRows() != st.Rows || stored.NumRows() != rows || rows == 0 {
			t.Errorf("run %d: %d rows stored, %d committed, %d after the first run (a re-run replaces, not duplicates)", run, stored.NumRows(), st.Rows, rows)
		}
		stored.Release()
		res.Release()
	}
	return rows
}

func TestFeaturesWriteReplaceRead(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	w := openTemp(t, mem)
	gen := demodata.Generate(demodata.Config{Rows: 8000, Seed: 3, MeanGap: 20 * time.Second}, mem)
	defer gen.Release()
	if _, err := w.Ingest(ctx, TradesTable, tableSource("demo", gen)); err != nil {
		t.Fatal(err)
	}
	symbols := []string{"BTCUSDT", "ETHUSDT"}
	start, end := day0.Add(20*time.Hour), day0.Add(30*time.Hour)

	firstRows := writeFeaturesTwice(t, w, mem, symbols, start, end)

	// a filtered read prunes to one feature
	one, err := w.ReadFeatures(ctx, []string{"ret_1"}, []string{"ETHUSDT"}, start, end)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Release()
	if one.NumRows() == 0 || one.NumRows() >= firstRows/3 {
		t.Errorf("ret_1 for ETHUSDT: %d rows of %d", one.NumRows(), firstRows)
	}
}

// checkNarrow compares the stored narrow rows with the wide output inside
// [start, end): every (feature, symbol, time) value, and one error row per
// symbol for the broken feature.
func checkNarrow(t *testing.T, wide, narrow arrow.Table, start, end time.Time) {
	t.Helper()
	type key struct {
		feat, sym string
		ts        int64
		n         int // occurrence, for ties
	}
	want := map[key]float64{}
	seen := map[key]int{}
	wr := array.NewTableReader(wide, 0)
	defer wr.Release()
	for wr.Next() {
		rec := wr.RecordBatch()
		ts := rec.Column(0).(*array.Timestamp)
		sym := rec.Column(1).(*array.String)
		for c := 2; c < int(rec.NumCols()); c++ {
			name := rec.Schema().Field(c).Name
			v := rec.Column(c).(*array.Float64)
			for i := 0; i < v.Len(); i++ {
				tt := int64(ts.Value(i))
				if tt < start.UnixMicro() || tt >= end.UnixMicro() {
					continue
				}
				k := key{name, sym.Value(i), tt, 0}
				k.n = seen[k]
				seen[key{name, sym.Value(i), tt, 0}]++
				val := math.Inf(-2) // null marker
				if v.IsValid(i) {
					val = v.Value(i)
				}
				want[k] = val
			}
		}
	}
	got := map[key]float64{}
	seen = map[key]int{}
	errRows := 0
	nr := array.NewTableReader(narrow, 0)
	defer nr.Release()
	for nr.Next() {
		rec := nr.RecordBatch()
		col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
		sym, feat, ts := col("symbol").(*array.String), col("feature_name").(*array.String), col(ColTimestamp).(*array.Timestamp)
		val, status := col("feature_value_numeric").(*array.Float64), col("status").(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			if status.Value(i) == StatusError {
				errRows++
				if feat.Value(i) != "broken" {
					t.Errorf("error row for %s", feat.Value(i))
				}
				continue
			}
			k := key{feat.Value(i), sym.Value(i), int64(ts.Value(i)), 0}
			k.n = seen[k]
			seen[key{feat.Value(i), sym.Value(i), int64(ts.Value(i)), 0}]++
			v := math.Inf(-2)
			if val.IsValid(i) {
				v = val.Value(i)
			}
			got[k] = v
		}
	}
	if errRows != 2 {
		t.Errorf("%d error rows, want one per symbol (2)", errRows)
	}
	if len(got) != len(want) {
		t.Fatalf("%d narrow values, want %d", len(got), len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || !(g == v || (math.IsNaN(g) && math.IsNaN(v))) {
			t.Fatalf("%+v: got %v (present %v), want %v", k, g, ok, v)
		}
	}
}
