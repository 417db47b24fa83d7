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

	"github.com/featuredag/fdag/batch"
	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/labels"
)

// storedLabel is one cdm_labels row as the tests compare it.
type storedLabel struct {
	time, t1   int64
	seq        int32
	ret, label float64
	tvalue     float64
	barrier    int32 // -9: null
}

func readLabels(t *testing.T, wh *catalog.Warehouse, spec, sym string, mem memory.Allocator) []storedLabel {
	t.Helper()
	tbl, err := wh.ReadTable(context.Background(), catalog.LabelsTable, catalog.TableQuery{Symbols: []string{sym},
		Equal: map[string][]string{"label_spec": {spec}}})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	rec := combine(t, tbl, mem)
	defer rec.Release()
	col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
	tm, t1, seq := col("event_time").(*array.Timestamp), col("t1").(*array.Timestamp), col("seq").(*array.Int32)
	ret, lab, tv, bar := col("ret").(*array.Float64), col("label").(*array.Float64), col("t_value").(*array.Float64), col("barrier").(*array.Int32)
	out := make([]storedLabel, rec.NumRows())
	f := func(a *array.Float64, i int) float64 {
		if a.IsNull(i) {
			return math.NaN()
		}
		return a.Value(i)
	}
	for i := range out {
		out[i] = storedLabel{time: int64(tm.Value(i)), seq: seq.Value(i), ret: f(ret, i), label: f(lab, i), tvalue: f(tv, i), barrier: -9}
		if t1.IsValid(i) {
			out[i].t1 = int64(t1.Value(i))
		}
		if bar.IsValid(i) {
			out[i].barrier = bar.Value(i)
		}
	}
	return out
}

// combine is the table as one record (the tables here are small).
func combine(t *testing.T, tbl arrow.Table, mem memory.Allocator) arrow.RecordBatch {
	t.Helper()
	cols := make([]arrow.Array, tbl.NumCols())
	for i := range cols {
		c, err := array.Concatenate(tbl.Column(i).Data().Chunks(), mem)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		cols[i] = c
	}
	return array.NewRecordBatch(tbl.Schema(), cols, tbl.NumRows())
}

// wholeSeries is a symbol's events over the whole table, as the library
// takes them.
func wholeSeries(t *testing.T, wh *catalog.Warehouse, source, sym string) labels.Events {
	t.Helper()
	src, err := wh.LoadTable(context.Background(), source)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := eventColumnsOf(src, source)
	if err != nil {
		t.Fatal(err)
	}
	w := &labelWriter{req: LabelsRequest{Source: source, Mem: memory.DefaultAllocator}, ec: ec, wh: wh}
	se, err := w.read(context.Background(), shardAll(sym))
	if err != nil {
		t.Fatal(err)
	}
	return se.ev
}

