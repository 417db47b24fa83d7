package process

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/featuredag/fdag/batch"
	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/ir"
	"github.com/featuredag/fdag/labels"
)

// DefaultLookahead is how far past the end of its UTC day an event's label
// may look (LabelsRequest.Lookahead).
const DefaultLookahead = 24 * time.Hour

// LabelsRequest asks for the labels of Specs over the events of Source
// (trades, or a bar table's bars) of Symbols with time in [Start, End),
// which must be UTC midnights.
//
// What an event sees: the history its rolling volatility needs, however far
// back, and the future up to the end of its UTC day plus Lookahead. The
// rule depends on the event's day only, so a run sharded by day gives the
// same labels as any other split, and re-running a day reproduces it. A
// label whose future is not within that reach (the data ends, or a row
// count is not reached) is null. Lookahead must cover every time horizon
// (triple barrier's vertical barrier, h cross-section buckets).
type LabelsRequest struct {
	Specs      []labels.Spec
	Symbols    []string
	Start, End time.Time
	Source     string        // default catalog.TradesTable
	Lookahead  time.Duration // default DefaultLookahead
	Mem        memory.Allocator
	Log        *slog.Logger
}

// LabelsSpecSummary is what a run wrote for one spec.
type LabelsSpecSummary struct {
	Spec    string `json:"spec"`
	Events  int64  `json:"events"`  // rows written
	Labeled int64  `json:"labeled"` // rows with a label (not null)
}

// LabelsSummary is a run's outcome.
type LabelsSummary struct {
	Table      string              `json:"table"`
	Source     string              `json:"source"`
	Shards     int                 `json:"shards"`
	Events     int64               `json:"events"` // source rows in [Start, End)
	Specs      []LabelsSpecSummary `json:"specs"`
	Files      int                 `json:"files"`
	SnapshotID int64               `json:"snapshot_id"`
	Warnings   []string            `json:"warnings,omitempty"`
}

// eventColumns says how a source table's rows are events.
type eventColumns struct {
	time, price string
	trades      bool // side from the taker side (trades) or the bar's net flow
	tradeID     bool
}

func eventColumnsOf(tbl *table.Table, name string) (eventColumns, error) {
	sc := tbl.Schema()
	has := func(c string) bool { _, ok := sc.FindFieldByName(c); return ok }
	ec := eventColumns{time: catalog.TimeColumn(tbl), tradeID: has(catalog.ColTradeID)}
	switch {
	case has("trade_price"):
		ec.price, ec.trades = "trade_price", true
	case has("close"):
		ec.price = "close"
	default:
		return ec, requestErrorf("labels: source %s has neither trade_price (trades) nor close (bars)", name)
	}
	return ec, nil
}

func (ec eventColumns) read() []string {
	cols := []string{ec.price}
	if ec.trades {
		cols = append(cols, "side")
	} else {
		cols = append(cols, "buy_volume", "volume")
	}
	return cols
}

