package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
)

// A distributed run (the original design's Ray mode) is Run cut in three
// so that its shards can run in other processes and on other machines:
// PlanRun on the driver, RunShard on the workers (unchanged: the same
// shard function as Run's), and CommitShards on the driver again. Only
// JSON passes between them: RunPlan and its ShardConfigs out, ShardResults
// (encoded data-file descriptors, ~300 bytes a file) back; the data files
// go straight from each worker to the warehouse storage.

// RunPlan is a planned run: the request as it travels and its shards.
type RunPlan struct {
	Run      string            `json:"run"`
	Features []ir.Spec         `json:"features"`
	Symbols  []string          `json:"symbols"`
	Start    time.Time         `json:"start"`
	End      time.Time         `json:"end"`
	Shard    string            `json:"shard"` // the shard length, a Go duration
	Source   string            `json:"source"`
	Aliases  map[string]string `json:"aliases,omitempty"`
	// MaxWarmupGap is Request.MaxWarmupGap in nanoseconds (0: none).
	MaxWarmupGap time.Duration `json:"max_warmup_gap_ns,omitempty"`
	Shards       []ShardConfig `json:"shards"`
	// Planned is when the plan was made: the run's wall time counts from it.
	Planned time.Time `json:"planned"`
}

// PlanRun checks a run on the driver before any worker starts: the source
// table exists and at least one feature compiles. It creates ft_features,
// so that workers do not race to create it, and returns the plan under run
// id run (catalog.NewRunID when empty).
func PlanRun(ctx context.Context, wh *catalog.Warehouse, req RunRequest, run string) (RunPlan, error) {
	if run == "" {
		run = catalog.NewRunID()
	}
	shards, err := req.Plan(run)
	if err != nil {
		return RunPlan{}, err
	}
	plan, _, err := req.Request.Plan(ctx, wh)
	if err != nil {
		return RunPlan{}, err
	}
	if len(plan.Failed()) == len(plan.Features) {
		return RunPlan{}, &compute.NoFeaturesError{Statuses: planStatuses(plan)}
	}
	if _, err := wh.Table(ctx, catalog.FeaturesTable); err != nil {
		return RunPlan{}, err
	}
	every := req.ShardLength
	if every == 0 {
		every = DefaultShard
	}
	return RunPlan{Run: run, Features: req.Specs, Symbols: req.Symbols, Start: req.Start, End: req.End,
		Shard: every.String(), Source: req.source(), Aliases: req.Aliases, MaxWarmupGap: req.MaxWarmupGap, Shards: shards, Planned: time.Now().UTC()}, nil
}

// Request is the run request of the plan, with what does not travel.
func (p RunPlan) Request(reg *ir.Registry, mem memory.Allocator) (RunRequest, error) {
	every, err := time.ParseDuration(p.Shard)
	if err != nil {
		return RunRequest{}, fmt.Errorf("plan of run %s: shard %q: %w", p.Run, p.Shard, err)
	}
	return RunRequest{
		Request: Request{Specs: p.Features, Symbols: p.Symbols, Start: p.Start, End: p.End,
			Source: p.Source, Aliases: p.Aliases, Registry: reg, Mem: mem, MaxWarmupGap: p.MaxWarmupGap},
		ShardLength: every,
	}, nil
}

// ShardOutcome is what the driver learnt of one shard of a plan: its
// result, or its error after the retries, with the retries and the seconds
// the worker spent.
type ShardOutcome struct {
	Result  *ShardResult `json:"result,omitempty"`
	Error   string       `json:"error,omitempty"`
	Retries int          `json:"retries"`
	Seconds float64      `json:"seconds"`
}

// CommitOptions are the driver's companions of CommitShards.
type CommitOptions struct {
	Registry *ir.Registry // nil: the built-in registry
	Mem      memory.Allocator
	// CommitPartial as RunRequest.CommitPartial.
	CommitPartial bool
	// Abort removes every staged file and commits nothing (the driver gave
	// up on the run).
	Abort bool
}

// CommitShards is the driver's end of a distributed run: the summary of
// the outcomes, one per shard of the plan in its order, built as Run
// builds it, then one transaction with every staged file, idempotent per
// run id (catalog.Warehouse.CommitRun: committing the same plan again
// commits nothing and says so in the error-free summary's warnings). A
// shard that failed fails the run with nothing committed and every staged
// file removed, unless CommitPartial.
func CommitShards(ctx context.Context, wh *catalog.Warehouse, p RunPlan, outcomes []ShardOutcome, opts CommitOptions) (Summary, error) {
	began := p.Planned
	if began.IsZero() {
		began = time.Now()
	}
	sum := Summary{Run: p.Run, Source: p.Source, Start: p.Start, End: p.End}
	req, err := p.Request(opts.Registry, opts.Mem)
	if err != nil {
		return sum, err
	}
	req.CommitPartial = opts.CommitPartial
	if len(outcomes) != len(p.Shards) {
		return sum, fmt.Errorf("run %s: %d shard outcomes for %d shards", p.Run, len(outcomes), len(p.Shards))
	}
	results := make([]ShardResult, len(p.Shards))
	errs := make([]error, len(p.Shards))
	sum.Shards = make([]ShardSummary, len(p.Shards))
	for i, o := range outcomes {
		cfg := p.Shards[i]
		switch {
		case o.Result != nil && (o.Result.Run != p.Run || o.Result.Index != cfg.Index):
			errs[i] = fmt.Errorf("result of run %s shard %d given for run %s shard %d", o.Result.Run, o.Result.Index, p.Run, cfg.Index)
		case o.Result != nil:
			results[i] = *o.Result
		case o.Error != "":
			errs[i] = errors.New(o.Error)
		default:
			errs[i] = errors.New("no result")
		}
		sum.Shards[i] = shardSummary(cfg, results[i], o.Retries, time.Duration(o.Seconds*float64(time.Second)), errs[i])
	}
	if opts.Abort {
		discard(wh, results)
		removeRunOrphans(ctx, wh, p.Run)
		return sum, fmt.Errorf("run %s aborted: nothing committed", p.Run)
	}
	plan, _, err := req.Request.Plan(ctx, wh)
	if err != nil {
		discard(wh, results)
		return sum, err
	}
	sum.Lookback = plan.MaxLookback().String()
	sum, err = finishRun(ctx, wh, req, sum, plan, p.Shards, results, errs, nil, began, nil)
	if sum.Committed || sum.Totals.ShardsFailed > 0 {
		removeRunOrphans(ctx, wh, p.Run)
	}
	return sum, err
}

// removeRunOrphans removes the unreferenced files of run once it is
// committed or given up: those of attempts that staged and then died
// (their worker killed before it could report), which no outcome names.
func removeRunOrphans(ctx context.Context, wh *catalog.Warehouse, run string) {
	rep, err := wh.CollectGarbage(context.WithoutCancel(ctx), catalog.FeaturesTable, catalog.GCOptions{Run: run})
	switch {
	case err != nil:
		slog.Warn("could not remove the run's unreferenced files (fdag gc will)", "run", run, "err", err)
	case len(rep.DeadRunFiles) > 0:
		slog.Info("removed files of the run's dead attempts", "run", run, "files", len(rep.DeadRunFiles), "bytes", rep.Bytes)
	}
}