func same(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

var allMethods = "fixed_horizon:h=10:threshold=0.0005,triple_barrier:pt=2:sl=1:vol=50:horizon=30m,meta:pt=1:sl=1:vol=20:horizon=1h," +
	"trend_scan:window=25:min=5:step=2,excess_median:bucket=5m:h=2,tail_sets:bucket=5m:h=1:q=0.25"

// TestRunLabels: a three-day run of every method over the demo trades
// stores, event for event, what the library gives over each symbol's whole
// series (dense trades: no label needs more than a day past its own), so
// the day shards meet without seams: events before midnight are labelled
// with the next day's prices. A re-run replaces the rows; a run of the
// middle day alone reproduces that day.
func TestRunLabels(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	wh, err := catalog.Open(ctx, t.TempDir(), catalog.Config{}, catalog.Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	ingestDemo(t, wh, mem)
	specs, err := labels.ParseSpecs(allMethods)
	if err != nil {
		t.Fatal(err)
	}
	syms := []string{"BTCUSDT", "ETHUSDT"}
	req := LabelsRequest{Specs: specs, Symbols: syms, Start: day0, End: day0.Add(72 * time.Hour), Mem: mem}
	var first map[string][]storedLabel
	for run := range 2 {
		sum, err := RunLabels(ctx, wh, req)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Shards != 6 || sum.Events != 30_000 || len(sum.Specs) != len(specs) || len(sum.Warnings) != 0 {
			t.Fatalf("run %d: summary %+v", run, sum)
		}
		stored := map[string][]storedLabel{}
		for _, s := range specs {
			for _, sym := range syms {
				stored[s.String()+sym] = readLabels(t, wh, s.String(), sym, mem)
			}
		}
		if run == 0 {
			first = stored
			continue
		}
		for k, v := range stored {
			if len(v) != len(first[k]) {
				t.Fatalf("re-run %s: %d rows, first run %d", k, len(v), len(first[k]))
			}
		}
	}
	evs := []labels.Events{wholeSeries(t, wh, catalog.TradesTable, syms[0]), wholeSeries(t, wh, catalog.TradesTable, syms[1])}
	for _, s := range specs {
		var want [][]labels.Outcome
		if s.Cross() {
			if want, err = s.ApplyCross(evs); err != nil {
				t.Fatal(err)
			}
		} else {
			for _, ev := range evs {
				o, err := s.Apply(ev)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, o)
			}
		}
		for si, sym := range syms {
			got := first[s.String()+sym]
			if len(got) != len(want[si]) || len(got) == 0 {
				t.Fatalf("%s %s: %d rows stored, %d events", s, sym, len(got), len(want[si]))
			}
			labelled, ties := 0, 0
			for i, o := range want[si] {
				g := got[i]
				ok := g.time == evs[si].Time[o.Row] && same(g.label, o.Label)
				if !math.IsNaN(o.Label) {
					labelled++
					ok = ok && g.t1 == o.T1 && same(g.ret, o.Ret) && same(g.tvalue, o.TValue) && (!o.HasBarrier || g.barrier == int32(o.Barrier))
				}
				if !ok {
					t.Fatalf("%s %s event %d: stored %+v, library over the whole series %+v", s, sym, i, g, o)
				}
				if g.seq > 0 && !s.Cross() { // cross sections keep a bucket's last event only
					ties++
					if got[i-1].time != g.time || got[i-1].seq != g.seq-1 {
						t.Fatalf("%s %s event %d: seq %d after %+v", s, sym, i, g.seq, got[i-1])
					}
				}
			}
			if labelled < len(got)/2 {
				t.Errorf("%s %s: only %d of %d events labelled", s, sym, labelled, len(got))
			}
			if !s.Cross() && ties == 0 {
				t.Errorf("%s %s: no tied timestamps in the demo trades", s, sym)
			}
		}
	}
	// The middle day alone: the same rows as in the three-day run.
	mid := req
	mid.Start, mid.End = day0.Add(24*time.Hour), day0.Add(48*time.Hour)
	if _, err := RunLabels(ctx, wh, mid); err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		for _, sym := range syms {
			got := readLabels(t, wh, s.String(), sym, mem)
			want := first[s.String()+sym]
			if len(got) != len(want) {
				t.Fatalf("after re-running day 2: %s %s has %d rows, was %d", s, sym, len(got), len(want))
			}
			for i := range got {
				if got[i].time != want[i].time || !same(got[i].label, want[i].label) || !same(got[i].ret, want[i].ret) {
					t.Fatalf("after re-running day 2: %s %s row %d: %+v, was %+v", s, sym, i, got[i], want[i])
				}
			}
		}
	}
}