// RunLabels labels the events shard by shard (batch.Split: one per symbol
// and UTC day; the cross-sectional methods take a day's shards of every
// symbol together), stages the rows of every spec as cdm_labels data files,
// and when every shard succeeded commits them in one transaction that
// replaces each spec's rows for the run's symbols, days and source: a
// failed run commits nothing and re-running replaces, never duplicates.
func RunLabels(ctx context.Context, wh *catalog.Warehouse, req LabelsRequest) (LabelsSummary, error) {
	sum := LabelsSummary{Table: catalog.LabelsTable, Source: req.Source}
	if req.Source == "" {
		req.Source, sum.Source = catalog.TradesTable, catalog.TradesTable
	}
	if req.Lookahead == 0 {
		req.Lookahead = DefaultLookahead
	}
	if req.Mem == nil {
		req.Mem = memory.DefaultAllocator
	}
	if req.Log == nil {
		req.Log = slog.Default()
	}
	if err := req.validate(); err != nil {
		return sum, err
	}
	shards, err := batch.Split(req.Symbols, req.Start, req.End, batch.DefaultShard)
	if err != nil {
		return sum, requestErrorf("labels: %w", err)
	}
	src, err := wh.LoadTable(ctx, req.Source)
	if err != nil {
		return sum, err
	}
	ec, err := eventColumnsOf(src, req.Source)
	if err != nil {
		return sum, err
	}
	tbl, err := wh.Table(ctx, catalog.LabelsTable)
	if err != nil {
		return sum, err
	}
	schema, err := table.SchemaToArrowSchema(catalog.LabelSchema, nil, false, false)
	if err != nil {
		return sum, err
	}
	w := &labelWriter{req: req, ec: ec, schema: schema, tbl: tbl, wh: wh, processed: time.Now().UTC(),
		counts: make([]LabelsSpecSummary, len(req.Specs))}
	for i, s := range req.Specs {
		w.counts[i].Spec = s.String()
	}
	var staged []iceberg.DataFile
	discard := func() { wh.RemoveStaged(context.WithoutCancel(ctx), tbl, staged) }
	// Shards are symbol-major; cross-sectional specs need every symbol of
	// a day at once, so walk the days and the symbols within them.
	byDay := map[time.Time][]batch.Shard{}
	var days []time.Time
	for _, sh := range shards {
		if _, ok := byDay[sh.Start]; !ok {
			days = append(days, sh.Start)
		}
		byDay[sh.Start] = append(byDay[sh.Start], sh)
	}
	slices.SortFunc(days, func(a, b time.Time) int { return a.Compare(b) })
	for _, day := range days {
		files, n, err := w.day(ctx, byDay[day])
		staged = append(staged, files...)
		if err != nil {
			discard()
			return sum, err
		}
		sum.Events += n
	}
	sum.Shards, sum.Specs, sum.Files = len(shards), w.counts, len(staged)
	if sum.Events == 0 {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("no events in %s for %v in [%s, %s): the labels' range is emptied",
			req.Source, req.Symbols, req.Start.Format(time.RFC3339), req.End.Format(time.RFC3339)))
	}
	for i, c := range w.counts {
		if c.Events > 0 && c.Labeled == 0 {
			why := "no event has the future it needs within the lookahead"
			if req.Specs[i].Cross() {
				why = "no bucket has returns of two or more symbols (a cross section needs several symbols with events in the same buckets)"
			}
			sum.Warnings = append(sum.Warnings, fmt.Sprintf("%s labelled none of its %d events: %s", c.Spec, c.Events, why))
		}
	}
	var scope iceberg.BooleanExpression = iceberg.AlwaysFalse{}
	for _, s := range req.Specs {
		scope = iceberg.NewOr(scope, catalog.LabelScope(s.String(), req.Source, req.Symbols, req.Start, req.End))
	}
	specs := make([]string, len(req.Specs))
	for i, s := range req.Specs {
		specs[i] = s.String()
	}
	snap, err := wh.CommitReplace(ctx, tbl, scope, staged, iceberg.Properties{
		"fdag.operation": "labels", "fdag.label_source": req.Source, "fdag.label_specs": fmt.Sprint(specs),
	})
	if err != nil {
		return sum, fmt.Errorf("labels: commit %s: %w", catalog.LabelsTable, err)
	}
	sum.SnapshotID = snap
	req.Log.Info("labels committed", "shards", sum.Shards, "events", sum.Events, "specs", len(req.Specs), "files", sum.Files)
	return sum, nil
}

func (req LabelsRequest) validate() error {
	if len(req.Specs) == 0 {
		return requestErrorf("labels: no label methods requested")
	}
	if len(req.Symbols) == 0 {
		return requestErrorf("labels: no symbols given")
	}
	if req.Source == catalog.LabelsTable {
		return requestErrorf("labels: the events are trades or bars, not %s", catalog.LabelsTable)
	}
	for _, t := range []time.Time{req.Start, req.End} {
		if !t.Equal(t.UTC().Truncate(24 * time.Hour)) {
			return requestErrorf("labels: %s is not a UTC midnight: a run covers whole days (an event's future reaches to its day's end plus the lookahead)", t.Format(time.RFC3339Nano))
		}
	}
	if req.Lookahead < 0 {
		return requestErrorf("labels: lookahead %s is negative", req.Lookahead)
	}
	for _, s := range req.Specs {
		if h := s.Horizon(); h > req.Lookahead {
			return requestErrorf("labels: %s looks %s ahead, more than the lookahead %s: raise the lookahead", s, h, req.Lookahead)
		}
	}
	return nil
}

