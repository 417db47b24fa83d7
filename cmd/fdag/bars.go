package main

import (
	"context"
	"fmt"
	"io"

	"github.com/featuredag/fdag/bars"
	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/process"
)

const barsExamples = `  fdag bars --project . --kinds tick:500,volume:1000,dollar:8e4,time:1m \
      --symbols BTCUSDT,ETHUSDT --start 2024-01-02 --end 2024-01-04
  fdag bars --kinds tick_imbalance:100:min=50,volume_run:100:window=1000:sign=tick \
      --symbols BTCUSDT --start 2024-01-02 --end 2024-01-03 --json
kinds (docs/process.md): ` + "time:D, tick:N, volume:N, dollar:N, {tick,volume,dollar}_{imbalance,run}:E0[:window=N][:prev=N][:min=N][:max=N][:sign=side|tick]" + `
`

// runBars is process.RunBars from the command line: one table
// cdm_bars_<kind> per kind, whole UTC days.
func runBars(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bars", "--kinds K,K --symbols A,B --start DAY --end DAY [flags]", barsExamples, stderr)
	var (
		projectDir = fs.String("project", ".", "project `DIR` holding fdag.yaml and the embedded warehouse")
		kinds      = fs.String("kinds", "", "comma-separated bar `kinds`, e.g. tick:500,time:1m (required)")
		symbols    = fs.String("symbols", "", "comma-separated `symbols` (required)")
		startFlag  = fs.String("start", "", "first `day` (YYYY-MM-DD or a UTC midnight), inclusive (required)")
		endFlag    = fs.String("end", "", "end `day`, exclusive (required)")
		source     = fs.String("source", catalog.TradesTable, "source trade `table`")
		asJSON     = fs.Bool("json", false, "print the summary as JSON on stdout")
	)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	syms := splitList(*symbols)
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected arguments %q", fs.Args())
	case *kinds == "":
		return usagef("--kinds is required (e.g. tick:500,volume:1000,dollar:8e4,time:1m)")
	case len(syms) == 0:
		return usagef("--symbols is required")
	}
	specs, err := bars.ParseSpecs(*kinds)
	if err != nil {
		return usagef("--kinds: %v", err)
	}
	start, end, err := parseRange(*startFlag, *endFlag)
	if err != nil {
		return err
	}
	proj, wh, err := openWarehouse(ctx, *projectDir)
	if err != nil {
		return err
	}
	defer proj.Close()
	sum, err := process.RunBars(ctx, wh, process.BarsRequest{Specs: specs, Symbols: syms, Start: start, End: end, Source: *source})
	for _, w := range sum.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if err != nil {
		return missingSourceHint(err, *source)
	}
	if *asJSON {
		return writeJSON(stdout, sum)
	}
	fmt.Fprintf(stdout, "%d shards, %d trades\n", sum.Shards, sum.Trades)
	fmt.Fprintf(stdout, "%-40s %10s %6s  %s\n", "table", "bars", "files", "kind")
	for _, t := range sum.Tables {
		fmt.Fprintf(stdout, "%-40s %10d %6d  %s\n", t.Table, t.Bars, t.Files, t.Kind)
	}
	return nil
}
