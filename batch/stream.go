package batch

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
)

// Fetch is a request computed batch by batch as its source is read
// (catalog.Warehouse.StreamSource): the warmup rows feed the windows and
// are dropped as they pass, so memory holds a few batches, one group of
// source files and the windows' state, not the request's rows; the first
// batch is out before the last source row is read. Batches yields the same
// rows and bits as Compute.
type Fetch struct {
	// Schema is the schema of every output batch: time, symbol and one
	// float64 column per feature that can run (statuses in the metadata,
	// as known before the data).
	Schema *arrow.Schema
	// SourceRows and WarmupRows count the source rows read so far: in
	// [Start, End), and before Start for the windows.
	SourceRows, WarmupRows int64
	// Timing has the time spent waiting for the source (Read) and
	// computing and dropping the warmup (Compute) so far.
	Timing Timing

	req     Request
	cs      *compute.Stream
	src     *catalog.SourceStream
	timeIdx int
	idIdx   int // trade_id column of the source, -1 when none
}

// FetchBatch is one output batch and the source trade_id of each of its
// rows (nil when the source has none), valid until the next is requested.
type FetchBatch struct {
	Rec      arrow.RecordBatch
	TradeIDs arrow.Array
}

// OpenPlanned opens req for streaming with the plan req.Plan compiled.
// Nothing is read until Batches is ranged over.
func OpenPlanned(ctx context.Context, wh *catalog.Warehouse, req Request, plan *ir.Plan, opts catalog.StreamOptions) (*Fetch, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if len(plan.Failed()) == len(plan.Features) {
		return nil, &compute.NoFeaturesError{Statuses: planStatuses(plan)}
	}
	src, err := wh.StreamSource(ctx, catalog.SourceRequest{
		Table: req.source(), Symbols: req.Symbols, Start: req.Start, End: req.End,
		Columns: plan.SourceColumns(), Lookback: plan.MaxLookback(), MaxWarmupGap: req.MaxWarmupGap,
	}, opts)
	if err != nil {
		return nil, err
	}
	cs, err := compute.NewStreamPlan(plan, src.Schema, req.options(src.TimeColumn))
	if err != nil {
		return nil, fmt.Errorf("computing over %s: %w", req.source(), err)
	}
	f := &Fetch{Schema: cs.Schema(), req: req, cs: cs, src: src, idIdx: -1,
		timeIdx: src.Schema.FieldIndices(src.TimeColumn)[0]}
	if idx := src.Schema.FieldIndices(catalog.ColTradeID); len(idx) > 0 && src.Schema.Field(idx[0]).Type.ID() == arrow.INT64 {
		f.idIdx = idx[0]
	}
	return f, nil
}

// StateBytes is the memory the fetch's kernel state holds now (window
// rings, deques, lag lines: compute.Stream.StateBytes), for a server to
// bound it.
func (f *Fetch) StateBytes() int64 { return f.cs.StateBytes() }

// Statuses is the status of every requested feature so far: a feature
// whose kernel fails in a later batch turns to error and is null from
// then on (compute.Stream).
func (f *Fetch) Statuses() []compute.FeatureStatus { return f.cs.Statuses() }

// Batches computes the source batch by batch and yields the output rows
// in [Start, End), ordered by symbol, time and trade id. It may be ranged
// over once.
func (f *Fetch) Batches(ctx context.Context) iter.Seq2[FetchBatch, error] {
	return func(yield func(FetchBatch, error) bool) {
		var startUS int64
		hasStart := !f.req.Start.IsZero()
		if hasStart {
			startUS = f.req.Start.UnixMicro()
		}
		mark := time.Now()
		for rec, err := range f.src.Batches {
			now := time.Now()
			f.Timing.Read += now.Sub(mark).Seconds()
			mark = now
			if err != nil {
				yield(FetchBatch{}, err)
				return
			}
			out, err := f.cs.Process(ctx, rec)
			if err != nil {
				yield(FetchBatch{}, fmt.Errorf("computing over %s: %w", f.req.source(), err))
				return
			}
			var runs [][2]int64
			if hasStart {
				runs = keptRuns(rec.Column(f.timeIdx).(*array.Timestamp), startUS)
			} else {
				runs = [][2]int64{{0, rec.NumRows()}}
			}
			kept := int64(0)
			for _, r := range runs {
				kept += r[1] - r[0]
			}
			f.SourceRows += kept
			f.WarmupRows += rec.NumRows() - kept
			ok := f.yieldRuns(out, rec, runs, yield, &mark)
			out.Release()
			if !ok {
				return
			}
			f.Timing.Compute += time.Since(mark).Seconds()
			mark = time.Now()
		}
	}
}