// labelWriter turns a day of events into staged cdm_labels files.
type labelWriter struct {
	req       LabelsRequest
	ec        eventColumns
	schema    *arrow.Schema
	tbl       *table.Table
	wh        *catalog.Warehouse
	processed time.Time
	counts    []LabelsSpecSummary
}

// shardEvents is one shard's slice of a symbol's rows: warmup, the day's
// events [lo, hi) and the future within reach.
type shardEvents struct {
	sym      string
	ev       labels.Events
	tradeIDs []int64 // nil: no trade ids
	lo, hi   int
}

// day labels the shards of one day (one per symbol) and stages the rows.
func (w *labelWriter) day(ctx context.Context, shards []batch.Shard) ([]iceberg.DataFile, int64, error) {
	var all []shardEvents
	var n int64
	for _, sh := range shards {
		se, err := w.read(ctx, sh)
		if err != nil {
			return nil, 0, fmt.Errorf("labels: shard %s: %w", sh, err)
		}
		all = append(all, se)
		n += int64(se.hi - se.lo)
	}
	var files []iceberg.DataFile
	stage := func(si int, spec labels.Spec, se shardEvents, outs []labels.Outcome) error {
		rec := w.record(spec, se, outs)
		w.counts[si].Events += rec.NumRows()
		for _, o := range outs {
			if o.Row >= se.lo && o.Row < se.hi && !math.IsNaN(o.Label) {
				w.counts[si].Labeled++
			}
		}
		if rec.NumRows() == 0 {
			rec.Release()
			return nil
		}
		f, err := w.wh.StageRecords(ctx, w.tbl, func(yield func(arrow.RecordBatch, error) bool) { yield(rec, nil) })
		files = append(files, f...)
		if err != nil {
			return fmt.Errorf("labels: %s %s: %w", se.sym, spec, err)
		}
		return nil
	}
	for si, spec := range w.req.Specs {
		if err := ctx.Err(); err != nil {
			return files, 0, err
		}
		if spec.Cross() {
			evs := make([]labels.Events, len(all))
			for i, se := range all {
				evs[i] = se.ev
			}
			outs, err := spec.ApplyCross(evs)
			if err != nil {
				return files, 0, fmt.Errorf("labels: %s: %w", spec, err)
			}
			for i, se := range all {
				if err := stage(si, spec, se, outs[i]); err != nil {
					return files, 0, err
				}
			}
			continue
		}
		for _, se := range all {
			outs, err := spec.Apply(se.ev)
			if err != nil {
				return files, 0, fmt.Errorf("labels: %s %s: %w", se.sym, spec, err)
			}
			if err := stage(si, spec, se, outs); err != nil {
				return files, 0, err
			}
		}
	}
	return files, n, nil
}

