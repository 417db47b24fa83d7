// Package batch computes features from the warehouse: one request for some
// symbols over a time range [Start, End), with the warmup its features
// need read before Start and dropped from the output, and the split of long
// requests into (symbol, time) shards that run and are fetched
// independently.
package batch

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
)

// Request is the features of Symbols over [Start, End), computed from a
// source table of the warehouse.
type Request struct {
	Specs      []ir.Spec
	Symbols    []string // empty: every symbol of the table
	Start, End time.Time
	Source     string            // default catalog.TradesTable
	Aliases    map[string]string // nil: ir.DefaultAliases
	Registry   *ir.Registry      // nil: the built-in registry
	Mem        memory.Allocator  // nil: memory.DefaultAllocator
	// MaxWarmupGap bounds how far before Start the warmup reads (0: as
	// far back as the windows need); catalog.SourceRequest.MaxWarmupGap.
	MaxWarmupGap time.Duration
}

// Validate checks what can be checked without the warehouse.
func (r Request) Validate() error {
	if len(r.Specs) == 0 {
		return fmt.Errorf("no features requested")
	}
	if r.Start.IsZero() || r.End.IsZero() {
		return fmt.Errorf("start and end are required (the rows to compute are [start, end))")
	}
	if r.MaxWarmupGap < 0 {
		return fmt.Errorf("max_warmup_gap %s is negative", r.MaxWarmupGap)
	}
	if !r.End.After(r.Start) {
		return fmt.Errorf("end %s is not after start %s", r.End.Format(time.RFC3339Nano), r.Start.Format(time.RFC3339Nano))
	}
	return catalog.CheckFeatureSource(r.source())
}

func (r Request) source() string {
	if r.Source == "" {
		return catalog.TradesTable
	}
	return r.Source
}

// Plan compiles the request's features against the source table's columns:
// the plan says which columns to read and how much warmup. It fails only
// when the source table does not exist (catalog.ErrNoTable, wrapped).
func (r Request) Plan(ctx context.Context, wh *catalog.Warehouse) (*ir.Plan, *arrow.Schema, error) {
	plan, schema, _, err := r.plan(ctx, wh)
	return plan, schema, err
}

// plan is Plan that also says which column is the source's time
// (catalog.TimeColumn: event_time for trades, bar_end for bar tables).
func (r Request) plan(ctx context.Context, wh *catalog.Warehouse) (*ir.Plan, *arrow.Schema, string, error) {
	if err := catalog.CheckFeatureSource(r.source()); err != nil {
		return nil, nil, "", err
	}
	tbl, err := wh.LoadTable(ctx, r.source())
	if err != nil {
		return nil, nil, "", err
	}
	schema, err := table.SchemaToArrowSchema(tbl.Schema(), nil, false, false)
	if err != nil {
		return nil, nil, "", fmt.Errorf("table %s: %w", r.source(), err)
	}
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = f.Name
	}
	plan, err := ir.CompileContext(ctx, r.Specs, ir.Options{Registry: r.Registry, Aliases: r.Aliases, SourceColumns: names, BoundedWarmup: true})
	if err != nil {
		return nil, nil, "", err
	}
	return plan, schema, catalog.TimeColumn(tbl), nil
}

// OutputSchema is the schema Compute's result will have (time, symbol and
// one float64 column per feature that can run, statuses in the metadata),
// found without reading data. It fails with compute.NoFeaturesError when no
// feature can run.
func (r Request) OutputSchema(ctx context.Context, wh *catalog.Warehouse) (*arrow.Schema, error) {
	_, schema, timeCol, err := r.plan(ctx, wh)
	if err != nil {
		return nil, err
	}
	s, err := compute.NewStreamContext(ctx, r.Specs, schema, r.options(timeCol))
	if err != nil {
		return nil, err
	}
	return s.Schema(), nil
}

func (r Request) options(timeCol string) compute.Options {
	return compute.Options{
		TimeColumn: timeCol, SymbolColumn: catalog.ColSymbol,
		Aliases: r.Aliases, Registry: r.Registry, Mem: r.Mem,
	}
}

// Compute reads the source rows of the request's symbols in [Start, End)
// plus the warmup before Start that the features' lookback needs (pushdown
// and projection in the catalog), computes the features, and returns the
// rows in [Start, End) only, ordered by symbol, time and trade id. Failed
// features are in the statuses, as compute.ComputeFeatures reports them;
// the error is for the request as a whole (bad request, missing table,
// no feature can run, cancellation). The caller releases the result.
func Compute(ctx context.Context, wh *catalog.Warehouse, req Request) (*Result, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	plan, _, err := req.Plan(ctx, wh)
	if err != nil {
		return nil, err
	}
	return computePlanned(ctx, wh, req, plan, nil)
}

// ComputePlanned is Compute with the plan req.Plan compiled, for a caller
// that bounds compiling apart from reading and computing (the server's
// --max-compile-time).
func ComputePlanned(ctx context.Context, wh *catalog.Warehouse, req Request, plan *ir.Plan) (*Result, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	return computePlanned(ctx, wh, req, plan, nil)
}

// computePlanned is Compute with the plan compiled: the source streamed
// through the computation (OpenPlanned), the warmup dropped as it passes,
// the output gathered, adding the time of each to timing when not nil.
func computePlanned(ctx context.Context, wh *catalog.Warehouse, req Request, plan *ir.Plan, timing *Timing) (*Result, error) {
	f, err := OpenPlanned(ctx, wh, req, plan, catalog.StreamOptions{})
	if err != nil {
		return nil, err
	}
	res, err := f.collect(ctx)
	if timing != nil {
		timing.Read += f.Timing.Read
		timing.Compute += f.Timing.Compute
	}
	return res, err
}

// planStatuses are the statuses of a plan's features before any data.
func planStatuses(plan *ir.Plan) []compute.FeatureStatus {
	out := make([]compute.FeatureStatus, len(plan.Features))
	for i, f := range plan.Features {
		out[i] = compute.FeatureStatus{Name: f.Spec.Name, Status: compute.StatusSuccess}
		if f.Err != nil {
			out[i].Status, out[i].Error = compute.StatusError, f.Err.Error()
		}
	}
	return out
}

// Result is compute's wide result for the rows in [Start, End), and how
// many source rows were read for them.
type Result struct {
	compute.Result
	TimeColumn string // the source's time column, the first column of Table
	SourceRows int64  // rows in [Start, End)
	WarmupRows int64  // rows before Start read for the windows, not output
	// TradeIDs is the source's trade_id of each output row (nil when the
	// source has none), for catalog.NarrowOptions.TradeIDs.
	TradeIDs *arrow.Chunked
}

// Release frees the result's table and trade ids.
func (r *Result) Release() {
	if r == nil {
		return
	}
	r.Result.Release()
	if r.TradeIDs != nil {
		r.TradeIDs.Release()
		r.TradeIDs = nil
	}
}
