package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/bars"
	"github.com/featuredag/fdag/batch"
	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/project"
)

// A distributed run (docs/distributed.md) is `fdag run` cut in three:
// `fdag plan` on the driver prints the run's shard configs, `fdag shard`
// runs one of them on a worker and prints its staged data-file
// descriptors, and `fdag commit` on the driver commits every shard's files
// in one transaction. fdag.ray.run_batch_ray drives them on Ray.

const planExamples = `  fdag plan --project /srv/fdag --features features/demo.yaml \
      --symbols BTCUSDT,ETHUSDT --start 2024-01-02 --end 2024-01-07 --shard 24h > plan.json
`

const shardExamples = `  jq -c '.shards[0]' plan.json | fdag shard --project /srv/fdag > result-0.json
  fdag shard --project /srv/fdag --config shard-0.json
`

const leaseExamples = `  fdag lease --project /srv/fdag --run 7797714db36a219e   # until stdin closes
`

const commitExamples = `  jq -n --slurpfile p plan.json --slurpfile r results.json \
      '{plan: $p[0], outcomes: [$r[] | {result: .}]}' | fdag commit --project /srv/fdag
  fdag commit --project /srv/fdag --json commit.json
  fdag commit --project /srv/fdag --abort commit.json   # give up: remove the staged files
`

// CommitInput is what `fdag commit` reads: the plan from `fdag plan` and one
// outcome per shard of it, in the plan's order.
type CommitInput struct {
	Plan     batch.RunPlan        `json:"plan"`
	Outcomes []batch.ShardOutcome `json:"outcomes"`
}

// runFlags are the flags that describe a batch run (fdag run, fdag plan).
type runFlags struct {
	project, featureFile, symbols, start, end, source *string
	shard, maxWarmupGap                               *time.Duration
	features, aliases                                 listFlag
}

func addRunFlags(fs *flag.FlagSet) *runFlags {
	f := &runFlags{
		project:      fs.String("project", ".", "project `DIR` holding fdag.yaml, FeatureType YAML files and the embedded warehouse"),
		featureFile:  fs.String("features", "", "feature specs, a YAML or JSON `FILE`"),
		symbols:      fs.String("symbols", "", "comma-separated `symbols` (required)"),
		start:        fs.String("start", "", "start `time` (RFC 3339 or YYYY-MM-DD, UTC), inclusive (required)"),
		end:          fs.String("end", "", "end `time`, exclusive (required)"),
		shard:        fs.Duration("shard", batch.DefaultShard, "shard `length`: [start, end) is cut at UTC multiples of it (24h: days) and each (symbol, shard) is read with its warmup and computed on its own"),
		source:       fs.String("source", catalog.TradesTable, "source `table`"),
		maxWarmupGap: fs.Duration("max-warmup-gap", 0, "read no warmup row older than `D` before the shard's start (e.g. 720h): a symbol quiet for years then starts its windows short instead of reading its old rows; 0: as far back as the windows need"),
	}
	fs.Var(&f.features, "feature", "inline feature `NAME=FORMULA` (repeatable)")
	fs.Var(&f.aliases, "alias", "column alias `NAME=COLUMN` (repeatable)")
	return f
}

// request checks the flags and returns the run request without registry
// and allocator.
func (f *runFlags) request() (batch.RunRequest, error) {
	syms := splitList(*f.symbols)
	switch {
	case len(syms) == 0:
		return batch.RunRequest{}, usagef("--symbols is required")
	case *f.featureFile == "" && len(f.features) == 0:
		return batch.RunRequest{}, usagef("give --features FILE or at least one --feature NAME=FORMULA")
	case *f.shard <= 0:
		return batch.RunRequest{}, usagef("--shard must be positive")
	case *f.maxWarmupGap < 0:
		return batch.RunRequest{}, usagef("--max-warmup-gap must not be negative")
	}
	start, end, err := parseRange(*f.start, *f.end)
	if err != nil {
		return batch.RunRequest{}, err
	}
	if _, err := batch.Split(syms, start, end, *f.shard); err != nil {
		return batch.RunRequest{}, usagef("%v", err)
	}
	specs, aliasMap, err := loadSpecsAndAliases(*f.featureFile, f.features, f.aliases)
	if err != nil {
		return batch.RunRequest{}, err
	}
	return batch.RunRequest{
		Request: batch.Request{Specs: specs, Symbols: syms, Start: start, End: end, Source: *f.source, Aliases: aliasMap,
			MaxWarmupGap: *f.maxWarmupGap},
		ShardLength: *f.shard,
	}, nil
}

