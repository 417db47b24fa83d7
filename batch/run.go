package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/internal/testhook"
	"github.com/featuredag/fdag/ir"
)

// RunRequest is a batch run: the features of Request over its symbols and
// [Start, End), cut into shards of ShardLength per symbol, each computed
// with its warmup and staged, then committed to ft_features in one
// transaction that replaces the rows of the same features, symbols and
// range.
type RunRequest struct {
	Request
	// ShardLength cuts [Start, End) at its UTC multiples (default
	// DefaultShard: days).
	ShardLength time.Duration
	// Concurrency is the number of shards computed at once (default: the
	// cores, GOMAXPROCS). Each shard is one symbol and compute
	// parallelises across symbols, so one shard keeps one core busy.
	Concurrency int
	// Retries is how many more times a failing shard is tried (0: once).
	// Cancellation is not retried.
	Retries int
	// CommitPartial commits the shards that succeeded when others fail
	// after their retries, recording each failed shard in ft_features as
	// one row per feature with status "error" and the message in
	// feature_value_json, and returns the summary with a nil error. The
	// default fails the run and commits nothing.
	CommitPartial bool
	// Progress, when set, is called after each shard and at the commit,
	// from one goroutine at a time.
	Progress func(Progress)
	// Logger receives a line per failed attempt (nil: slog.Default()).
	Logger *slog.Logger
}

// Phases of Progress.
const (
	PhaseShards    = "shards"
	PhaseCommit    = "commit"
	PhaseCommitted = "committed"
)

// Progress is a run's state, reported as it goes.
type Progress struct {
	Phase       string        `json:"phase"`
	ShardsDone  int           `json:"shards_done"`
	ShardsTotal int           `json:"shards_total"`
	Failed      int           `json:"shards_failed"`
	RowsIn      int64         `json:"rows_in"`
	RowsOut     int64         `json:"rows_out"`
	Elapsed     time.Duration `json:"-"`
	ElapsedS    float64       `json:"elapsed_s"`
	// Shard is the shard that just finished (PhaseShards).
	Shard *ShardSummary `json:"shard,omitempty"`
}

// ErrNoSymbols: a run needs the symbols it computes.
var ErrNoSymbols = errors.New("no symbols: a run needs the symbols to compute")

// Plan returns the run's shards, in order (symbols as given, then time).
// Symbols must be given: a run writes what it was asked for.
func (r RunRequest) Plan(run string) ([]ShardConfig, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if len(r.Symbols) == 0 {
		return nil, ErrNoSymbols
	}
	every := r.ShardLength
	if every == 0 {
		every = DefaultShard
	}
	shards, err := Split(r.Symbols, r.Start, r.End, every)
	if err != nil {
		return nil, err
	}
	out := make([]ShardConfig, len(shards))
	for i, s := range shards {
		out[i] = ShardConfig{Run: run, Index: i, Symbol: s.Symbol, Start: s.Start, End: s.End,
			Features: r.Specs, Source: r.Source, Aliases: r.Aliases, MaxWarmupGap: r.MaxWarmupGap}
	}
	return out, nil
}

