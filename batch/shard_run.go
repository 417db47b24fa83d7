package batch

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/internal/testhook"
	"github.com/featuredag/fdag/ir"
)

// ShardConfig is one shard of a run as a pure unit of work: everything a
// worker needs besides the warehouse and the project's FeatureType
// registry, serialisable as JSON, so that the same shard runs in-process
// (Run), in another process or on a Ray worker (`fdag shard`) and gives
// the same files.
type ShardConfig struct {
	// Run is the run id (catalog.NewRunID) that names the staged files;
	// Index is the shard's position in the run (Plan's order).
	Run   string `json:"run"`
	Index int    `json:"index"`
	// Attempt counts from 0; a retry stages under a new name.
	Attempt  int               `json:"attempt,omitempty"`
	Symbol   string            `json:"symbol"`
	Start    time.Time         `json:"start"`
	End      time.Time         `json:"end"`
	Features []ir.Spec         `json:"features"`
	Source   string            `json:"source,omitempty"`  // default catalog.TradesTable
	Aliases  map[string]string `json:"aliases,omitempty"` // nil: ir.DefaultAliases
	// MaxWarmupGap is Request.MaxWarmupGap in nanoseconds (0: none).
	MaxWarmupGap time.Duration `json:"max_warmup_gap_ns,omitempty"`
}

func (c ShardConfig) String() string {
	return Shard{Symbol: c.Symbol, Start: c.Start, End: c.End}.String()
}

// request is the shard as a Compute request.
func (c ShardConfig) request(reg *ir.Registry, mem memory.Allocator) Request {
	return Request{Specs: c.Features, Symbols: []string{c.Symbol}, Start: c.Start, End: c.End,
		Source: c.Source, Aliases: c.Aliases, Registry: reg, Mem: mem, MaxWarmupGap: c.MaxWarmupGap}
}

// ShardOptions are a shard's in-process companions, which do not travel
// with the config.
type ShardOptions struct {
	// Plan is the run's compiled plan (Run compiles it once for all
	// shards); nil compiles the shard's features against the source table.
	Plan     *ir.Plan
	Registry *ir.Registry     // nil: the built-in registry
	Mem      memory.Allocator // nil: memory.DefaultAllocator
}

// ShardResult is what a shard leaves for the commit: its staged data files
// encoded for the coordinator (catalog's ~300-byte data-file descriptors,
// in whatever process it runs) and what the summary reports. It is JSON.
type ShardResult struct {
	Run        string                  `json:"run"`
	Index      int                     `json:"index"`
	Symbol     string                  `json:"symbol"`
	Start      time.Time               `json:"start"`
	End        time.Time               `json:"end"`
	Files      [][]byte                `json:"files"` // catalog.Warehouse.EncodeStaged
	RowsIn     int64                   `json:"rows_in"`
	WarmupRows int64                   `json:"warmup_rows"`
	RowsOut    int64                   `json:"rows_out"` // narrow rows staged
	Features   []compute.FeatureStatus `json:"features"`
	Timing     Timing                  `json:"timing"`
}

// Timing splits a shard's or a run's time, in seconds.
type Timing struct {
	Read    float64 `json:"read_s"`             // source scan, warmup included
	Compute float64 `json:"compute_s"`          // features and dropping the warmup
	Write   float64 `json:"write_s"`            // wide to narrow, Parquet encoding and writing
	Commit  float64 `json:"commit_s,omitempty"` // the run's commit (runs only)
	Wall    float64 `json:"wall_s,omitempty"`   // the run's elapsed time (runs only)
}

func (t *Timing) add(o Timing) {
	t.Read += o.Read
	t.Compute += o.Compute
	t.Write += o.Write
	t.Commit += o.Commit
}

// RunShard computes one shard with its warmup and stages its narrow rows
// as ft_features data files named after the run, uncommitted. It shares
// nothing with other shards: any number may run at once, in any processes.
// On error nothing it staged remains.
func RunShard(ctx context.Context, wh *catalog.Warehouse, cfg ShardConfig, opts ShardOptions) (ShardResult, error) {
	out := ShardResult{Run: cfg.Run, Index: cfg.Index, Symbol: cfg.Symbol, Start: cfg.Start, End: cfg.End}
	if cfg.Symbol == "" {
		return out, fmt.Errorf("shard %d: no symbol", cfg.Index)
	}
	if err := testhook.At(ctx, "shard.start", cfg.String()); err != nil {
		return out, err
	}
	req := cfg.request(opts.Registry, opts.Mem)
	plan := opts.Plan
	if plan == nil {
		var err error
		if plan, _, err = req.Plan(ctx, wh); err != nil {
			return out, err
		}
	}
	res, err := computePlanned(ctx, wh, req, plan, &out.Timing)
	if err != nil {
		return out, err
	}
	defer res.Release()
	out.RowsIn, out.WarmupRows, out.Features = res.SourceRows, res.WarmupRows, res.Statuses

	began := time.Now()
	narrow := catalog.WideToNarrow(res.Table, catalog.FeatureInfos(plan, res.Statuses), catalog.NarrowOptions{
		TimeColumn: res.TimeColumn, Start: cfg.Start, End: cfg.End, Symbols: []string{cfg.Symbol}, Mem: req.Mem, TradeIDs: res.TradeIDs,
	})
	staged, err := wh.StageFeatures(ctx, narrow, catalog.StagingID{Run: cfg.Run, Part: uint32(cfg.Index), Attempt: uint32(cfg.Attempt)})
	if err != nil {
		return out, err
	}
	if out.Files, err = wh.EncodeStaged(ctx, staged); err != nil {
		wh.DiscardStaged(ctx, staged)
		return out, err
	}
	out.RowsOut = staged.Rows
	out.Timing.Write = time.Since(began).Seconds()
	if err := testhook.At(ctx, "shard.staged", cfg.String()); err != nil {
		wh.DiscardStaged(context.WithoutCancel(ctx), staged)
		out.Files = nil
		return out, err
	}
	return out, nil
}