// read reads a shard's symbol from the volatility's warmup before the day
// to the end of the day plus the lookahead.
func (w *labelWriter) read(ctx context.Context, sh batch.Shard) (shardEvents, error) {
	se := shardEvents{sym: sh.Symbol}
	warm := 0
	for _, s := range w.req.Specs {
		warm = max(warm, s.VolWindow())
	}
	cols := w.ec.read()
	if w.ec.tradeID {
		cols = append(cols, catalog.ColTradeID)
	}
	data, err := w.wh.ReadSource(ctx, catalog.SourceRequest{Table: w.req.Source, Symbols: []string{sh.Symbol},
		Start: sh.Start, End: sh.End.Add(w.req.Lookahead), Columns: cols, Lookback: ir.Lookback{Rows: warm}})
	if err != nil {
		return se, err
	}
	defer data.Release()
	t := data.Table
	n := int(t.NumRows())
	se.ev = labels.Events{Time: make([]int64, n), Price: make([]float64, n), Side: make([]float64, n)}
	col := func(name string) *arrow.Chunked { return t.Column(t.Schema().FieldIndices(name)[0]).Data() }
	eachRow(col(w.ec.time), func(i int, a arrow.Array, j int) {
		se.ev.Time[i] = int64(a.(*array.Timestamp).Value(j))
	})
	eachRow(col(w.ec.price), func(i int, a arrow.Array, j int) {
		se.ev.Price[i] = math.NaN()
		if a.IsValid(j) {
			se.ev.Price[i] = a.(*array.Float64).Value(j)
		}
	})
	if w.ec.trades {
		eachRow(col("side"), func(i int, a arrow.Array, j int) {
			se.ev.Side[i] = math.NaN()
			if a.IsValid(j) {
				switch a.(*array.String).Value(j) {
				case "buy":
					se.ev.Side[i] = 1
				case "sell":
					se.ev.Side[i] = -1
				}
			}
		})
	} else {
		buy := make([]float64, n)
		eachRow(col("buy_volume"), func(i int, a arrow.Array, j int) { buy[i] = a.(*array.Float64).Value(j) })
		eachRow(col("volume"), func(i int, a arrow.Array, j int) {
			se.ev.Side[i] = 2*buy[i] - a.(*array.Float64).Value(j) // the bar's net taker flow
		})
	}
	if w.ec.tradeID {
		se.tradeIDs = make([]int64, n)
		eachRow(col(catalog.ColTradeID), func(i int, a arrow.Array, j int) { se.tradeIDs[i] = a.(*array.Int64).Value(j) })
	}
	startUS, endUS := sh.Start.UnixMicro(), sh.End.UnixMicro()
	se.lo, _ = slices.BinarySearch(se.ev.Time, startUS)
	se.hi, _ = slices.BinarySearch(se.ev.Time, endUS)
	return se, nil
}

// eachRow calls f(row, chunk, index in chunk) for every row of c.
func eachRow(c *arrow.Chunked, f func(i int, a arrow.Array, j int)) {
	i := 0
	for _, a := range c.Chunks() {
		for j := range a.Len() {
			f(i, a, j)
			i++
		}
	}
}

// record is the cdm_labels rows of one spec for the events [lo, hi) of a
// shard (outcomes outside it are the warmup's or the future's).
func (w *labelWriter) record(spec labels.Spec, se shardEvents, outs []labels.Outcome) arrow.RecordBatch {
	b := array.NewRecordBuilder(w.req.Mem, w.schema)
	defer b.Release()
	fs := b.Fields()
	sym, tm, seq := fs[0].(*array.StringBuilder), fs[1].(*array.TimestampBuilder), fs[2].(*array.Int32Builder)
	meth, specB, srcB := fs[3].(*array.StringBuilder), fs[4].(*array.StringBuilder), fs[5].(*array.StringBuilder)
	t1, ret, lab := fs[6].(*array.TimestampBuilder), fs[7].(*array.Float64Builder), fs[8].(*array.Float64Builder)
	bar, tv, tid, proc := fs[9].(*array.Int32Builder), fs[10].(*array.Float64Builder), fs[11].(*array.Int64Builder), fs[12].(*array.TimestampBuilder)
	name := spec.String()
	for _, o := range outs {
		if o.Row < se.lo || o.Row >= se.hi {
			continue
		}
		t := se.ev.Time[o.Row]
		// seq numbers the events of one timestamp; a tie group never
		// straddles the day's edge, so counting from lo is exact.
		s := 0
		for k := o.Row - 1; k >= se.lo && se.ev.Time[k] == t; k-- {
			s++
		}
		sym.Append(se.sym)
		tm.Append(arrow.Timestamp(t))
		seq.Append(int32(s))
		meth.Append(spec.Method)
		specB.Append(name)
		srcB.Append(w.req.Source)
		if math.IsNaN(o.Label) {
			t1.AppendNull()
			ret.AppendNull()
			lab.AppendNull()
		} else {
			t1.Append(arrow.Timestamp(o.T1))
			ret.Append(o.Ret)
			lab.Append(o.Label)
		}
		if o.HasBarrier && !math.IsNaN(o.Label) {
			bar.Append(int32(o.Barrier))
		} else {
			bar.AppendNull()
		}
		if math.IsNaN(o.TValue) {
			tv.AppendNull()
		} else {
			tv.Append(o.TValue)
		}
		if se.tradeIDs != nil {
			tid.Append(se.tradeIDs[o.Row])
		} else {
			tid.AppendNull()
		}
		proc.Append(arrow.Timestamp(w.processed.UnixMicro()))
	}
	return b.NewRecordBatch()
}
