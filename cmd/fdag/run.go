package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/batch"
	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/compute"
)

const runExamples = `  fdag run --project . --features testdata/features/demo.yaml \
      --symbols BTCUSDT,ETHUSDT --start 2024-01-02 --end 2024-01-04
  fdag run --feature 'ret_1=log(close) - log(lag(close, 1))' --symbols BTCUSDT \
      --start 2024-01-02T06:00:00Z --end 2024-01-02T12:00:00Z --shard 1h --json
`

// runRun is the sequential batch run of DESIGN.md, batch.Run from the
// command line: flags in, the summary out (a table, or --json).
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", "(--features FILE | --feature NAME=FORMULA...) --symbols A,B --start T --end T [flags]",
		runExamples, stderr)
	var (
		project     = fs.String("project", ".", "project `DIR` holding fdag.yaml, FeatureType YAML files and the embedded warehouse")
		featureFile = fs.String("features", "", "feature specs, a YAML or JSON `FILE`")
		symbols     = fs.String("symbols", "", "comma-separated `symbols` (required)")
		startFlag   = fs.String("start", "", "start `time` (RFC 3339 or YYYY-MM-DD, UTC), inclusive (required)")
		endFlag     = fs.String("end", "", "end `time`, exclusive (required)")
		shard       = fs.Duration("shard", batch.DefaultShard, "shard `length`: [start, end) is cut at UTC multiples of it (24h: days) and each (symbol, shard) is read with its warmup and computed on its own")
		source      = fs.String("source", catalog.TradesTable, "source `table`")
		concurrency = fs.Int("concurrency", 0, "shards computed at once (`N`; default: the cores)")
		retries     = fs.Int("retries", 0, "extra attempts for a failing shard (`N`)")
		partial     = fs.Bool("commit-partial", false, "commit the shards that succeeded and record failed ones with status error; default: a failed shard fails the run and nothing is committed")
		asJSON      = fs.Bool("json", false, "print the summary as JSON on stdout")
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
	case *retries < 0:
		return usagef("--retries must not be negative")
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
	if _, err := batch.Split(syms, start, end, *shard); err != nil {
		return usagef("%v", err)
	}
	specs, aliasMap, err := loadSpecsAndAliases(*featureFile, features, aliases)
	if err != nil {
		return err
	}
	proj, err := loadProject(*project)
	if err != nil {
		return err
	}
	defer proj.Close()
	wh, err := proj.Warehouse(ctx)
	if err != nil {
		return err
	}
	mem := memory.DefaultAllocator
	req := batch.RunRequest{
		Request: batch.Request{Specs: specs, Symbols: syms, Start: start, End: end, Source: *source,
			Aliases: aliasMap, Registry: proj.Registry, Mem: mem},
		ShardLength: *shard, Concurrency: *concurrency, Retries: *retries, CommitPartial: *partial,
		Progress: newRunProgress(stderr).report,
	}
	sum, err := batch.Run(ctx, wh, req)
	for _, w := range sum.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if err != nil {
		var nf *compute.NoFeaturesError
		switch {
		case errors.Is(err, catalog.ErrNoTable):
			return fmt.Errorf("%w (ingest trades first: fdag ingest or fdag demo-data --project)", err)
		case errors.As(err, &nf):
			printFailures(stderr, nf.Statuses)
			return errors.New("no feature can be computed")
		}
		if len(sum.Shards) > 0 {
			printSummary(stderr, sum)
		}
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	printSummary(stdout, sum)
	for _, f := range sum.Features {
		if f.Status != compute.StatusSuccess {
			fmt.Fprintf(stderr, "%s: %s\n", f.Name, strings.TrimPrefix(f.Error, f.Name+": "))
		}
	}
	return nil
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
