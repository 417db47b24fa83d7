package process

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

	"github.com/featuredag/fdag/bars"
	"github.com/featuredag/fdag/batch"
	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
)

// overBars are features over a bar table: the bar columns by name (close,
// volume, vwap are columns there, not aliases of trade columns), windows
// in rows and in time (bar_end is the time column).
var overBars = []ir.Spec{
	{Name: "ret_1", Formula: "log(close) - log(lag(close, 1))"},
	{Name: "range", Formula: "(high - low) / open"},
	{Name: "vwap_gap", Formula: "close / vwap - 1"},
	{Name: "vol_30", Formula: "rolling_std(diff(log(close)), 30)"},
	{Name: "volume_1h", Formula: "rolling_sum(volume, '1h')"},
	{Name: "buy_share", Formula: "rolling_sum(buy_volume, 20) / rolling_sum(volume, 20)"},
}

// TestFeaturesOverBars: a batch run over cdm_bars_time_1m, sharded by 12
// hours (so every shard but the first warms up from the bars before it),
// stores exactly the values computed in one go over the whole bar table
// read as a plain table with bar_end as its time column.
func TestFeaturesOverBars(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	wh, err := catalog.Open(ctx, t.TempDir(), catalog.Config{}, catalog.Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	ingestDemo(t, wh, mem)
	specs, err := bars.ParseSpecs("time:1m")
	if err != nil {
		t.Fatal(err)
	}
	syms := []string{"BTCUSDT", "ETHUSDT"}
	end := day0.Add(72 * time.Hour)
	if _, err := RunBars(ctx, wh, BarsRequest{Specs: specs, Symbols: syms, Start: day0, End: end, Mem: mem}); err != nil {
		t.Fatal(err)
	}
	src := specs[0].Table()
	sum, err := batch.Run(ctx, wh, batch.RunRequest{
		Request:     batch.Request{Specs: overBars, Symbols: syms, Start: day0, End: end, Source: src, Mem: mem},
		ShardLength: 12 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Totals.FeaturesFailed != 0 || sum.Totals.ShardsOK != 12 {
		t.Fatalf("summary %+v %+v", sum.Totals, sum.Features)
	}
	for _, sym := range syms {
		whole, err := wh.ReadTable(ctx, src, catalog.TableQuery{Symbols: []string{sym}})
		if err != nil {
			t.Fatal(err)
		}
		want, err := compute.ComputeFeatures(ctx, overBars, []compute.Frame{{Name: src, Table: whole}}, compute.Options{TimeColumn: catalog.ColBarEnd, Mem: mem})
		whole.Release()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range overBars {
			stored, err := wh.ReadFeatures(ctx, []string{f.Name}, []string{sym}, time.Time{}, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			got := valuesByTime(t, stored, catalog.ColTimestamp, "feature_value_numeric")
			exp := valuesByTime(t, want.Table, catalog.ColBarEnd, f.Name)
			stored.Release()
			if len(exp) < 1000 || len(got) != len(exp) {
				t.Fatalf("%s %s: %d stored, %d computed over the whole table", sym, f.Name, len(got), len(exp))
			}
			for i := range exp {
				if got[i] != exp[i] && !(math.IsNaN(got[i][1]) && math.IsNaN(exp[i][1])) {
					// Rolling std over a warmed-up shard may differ in
					// the last bits from the whole-history run.
					if f.Name != "vol_30" || math.Abs(got[i][1]-exp[i][1]) > 1e-12*math.Abs(exp[i][1]) {
						t.Fatalf("%s %s row %d: stored %v, whole table %v", sym, f.Name, i, got[i], exp[i])
					}
				}
			}
		}
		want.Release()
	}
}

// valuesByTime lists (time, value) of the non-null values of a column, in
// table order (both tables are in time order; bar times are distinct).
func valuesByTime(t *testing.T, tbl arrow.Table, timeCol, col string) [][2]float64 {
	t.Helper()
	ti, vi := tbl.Schema().FieldIndices(timeCol), tbl.Schema().FieldIndices(col)
	if len(ti) == 0 || len(vi) == 0 {
		t.Fatalf("no column %s or %s in %s", timeCol, col, tbl.Schema())
	}
	var out [][2]float64
	var times []arrow.Timestamp
	for _, c := range tbl.Column(ti[0]).Data().Chunks() {
		times = append(times, c.(*array.Timestamp).TimestampValues()...)
	}
	i := 0
	for _, c := range tbl.Column(vi[0]).Data().Chunks() {
		vc := c.(*array.Float64)
		for j := range vc.Len() {
			if vc.IsValid(j) {
				out = append(out, [2]float64{float64(times[i]), vc.Value(j)})
			}
			i++
		}
	}
	return out
}

// TestLabelsAreNoFeatureSource: every feature path refuses cdm_labels.
func TestLabelsAreNoFeatureSource(t *testing.T) {
	ctx := context.Background()
	wh, err := catalog.Open(ctx, t.TempDir(), catalog.Config{}, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	req := batch.Request{Specs: overBars, Start: day0, End: day0.Add(time.Hour), Source: catalog.LabelsTable}
	_, err = batch.Compute(ctx, wh, req)
	if !errors.Is(err, catalog.ErrLabelsAsSource) || !strings.Contains(err.Error(), "cdm_labels") {
		t.Errorf("Compute: %v", err)
	}
	_, err = batch.Run(ctx, wh, batch.RunRequest{Request: req})
	if !errors.Is(err, catalog.ErrLabelsAsSource) {
		t.Errorf("Run: %v", err)
	}
	_, err = req.OutputSchema(ctx, wh)
	if !errors.Is(err, catalog.ErrLabelsAsSource) {
		t.Errorf("OutputSchema: %v", err)
	}
}
