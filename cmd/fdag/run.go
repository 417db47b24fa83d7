package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/featuredag/fdag/batch"
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
	rf := addRunFlags(fs)
	var (
		concurrency = fs.Int("concurrency", 0, "shards computed at once (`N`; default: the cores)")
		retries     = fs.Int("retries", 0, "extra attempts for a failing shard (`N`)")
		partial     = fs.Bool("commit-partial", false, "commit the shards that succeeded and record failed ones with status error; default: a failed shard fails the run and nothing is committed")
		asJSON      = fs.Bool("json", false, "print the summary as JSON on stdout")
	)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected arguments %q", fs.Args())
	case *retries < 0:
		return usagef("--retries must not be negative")
	}
	req, proj, wh, err := rf.open(ctx)
	if err != nil {
		return err
	}
	defer proj.Close()
	req.Concurrency, req.Retries, req.CommitPartial = *concurrency, *retries, *partial
	req.Progress = newRunProgress(stderr).report
	sum, err := batch.Run(ctx, wh, req)
	for _, w := range sum.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if err != nil {
		if len(sum.Shards) > 0 {
			printSummary(stderr, sum)
		}
		return explainRunError(err, req.Source, stderr)
	}
	if *asJSON {
		return writeJSON(stdout, sum)
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