// Run computes and commits a batch run. Its features are compiled once
// against the source table; its shards run at most Concurrency at a time,
// each tried 1+Retries times; then one transaction commits every staged
// file, so readers of ft_features see the rows from before the run or all
// of the run's rows, never a part. If a shard still fails, or ctx is
// cancelled, the staged files are removed and nothing is committed (unless
// CommitPartial). The summary describes what happened in either case.
func Run(ctx context.Context, wh *catalog.Warehouse, req RunRequest) (Summary, error) {
	began := time.Now()
	sum := Summary{Run: catalog.NewRunID(), Source: req.source(), Start: req.Start, End: req.End}
	shards, err := req.Plan(sum.Run)
	if err != nil {
		return sum, err
	}
	plan, _, err := req.Request.Plan(ctx, wh)
	if err != nil {
		return sum, err
	}
	sum.Lookback = plan.MaxLookback().String()
	if len(plan.Failed()) == len(plan.Features) {
		return sum, &compute.NoFeaturesError{Statuses: planStatuses(plan)}
	}
	// Create ft_features before the shards stage into it concurrently:
	// creating is a catalog write, which SQLite serialises.
	if _, err := wh.Table(ctx, catalog.FeaturesTable); err != nil {
		return sum, err
	}
	log := req.Logger
	if log == nil {
		log = slog.Default()
	}
	// Files a dead run staged are removed before this run stages its own
	// (best effort: a failure here is no reason not to run); then the
	// lease tells a concurrent gc that this run's files are not garbage.
	if rep, err := wh.CollectGarbage(ctx, catalog.FeaturesTable, catalog.GCOptions{DeadRunsOnly: true}); err != nil {
		log.Warn("could not remove the files of dead runs", "err", err)
	} else if n := len(rep.DeadRunFiles); n > 0 {
		log.Info("removed the staged files of dead runs", "files", n, "runs", len(rep.DeadLeases), "bytes", rep.Bytes)
	}
	lease, err := wh.BeginRun(ctx, sum.Run)
	if err != nil {
		return sum, err
	}
	defer lease.End()
	limit := req.Concurrency
	if limit <= 0 {
		limit = runtime.GOMAXPROCS(0)
	}

	results := make([]ShardResult, len(shards))
	errs := make([]error, len(shards))
	sum.Shards = make([]ShardSummary, len(shards))
	var mu sync.Mutex // guards the progress state and the callback
	prog := Progress{Phase: PhaseShards, ShardsTotal: len(shards)}
	report := func(p Progress) {
		if req.Progress != nil {
			p.Elapsed = time.Since(began)
			p.ElapsedS = p.Elapsed.Seconds()
			req.Progress(p)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	opts := ShardOptions{Plan: plan, Registry: req.Registry, Mem: req.Mem}
	for i, cfg := range shards {
		g.Go(func() error {
			t0 := time.Now()
			res, retries, err := runWithRetries(gctx, wh, cfg, opts, req.Retries, log)
			results[i], errs[i] = res, err
			ss := shardSummary(cfg, res, retries, time.Since(t0), err)
			mu.Lock()
			sum.Shards[i] = ss
			prog.ShardsDone++
			prog.RowsIn += ss.RowsIn
			prog.RowsOut += ss.RowsOut
			if err != nil {
				prog.Failed++
			}
			p := prog
			p.Shard = &ss
			report(p)
			mu.Unlock()
			if err != nil && !req.CommitPartial {
				return fmt.Errorf("shard %s: %w", cfg, err)
			}
			return nil
		})
	}
	runErr := g.Wait()
	if runErr == nil && ctx.Err() != nil {
		runErr = ctx.Err()
	}
	return finishRun(ctx, wh, req, sum, plan, shards, results, errs, runErr, began, func(phase string, rowsOut int64) {
		report(Progress{Phase: phase, ShardsDone: prog.ShardsDone, ShardsTotal: prog.ShardsTotal, Failed: prog.Failed, RowsIn: prog.RowsIn, RowsOut: rowsOut})
	})
}

// finishRun is the end of every run, in-process (Run) or distributed
// (CommitShards): the summary of the shards' results and errors, then one
// transaction committing every staged file under the run's id, or, when
// the run failed, nothing committed and the staged files removed. report
// (nil: none) hears of the commit phases.
func finishRun(ctx context.Context, wh *catalog.Warehouse, req RunRequest, sum Summary, plan *ir.Plan, shards []ShardConfig,
	results []ShardResult, errs []error, runErr error, began time.Time, report func(phase string, rowsOut int64)) (Summary, error) {
	if report == nil {
		report = func(string, int64) {}
	}
	sum.finish(plan, results, errs)
	if runErr == nil && sum.Totals.ShardsFailed > 0 && !req.CommitPartial {
		runErr = fmt.Errorf("%d of %d shards failed; first: %w", sum.Totals.ShardsFailed, sum.Totals.Shards, firstErr(errs))
	}
	if runErr == nil && sum.Totals.ShardsOK == 0 {
		runErr = fmt.Errorf("every shard failed; first: %w", firstErr(errs))
	}
	if runErr != nil {
		discard(wh, results)
		sum.Timing.Wall = time.Since(began).Seconds()
		return sum, runErr
	}

	if err := testhook.At(ctx, "run.before-commit", sum.Run); err != nil {
		discard(wh, results)
		return sum, err
	}
	report(PhaseCommit, sum.Totals.RowsOut)
	cs, err := Commit(ctx, wh, CommitRequest{
		Run:     sum.Run,
		Scope:   req.Scope(),
		Results: results, Failed: failedShards(shards, errs), Plan: plan, Mem: req.Mem,
	})
	sum.Timing.Commit = cs.Elapsed.Seconds()
	sum.Timing.Wall = time.Since(began).Seconds()
	if err != nil {
		return sum, err
	}
	sum.Committed, sum.SnapshotID, sum.Files = true, cs.SnapshotID, cs.Files
	if err := testhook.At(ctx, "run.committed", sum.Run); err != nil {
		return sum, err
	}
	sum.Totals.RowsOut = cs.Rows
	if cs.AlreadyCommitted {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("run %s was already committed (snapshot %d): nothing committed again", sum.Run, cs.SnapshotID))
	}
	report(PhaseCommitted, cs.Rows)
	return sum, nil
}

// runWithRetries runs a shard up to 1+retries times, each attempt staging
// under its own name; it returns the retries used.
func runWithRetries(ctx context.Context, wh *catalog.Warehouse, cfg ShardConfig, opts ShardOptions, retries int, log *slog.Logger) (ShardResult, int, error) {
	for attempt := 0; ; attempt++ {
		cfg.Attempt = attempt
		res, err := RunShard(ctx, wh, cfg, opts)
		if err == nil || attempt >= retries || ctx.Err() != nil || isPermanent(err) {
			return res, attempt, err
		}
		log.Warn("shard failed, retrying", "shard", cfg.String(), "attempt", attempt+1, "of", retries+1, "err", err)
		select {
		case <-ctx.Done():
			return res, attempt, ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}
}

// isPermanent reports errors that another attempt cannot fix.
func isPermanent(err error) bool {
	var nf *compute.NoFeaturesError
	return errors.Is(err, catalog.ErrNoTable) || errors.As(err, &nf)
}

func firstErr(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// Scope is what the run replaces in ft_features: the rows of its features
// (name and version) for its symbols in [Start, End).
func (r RunRequest) Scope() catalog.FeatureScope {
	scope := catalog.FeatureScope{Symbols: r.Symbols, Start: r.Start, End: r.End}
	for _, sp := range r.Specs {
		s := sp.WithDefaults()
		scope.Features = append(scope.Features, catalog.FeatureKey{Name: s.Name, Version: s.Version})
	}
	return scope
}

// discard removes the staged files of results, best effort (what it misses
// is a dead run's files for gc).
func discard(wh *catalog.Warehouse, results []ShardResult) {
	ctx := context.WithoutCancel(context.Background())
	for _, r := range results {
		if len(r.Files) == 0 {
			continue
		}
		if staged, err := wh.DecodeStaged(ctx, r.Files); err == nil {
			wh.DiscardStaged(ctx, staged)
		}
	}
}

func failedShards(shards []ShardConfig, errs []error) []FailedShard {
	var out []FailedShard
	for i, err := range errs {
		if err != nil {
			out = append(out, FailedShard{Shard: shards[i], Error: err.Error()})
		}
	}
	return out
}