// open checks the flags, loads the project and opens its warehouse: the
// run request with the project's registry. The caller closes the project.
func (f *runFlags) open(ctx context.Context) (batch.RunRequest, *project.Project, *catalog.Warehouse, error) {
	req, err := f.request()
	if err != nil {
		return req, nil, nil, err
	}
	proj, wh, err := openWarehouse(ctx, *f.project)
	if err != nil {
		return req, nil, nil, err
	}
	req.Registry, req.Mem = proj.Registry, memory.DefaultAllocator
	return req, proj, wh, nil
}

// runPlan prints the shard configs of a run (batch.PlanRun).
func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("plan", "(--features FILE | --feature NAME=FORMULA...) --symbols A,B --start T --end T [flags]",
		planExamples, stderr)
	rf := addRunFlags(fs)
	runID := fs.String("run-id", "", "run `ID` (16 hex digits; default: a fresh one); committing a run id twice commits it once")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	req, proj, wh, err := rf.open(ctx)
	if err != nil {
		return err
	}
	defer proj.Close()
	plan, err := batch.PlanRun(ctx, wh, req, *runID)
	if err != nil {
		return explainRunError(err, req.Source, stderr)
	}
	return writeJSON(stdout, plan)
}

// runShardCmd runs one shard config (batch.RunShard) and prints its result.
func runShardCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("shard", "[--project DIR] [--config FILE]", shardExamples, stderr)
	project := fs.String("project", ".", "project `DIR` (the same fdag.yaml as the driver's)")
	config := fs.String("config", "-", "shard config `FILE` (a ShardConfig of fdag plan's shards); - reads stdin")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	var cfg batch.ShardConfig
	if err := readJSON(*config, &cfg); err != nil {
		return err
	}
	if cfg.Run == "" || cfg.Symbol == "" || len(cfg.Features) == 0 {
		return usagef("shard config %s: run, symbol and features are required (give one of fdag plan's shards)", inputName(*config))
	}
	proj, wh, err := openWarehouse(ctx, *project)
	if err != nil {
		return err
	}
	defer proj.Close()
	res, err := batch.RunShard(ctx, wh, cfg, batch.ShardOptions{Registry: proj.Registry, Mem: memory.DefaultAllocator})
	if err != nil {
		return fmt.Errorf("shard %d %s: %w", cfg.Index, cfg, err)
	}
	return writeJSON(stdout, res)
}

// runCommit commits the staged files of a distributed run (batch.CommitShards).
func runCommit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("commit", "[--project DIR] [--json] [--abort] [--commit-partial] [FILE]", commitExamples, stderr)
	project := fs.String("project", ".", "project `DIR`")
	asJSON := fs.Bool("json", false, "print the summary as JSON on stdout")
	abort := fs.Bool("abort", false, "commit nothing and remove every staged file of the outcomes (the run failed)")
	partial := fs.Bool("commit-partial", false, "commit the shards that succeeded and record failed ones with status error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("unexpected arguments %q", fs.Args()[1:])
	}
	path := "-"
	if fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	var in CommitInput
	if err := readJSON(path, &in); err != nil {
		return err
	}
	if in.Plan.Run == "" || len(in.Plan.Shards) == 0 {
		return usagef("commit input %s: no plan (want {\"plan\": <fdag plan output>, \"outcomes\": [...]})", inputName(path))
	}
	proj, wh, err := openWarehouse(ctx, *project)
	if err != nil {
		return err
	}
	defer proj.Close()
	sum, err := batch.CommitShards(ctx, wh, in.Plan, in.Outcomes, batch.CommitOptions{
		Registry: proj.Registry, Mem: memory.DefaultAllocator, CommitPartial: *partial, Abort: *abort})
	for _, w := range sum.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if *asJSON {
		// The summary is printed even when the run failed, for the driver.
		if jerr := writeJSON(stdout, sum); jerr != nil && err == nil {
			err = jerr
		}
	} else if err == nil || len(sum.Shards) > 0 {
		printSummary(stdout, sum)
	}
	return err
}

