// Package process is the process stage of the pipeline (ingest -> process
// -> feature): bar tables computed from the warehouse's trades.
package process

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/featuredag/fdag/bars"
	"github.com/featuredag/fdag/batch"
	"github.com/featuredag/fdag/catalog"
)

// BarsRequest asks for the bars of Specs for Symbols over [Start, End),
// which must be UTC midnights: bars reset at each UTC day (package bars),
// so a run covers whole days and re-running one day gives the same rows.
type BarsRequest struct {
	Specs      []bars.Spec
	Symbols    []string
	Start, End time.Time
	Source     string           // default catalog.TradesTable
	Mem        memory.Allocator // nil: memory.DefaultAllocator
	Log        *slog.Logger     // nil: slog.Default()
}

// BarsTable is what a run wrote to one bar table.
type BarsTable struct {
	Table      string `json:"table"`
	Kind       string `json:"kind"`
	Bars       int64  `json:"bars"`
	Files      int    `json:"files"`
	SnapshotID int64  `json:"snapshot_id"`
}

// BarsSummary is a run's outcome.
type BarsSummary struct {
	Shards   int         `json:"shards"`
	Trades   int64       `json:"trades"`
	Tables   []BarsTable `json:"tables"`
	Warnings []string    `json:"warnings,omitempty"`
}

// RunBars computes the bars shard by shard (batch.Split: one shard per
// symbol and UTC day; the bars of a day depend on that day's trades only)
// with one fused pass per shard over its trades, stages every kind's
// files, and then commits each bar table in one transaction that replaces
// the run's symbols and range. A failing shard fails the run before any
// commit and its files are removed. Iceberg commits one table at a time:
// when a later table's commit fails the earlier tables keep the new bars
// (the error names which committed); re-running the request is safe.
func RunBars(ctx context.Context, wh *catalog.Warehouse, req BarsRequest) (BarsSummary, error) {
	var sum BarsSummary
	if len(req.Specs) == 0 {
		return sum, requestErrorf("bars: no bar kinds requested")
	}
	if len(req.Symbols) == 0 {
		return sum, requestErrorf("bars: no symbols given")
	}
	for _, t := range []time.Time{req.Start, req.End} {
		if !t.Equal(t.UTC().Truncate(24 * time.Hour)) {
			return sum, requestErrorf("bars: %s is not a UTC midnight: bars reset at each UTC day, so a run covers whole days", t.Format(time.RFC3339Nano))
		}
	}
	shards, err := batch.Split(req.Symbols, req.Start, req.End, batch.DefaultShard)
	if err != nil {
		return sum, requestErrorf("bars: %w", err)
	}
	if req.Mem == nil {
		req.Mem = memory.DefaultAllocator
	}
	if req.Log == nil {
		req.Log = slog.Default()
	}
	if req.Source == "" {
		req.Source = catalog.TradesTable
	}
	// The source is checked before any bar table is created, so that a run
	// over missing trades leaves the warehouse as it was.
	if _, err := wh.LoadTable(ctx, req.Source); err != nil {
		return sum, fmt.Errorf("bars: %w", err)
	}
	tables := make([]*table.Table, len(req.Specs))
	for i, s := range req.Specs {
		if tables[i], err = wh.TableFor(ctx, s.Table(), catalog.BarTable); err != nil {
			return sum, err
		}
	}
	staged := make([][]iceberg.DataFile, len(req.Specs))
	counts := make([]int64, len(req.Specs))
	discard := func() {
		for i, files := range staged {
			wh.RemoveStaged(context.WithoutCancel(ctx), tables[i], files)
		}
	}
	for _, sh := range shards {
		recs, n, err := barsOfShard(ctx, wh, req, sh)
		if err != nil {
			discard()
			return sum, fmt.Errorf("bars: shard %s: %w", sh, err)
		}
		sum.Trades += n
		for i, rec := range recs {
			counts[i] += rec.NumRows()
			if rec.NumRows() == 0 {
				rec.Release()
				continue
			}
			files, err := wh.StageRecords(ctx, tables[i], func(yield func(arrow.RecordBatch, error) bool) { yield(rec, nil) })
			if err != nil {
				for _, r := range recs[i+1:] {
					r.Release()
				}
				discard()
				return sum, fmt.Errorf("bars: shard %s: %s: %w", sh, req.Specs[i].Table(), err)
			}
			staged[i] = append(staged[i], files...)
		}
	}
	sum.Shards = len(shards)
	if sum.Trades == 0 {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("no trades in %s for %v in [%s, %s): the bar tables' range is emptied",
			req.Source, req.Symbols, req.Start.Format(time.RFC3339), req.End.Format(time.RFC3339)))
	}
	scope := catalog.BarScope(req.Symbols, req.Start, req.End)
	for i, s := range req.Specs {
		snap, err := wh.CommitReplace(ctx, tables[i], scope, staged[i], iceberg.Properties{
			"fdag.operation": "bars", bars.MetaKind: s.Kind.String(), bars.MetaSpec: s.String(),
		})
		if err != nil {
			for j := i + 1; j < len(staged); j++ {
				wh.RemoveStaged(context.WithoutCancel(ctx), tables[j], staged[j])
			}
			var done []string
			for _, t := range sum.Tables {
				done = append(done, t.Table)
			}
			return sum, fmt.Errorf("bars: commit %s: %w (committed before it: %v)", s.Table(), err, done)
		}
		sum.Tables = append(sum.Tables, BarsTable{Table: s.Table(), Kind: s.String(), Bars: counts[i], Files: len(staged[i]), SnapshotID: snap})
	}
	req.Log.Info("bars committed", "shards", sum.Shards, "trades", sum.Trades, "tables", len(sum.Tables))
	return sum, nil
}

// barsOfShard reads one (symbol, day) of trades in time order and returns
// every kind's bars of it.
func barsOfShard(ctx context.Context, wh *catalog.Warehouse, req BarsRequest, sh batch.Shard) ([]arrow.RecordBatch, int64, error) {
	cols := bars.DefaultColumns
	src, err := wh.ReadSource(ctx, catalog.SourceRequest{Table: req.Source, Symbols: []string{sh.Symbol}, Start: sh.Start, End: sh.End,
		Columns: []string{cols.Time, cols.Price, cols.Size, cols.Side}})
	if err != nil {
		return nil, 0, err
	}
	defer src.Release()
	e, err := bars.New(req.Mem, sh.Symbol, req.Specs, cols)
	if err != nil {
		return nil, 0, err
	}
	tr := array.NewTableReader(src.Table, 1<<16)
	defer tr.Release()
	for tr.Next() {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		if err := e.Push(tr.RecordBatch()); err != nil {
			return nil, 0, err
		}
	}
	if err := tr.Err(); err != nil {
		return nil, 0, err
	}
	e.Finish(sh.End)
	out := make([]arrow.RecordBatch, len(req.Specs))
	for i := range out {
		out[i] = e.Take(i)
	}
	return out, src.Table.NumRows(), nil
}

// RequestError is a run refused for its request (bad times, parameters or
// source), before anything was read or written: the caller's to fix.
type RequestError struct{ Err error }

func (e *RequestError) Error() string { return e.Err.Error() }
func (e *RequestError) Unwrap() error { return e.Err }

func requestErrorf(format string, args ...any) error {
	return &RequestError{Err: fmt.Errorf(format, args...)}
}