// TestRunLabelsEdges: hand-made trades with a tie of three at one
// microsecond, a day without trades and a day with a single trade.
func TestRunLabelsEdges(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	wh, err := catalog.Open(ctx, t.TempDir(), catalog.Config{}, catalog.Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	at := func(d, sec int) time.Time {
		return day0.Add(time.Duration(d)*24*time.Hour + time.Duration(sec)*time.Second)
	}
	ingestTrades(t, wh, mem, []trade{
		{at(0, 10), 100, "buy"}, {at(0, 20), 101, "sell"}, {at(0, 20), 102, "buy"}, {at(0, 20), 99, "buy"}, {at(0, 86390), 103, "sell"},
		// day 1: none; day 2: one trade
		{at(2, 3600), 110, "buy"},
	})
	specs, err := labels.ParseSpecs("fixed_horizon:h=1,trend_scan:window=4:min=3")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := RunLabels(ctx, wh, LabelsRequest{Specs: specs, Symbols: []string{"X"}, Start: day0, End: day0.Add(72 * time.Hour), Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events != 6 || sum.Shards != 3 {
		t.Fatalf("summary %+v", sum)
	}
	got := readLabels(t, wh, specs[0].String(), "X", mem)
	if len(got) != 6 {
		t.Fatalf("%d rows: %+v", len(got), got)
	}
	wantSeq := []int32{0, 0, 1, 2, 0, 0}
	wantLabel := []float64{1, 1, -1, 1, math.NaN(), math.NaN()}
	for i, g := range got {
		if g.seq != wantSeq[i] || !same(g.label, wantLabel[i]) {
			t.Errorf("row %d: %+v, want seq %d label %v", i, g, wantSeq[i], wantLabel[i])
		}
	}
	// The last trade of day 0 sees the future to the end of day 1 (the
	// lookahead): day 1 is empty, so it has no label though day 2 trades;
	// the single trade of day 2 has no future at all.
	if !math.IsNaN(got[4].label) || !math.IsNaN(got[5].label) {
		t.Errorf("labels past the lookahead or the data: %+v", got[4:])
	}
	// With a two-day lookahead the last trade of day 0 reaches day 2.
	_, err = RunLabels(ctx, wh, LabelsRequest{Specs: specs[:1], Symbols: []string{"X"}, Start: day0, End: day0.Add(24 * time.Hour), Lookahead: 48 * time.Hour, Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	got = readLabels(t, wh, specs[0].String(), "X", mem)
	if got[4].label != 1 || got[4].t1 != at(2, 3600).UnixMicro() {
		t.Errorf("two-day lookahead: %+v", got[4])
	}
	if trend := readLabels(t, wh, specs[1].String(), "X", mem); len(trend) != 6 || !math.IsNaN(trend[5].label) {
		t.Errorf("trend scan: %+v", trend)
	}
}

type trade struct {
	t     time.Time
	price float64
	side  string
}

func ingestTrades(t *testing.T, wh *catalog.Warehouse, mem memory.Allocator, trades []trade) {
	t.Helper()
	b := array.NewRecordBuilder(mem, catalog.TradeArrowSchema)
	defer b.Release()
	for i, tr := range trades {
		b.Field(0).(*array.StringBuilder).Append("X")
		b.Field(1).(*array.StringBuilder).Append("test")
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(tr.t.UnixMicro()))
		b.Field(3).(*array.Float64Builder).Append(tr.price)
		b.Field(4).(*array.Float64Builder).Append(1)
		b.Field(5).(*array.StringBuilder).Append(tr.side)
		b.Field(6).(*array.Int64Builder).Append(int64(i + 1))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	rdr, err := array.NewRecordReader(catalog.TradeArrowSchema, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	if _, err := wh.Ingest(context.Background(), catalog.TradesTable, catalog.ReaderSource("test", rdr)); err != nil {
		t.Fatal(err)
	}
}

func TestRunLabelsErrors(t *testing.T) {
	ctx := context.Background()
	wh, err := catalog.Open(ctx, t.TempDir(), catalog.Config{}, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	specs, _ := labels.ParseSpecs("triple_barrier:horizon=2d")
	for _, c := range []struct {
		req  LabelsRequest
		want string
	}{
		{LabelsRequest{Specs: specs, Symbols: []string{"X"}, Start: day0.Add(time.Hour), End: day0.Add(48 * time.Hour)}, "is not a UTC midnight"},
		{LabelsRequest{Specs: specs, Symbols: []string{"X"}, Start: day0, End: day0.Add(24 * time.Hour)}, "more than the lookahead 24h0m0s"},
		{LabelsRequest{Specs: specs, Symbols: []string{"X"}, Start: day0, End: day0.Add(24 * time.Hour), Lookahead: 72 * time.Hour}, "cdm_trade_enriched"},
		{LabelsRequest{Specs: specs, Symbols: []string{"X"}, Start: day0, End: day0.Add(24 * time.Hour), Source: catalog.LabelsTable, Lookahead: 72 * time.Hour}, "not cdm_labels"},
		{LabelsRequest{Symbols: []string{"X"}, Start: day0, End: day0.Add(24 * time.Hour)}, "no label methods"},
	} {
		_, err := RunLabels(ctx, wh, c.req)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.req, err, c.want)
		}
		if c.want == "cdm_trade_enriched" && !errors.Is(err, catalog.ErrNoTable) {
			t.Errorf("no trades: %v is not ErrNoTable", err)
		}
	}
}

// shardAll is a shard over all of a symbol's rows.
func shardAll(sym string) batch.Shard {
	return batch.Shard{Symbol: sym, Start: time.Unix(0, 0).UTC(), End: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}
}