// runLease holds a run's lease (catalog.Warehouse.BeginRun) until its
// stdin closes: the driver of a distributed run keeps it running from
// before the first shard stages until after the commit, so that gc and
// other runs leave the run's staged files alone while it lives and remove
// them once it died.
func runLease(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lease", "--run ID [--project DIR]", leaseExamples, stderr)
	project := fs.String("project", ".", "project `DIR`")
	run := fs.String("run", "", "the run `ID` (fdag plan's run)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *run == "" || fs.NArg() > 0 {
		return usagef("give --run ID and no arguments")
	}
	proj, wh, err := openWarehouse(ctx, *project)
	if err != nil {
		return err
	}
	defer proj.Close()
	lease, err := wh.BeginRun(ctx, *run)
	if err != nil {
		return err
	}
	defer lease.End()
	fmt.Fprintf(stdout, "leased %s\n", *run)
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(closed)
	}()
	select {
	case <-closed:
	case <-ctx.Done():
	}
	return nil
}

// explainRunError adds what to do to the errors of planning a run over source.
func explainRunError(err error, source string, stderr io.Writer) error {
	var nf *compute.NoFeaturesError
	switch {
	case errors.Is(err, catalog.ErrNoTable):
		return missingSourceHint(err, source)
	case errors.As(err, &nf):
		printFailures(stderr, nf.Statuses)
		return errors.New("no feature can be computed")
	}
	return err
}

// readJSON decodes the JSON of path (- for stdin) into v, rejecting
// unknown fields so that a misspelt key is not silently dropped.
func readJSON(path string, v any) error {
	var r io.Reader = os.Stdin
	name := inputName(path)
	if name != "stdin" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseRange parses the --start and --end flags of a [start, end) range.
func parseRange(startFlag, endFlag string) (start, end time.Time, err error) {
	if start, err = parseTime("start", startFlag); err != nil {
		return start, end, err
	}
	if end, err = parseTime("end", endFlag); err != nil {
		return start, end, err
	}
	if !start.Before(end) {
		return start, end, usagef("--start %s is not before --end %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	return start, end, nil
}

// openWarehouse loads a project and opens its warehouse; the caller closes
// the project.
func openWarehouse(ctx context.Context, dir string) (*project.Project, *catalog.Warehouse, error) {
	proj, err := loadProject(dir)
	if err != nil {
		return nil, nil, err
	}
	wh, err := proj.Warehouse(ctx)
	if err != nil {
		proj.Close()
		return nil, nil, err
	}
	return proj, wh, nil
}

// inputName names an input flag's value for messages: stdin for - or "".
func inputName(path string) string {
	if path == "-" || path == "" {
		return "stdin"
	}
	return path
}

// missingSourceHint says how the missing source table of a run comes to be:
// trades from an ingest, a bar table from fdag bars.
func missingSourceHint(err error, source string) error {
	if !errors.Is(err, catalog.ErrNoTable) {
		return err
	}
	if strings.HasPrefix(source, bars.TablePrefix) {
		return fmt.Errorf("%w (compute the bars first: fdag bars --kinds KIND:PARAM with the same symbols and days)", err)
	}
	return fmt.Errorf("%w (ingest trades first: fdag ingest or fdag demo-data --project)", err)
}
