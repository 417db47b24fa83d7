package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/formula"
	"github.com/featuredag/fdag/labels"
	"github.com/featuredag/fdag/process"
)

var labelsExamples = `  fdag labels --project . --methods fixed_horizon:h=10:threshold=0.001,triple_barrier:pt=2:sl=1:horizon=1h \
      --symbols BTCUSDT,ETHUSDT --start 2024-01-02 --end 2024-01-04
  fdag labels --source cdm_bars_time_1m --methods trend_scan:window=30,excess_median:bucket=1m:h=5 \
      --symbols BTCUSDT,ETHUSDT --start 2024-01-02 --end 2024-01-03 --json
methods and their parameters (defaults shown; docs/process.md):
` + labels.Help()

// runLabels is process.RunLabels from the command line: cdm_labels rows
// for the events of --source, whole UTC days.
func runLabels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("labels", "--methods M,M --symbols A,B --start DAY --end DAY [flags]", labelsExamples, stderr)
	var (
		projectDir = fs.String("project", ".", "project `DIR` holding fdag.yaml and the embedded warehouse")
		methods    = fs.String("methods", "", "comma-separated label `methods`, e.g. fixed_horizon:h=10,triple_barrier:pt=2 (required)")
		symbols    = fs.String("symbols", "", "comma-separated `symbols` (required)")
		startFlag  = fs.String("start", "", "first `day` (YYYY-MM-DD or a UTC midnight), inclusive (required)")
		endFlag    = fs.String("end", "", "end `day`, exclusive (required)")
		source     = fs.String("source", catalog.TradesTable, "events `table`: the trades or a bar table (cdm_bars_...)")
		lookahead  = fs.String("lookahead", "1d", "how far past the end of its UTC day an event's label may look (`duration`)")
		asJSON     = fs.Bool("json", false, "print the summary as JSON on stdout")
	)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	syms := splitList(*symbols)
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected arguments %q", fs.Args())
	case *methods == "":
		return usagef("--methods is required (e.g. fixed_horizon:h=10,triple_barrier:pt=2:sl=1:horizon=1h)")
	case len(syms) == 0:
		return usagef("--symbols is required")
	}
	specs, err := labels.ParseSpecs(*methods)
	if err != nil {
		return usagef("--methods: %v", err)
	}
	la, err := formula.ParseDuration(*lookahead)
	if err != nil || la <= 0 {
		return usagef("--lookahead %q: want a positive duration such as 1d or 6h", *lookahead)
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
	sum, err := process.RunLabels(ctx, wh, process.LabelsRequest{Specs: specs, Symbols: syms, Start: start, End: end,
		Source: *source, Lookahead: time.Duration(la)})
	for _, w := range sum.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if err != nil {
		return missingSourceHint(err, *source)
	}
	if *asJSON {
		return writeJSON(stdout, sum)
	}
	fmt.Fprintf(stdout, "%d shards, %d events from %s\n", sum.Shards, sum.Events, sum.Source)
	fmt.Fprintf(stdout, "%-56s %10s %10s\n", "label_spec", "rows", "labelled")
	for _, s := range sum.Specs {
		fmt.Fprintf(stdout, "%-56s %10d %10d\n", s.Spec, s.Events, s.Labeled)
	}
	fmt.Fprintf(stdout, "committed %d files to %s, snapshot %d\n", sum.Files, sum.Table, sum.SnapshotID)
	return nil
}