// yieldRuns yields the rows of out (and the trade ids of rec) in each run,
// the time spent in yield not counted as compute.
func (f *Fetch) yieldRuns(out, rec arrow.RecordBatch, runs [][2]int64, yield func(FetchBatch, error) bool, mark *time.Time) bool {
	for _, r := range runs {
		if r[0] == r[1] {
			continue
		}
		b := FetchBatch{Rec: out}
		if r[0] != 0 || r[1] != out.NumRows() {
			b.Rec = out.NewSlice(r[0], r[1])
			defer b.Rec.Release()
		}
		if f.idIdx >= 0 {
			b.TradeIDs = array.NewSlice(rec.Column(f.idIdx), r[0], r[1])
			defer b.TradeIDs.Release()
		}
		f.Timing.Compute += time.Since(*mark).Seconds()
		ok := yield(b, nil)
		*mark = time.Now()
		if !ok {
			return false
		}
	}
	return true
}

// keptRuns are the [from, to) row ranges of a batch whose time is at or
// after start (null times are kept: the computation refuses them).
// Warmup rows come first in each symbol's rows, so there are few runs.
func keptRuns(ts *array.Timestamp, start int64) [][2]int64 {
	var runs [][2]int64
	n := int64(ts.Len())
	for i := int64(0); i < n; {
		if ts.IsValid(int(i)) && int64(ts.Value(int(i))) < start {
			i++
			continue
		}
		j := i
		for j < n && !(ts.IsValid(int(j)) && int64(ts.Value(int(j))) < start) {
			j++
		}
		runs = append(runs, [2]int64{i, j})
		i = j
	}
	return runs
}

// collect gathers a fetch's batches into Compute's result: the features
// that failed on the data dropped, as a one-shot computation drops them,
// and the final statuses in the schema.
func (f *Fetch) collect(ctx context.Context) (*Result, error) {
	var recs []arrow.RecordBatch
	var ids []arrow.Array
	defer func() {
		for _, r := range recs {
			r.Release()
		}
		for _, a := range ids {
			a.Release()
		}
	}()
	for b, err := range f.Batches(ctx) {
		if err != nil {
			return nil, err
		}
		b.Rec.Retain()
		recs = append(recs, b.Rec)
		if b.TradeIDs != nil {
			b.TradeIDs.Retain()
			ids = append(ids, b.TradeIDs)
		}
	}
	sts := f.Statuses()
	failed := map[string]bool{}
	for _, st := range sts {
		if st.Status != compute.StatusSuccess {
			failed[st.Name] = true
		}
	}
	meta, err := json.Marshal(sts)
	if err != nil {
		return nil, err
	}
	md := arrow.NewMetadata([]string{compute.MetadataKey}, []string{string(meta)})
	var fields []arrow.Field
	var keep []int
	for i, fl := range f.Schema.Fields() {
		if !failed[fl.Name] { // features are never named like the time or symbol column
			fields = append(fields, fl)
			keep = append(keep, i)
		}
	}
	schema := arrow.NewSchema(fields, &md)
	chunks := make([][]arrow.Array, len(keep))
	for _, r := range recs {
		for k, i := range keep {
			chunks[k] = append(chunks[k], r.Column(i))
		}
	}
	out := &Result{Result: compute.Result{Table: array.NewTableFromSlice(schema, chunks), Statuses: sts},
		TimeColumn: f.src.TimeColumn, SourceRows: f.SourceRows, WarmupRows: f.WarmupRows}
	if f.idIdx >= 0 {
		out.TradeIDs = arrow.NewChunked(arrow.PrimitiveTypes.Int64, ids)
	}
	return out, nil
}
