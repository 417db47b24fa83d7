package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"

	"github.com/featuredag/fdag/batch"
	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
)

const runExamples = `  fdag run --project . --features testdata/features/demo.yaml \
      --symbols BTCUSDT,ETHUSDT --start 2024-01-02 --end 2024-01-04
  fdag run --feature 'ret_1=log(close) - log(lag(close, 1))' --symbols BTCUSDT \
      --start 2024-01-02T06:00:00Z --end 2024-01-02T12:00:00Z --shard 1h
`

// runRun is the sequential batch run of DESIGN.md: for each (symbol,
// shard) it reads the source with the warmup the features need, computes,
// keeps the shard's rows and stages them as ft_features data files; one
// transaction then replaces the earlier rows of the same features,
// symbols and range with all staged files.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", "(--features FILE | --feature NAME=FORMULA...) --symbols A,B --start T --end T [flags]",
		runExamples, stderr)
	var (
		project     = fs.String("project", ".", "project `DIR` holding fdag.yaml, FeatureType YAML files and the embedded warehouse")
		featureFile = fs.String("features", "", "feature specs, a YAML or JSON `FILE`")
		symbols     = fs.String("symbols", "", "comma-separated `symbols` (required)")
		startFlag   = fs.String("start", "", "start `time` (RFC 3339 or YYYY-MM-DD, UTC), inclusive (required)")
		endFlag     = fs.String("end", "", "end `time`, exclusive (required)")
		shard       = fs.Duration("shard", 24*time.Hour, "shard `length`: [start, end) is cut at UTC multiples of it (24h: days) and each (symbol, shard) is read with its warmup and computed on its own")
		source      = fs.String("source", catalog.TradesTable, "source `table`")
		features    listFlag
		aliases     listFlag
	)
	fs.Var(&features, "feature", "inline feature `NAME=FORMULA` (repeatable)")
	fs.Var(&aliases, "alias", "column alias `NAME=COLUMN` (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var syms []string
	for _, s := range strings.Split(*symbols, ",") {
		if s = strings.TrimSpace(s); s != "" {
			syms = append(syms, s)
		}
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected arguments %q", fs.Args())
	case len(syms) == 0:
		return usagef("--symbols is required")
	case *featureFile == "" && len(features) == 0:
		return usagef("give --features FILE or at least one --feature NAME=FORMULA")
	case *shard <= 0:
		return usagef("--shard must be positive")
	}
	start, err := parseTime("start", *startFlag)
	if err != nil {
		return err
	}
	end, err := parseTime("end", *endFlag)
	if err != nil {
		return err
	}
	if !start.Before(end) {
		return usagef("--start %s is not before --end %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	specs, aliasMap, reg, err := loadRequest(*featureFile, features, aliases, *project)
	if err != nil {
		return err
	}
	mem := memory.DefaultAllocator
	w, err := catalog.OpenProject(ctx, *project, catalog.Options{Mem: mem})
	if err != nil {
		return err
	}
	defer w.Close()
	req := batch.Request{Specs: specs, Source: *source, Aliases: aliasMap, Registry: reg, Mem: mem}
	plan, _, err := req.Plan(ctx, w)
	if err != nil {
		if errors.Is(err, catalog.ErrNoTable) {
			return fmt.Errorf("%w (ingest trades first: fdag ingest or fdag demo-data --project)", err)
		}
		return err
	}
	if len(plan.Failed()) == len(plan.Features) {
		return fmt.Errorf("no feature can be computed:\n%w", plan.Err())
	}
	shards, err := batch.Split(syms, start, end, *shard)
	if err != nil {
		return usagef("%v", err)
	}
	scope := catalog.FeatureScope{Symbols: syms, Start: start, End: end}
	for _, f := range plan.Features {
		s := f.Spec.WithDefaults()
		scope.Features = append(scope.Features, catalog.FeatureKey{Name: s.Name, Version: s.Version})
	}

	// Create ft_features before the shards stage into it concurrently:
	// creating is a catalog write, which SQLite serialises.
	if _, err := w.Table(ctx, catalog.FeaturesTable); err != nil {
		return err
	}
	began := time.Now()
	// Shards run concurrently, one per core: each shard is one symbol, and
	// compute parallelises across symbols, so a single shard uses one core.
	outs := make([]shardOut, len(shards))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, sh := range shards {
		r := req
		r.Symbols, r.Start, r.End = []string{sh.Symbol}, sh.Start, sh.End
		g.Go(func() error {
			staged, res, err := runShard(gctx, w, r, plan)
			if err != nil {
				return fmt.Errorf("%s: %w", sh, err)
			}
			outs[i] = shardOut{staged, res.SourceRows, res.WarmupRows, res.Statuses}
			return nil
		})
	}
	err = g.Wait()
	var staged []catalog.StagedFiles
	var srcRows, warmRows int64
	var statuses []compute.FeatureStatus
	for _, o := range outs {
		staged = append(staged, o.staged)
		srcRows += o.srcRows
		warmRows += o.warmRows
		statuses = mergeStatuses(statuses, o.statuses)
	}
	if err != nil {
		w.DiscardStaged(ctx, staged...)
		return err
	}
	computed := time.Since(began)
	cs, err := w.CommitFeatures(ctx, scope, staged...)
	if err != nil {
		w.DiscardStaged(ctx, staged...)
		return err
	}
	fmt.Fprintf(stdout, "%d ft_features rows (%d features x %d symbols) committed in %d files, snapshot %d\n",
		cs.Rows, len(plan.Features), len(syms), cs.Files, cs.SnapshotID)
	fmt.Fprintf(stderr, "fdag run: %d shards, %d source rows + %d warmup rows, lookback %s; compute+stage %v, commit %v; %.0f narrow rows/s\n",
		len(shards), srcRows, warmRows, plan.MaxLookback(), computed.Round(time.Millisecond), cs.Elapsed.Round(time.Millisecond),
		float64(cs.Rows)/time.Since(began).Seconds())
	for _, f := range plan.Failed() {
		fmt.Fprintf(stderr, "%s\n", f.Err)
	}
	printFailures(stderr, runtimeFailures(statuses, plan))
	return nil
}

// shardOut is what one shard leaves for the commit and the summary.
type shardOut struct {
	staged            catalog.StagedFiles
	srcRows, warmRows int64
	statuses          []compute.FeatureStatus
}

// mergeStatuses keeps, per feature, the first error any shard reported.
func mergeStatuses(acc, next []compute.FeatureStatus) []compute.FeatureStatus {
	if acc == nil {
		return next
	}
	for i := range next {
		if i < len(acc) && acc[i].Status == compute.StatusSuccess && next[i].Status != compute.StatusSuccess {
			acc[i] = next[i]
		}
	}
	return acc
}

// runShard computes one (symbol, shard) with its warmup and stages its
// narrow rows. The result's table is released; its statuses and row
// counts remain.
func runShard(ctx context.Context, w *catalog.Warehouse, req batch.Request, plan *ir.Plan) (catalog.StagedFiles, *batch.Result, error) {
	res, err := batch.Compute(ctx, w, req)
	if err != nil {
		return catalog.StagedFiles{}, nil, err
	}
	defer res.Release()
	narrow := catalog.WideToNarrow(res.Table, catalog.FeatureInfos(plan, res.Statuses), catalog.NarrowOptions{Mem: req.Mem, TradeIDs: res.TradeIDs})
	staged, err := w.StageFeatures(ctx, narrow)
	return staged, res, err
}

// runtimeFailures are the features that compiled but failed on the data.
func runtimeFailures(statuses []compute.FeatureStatus, plan *ir.Plan) []compute.FeatureStatus {
	var out []compute.FeatureStatus
	for i, s := range statuses {
		if s.Status != compute.StatusSuccess && i < len(plan.Features) && plan.Features[i].Err == nil {
			out = append(out, s)
		}
	}
	return out
}

// parseTime reads a required time flag (batch.ParseTime's formats).
func parseTime(flagName, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, usagef("--%s is required", flagName)
	}
	t, err := batch.ParseTime(s)
	if err != nil {
		return time.Time{}, usagef("--%s: %v", flagName, err)
	}
	return t, nil
}
