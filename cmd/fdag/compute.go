package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/internal/tableio"
	"github.com/featuredag/fdag/ir"
)

const computeExamples = `  fdag compute --input trades.parquet --features testdata/features/demo.yaml --output features.parquet
  fdag compute --input trades.csv --time-column timestamp --time-unit ms \
      --feature 'ret_1=log(close) - log(lag(close, 1))' --feature 'vol=rolling_std(ret_1, 100)' \
      --output features.csv
  fdag compute --input bars.parquet --alias close=px_last --alias volume=qty --features set.yaml --output out.parquet
`

func runCompute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compute", "--input FILE (--features FILE | --feature NAME=FORMULA...) --output FILE [flags]",
		computeExamples, stderr)
	var (
		input       = fs.String("input", "", "input table, `FILE`.parquet|.pq|.csv (required)")
		featureFile = fs.String("features", "", "feature specs, a YAML or JSON `FILE`")
		output      = fs.String("output", "", "output table, `FILE`.parquet|.pq|.csv (required)")
		timeColumn  = fs.String("time-column", "event_time", "event time `column`")
		symbolCol   = fs.String("symbol-column", "symbol", "symbol `column` (absent: one symbol)")
		timeUnit    = fs.String("time-unit", "", "`unit` (s, ms, us, ns) of an integer time column")
		project     = fs.String("project", ".", "project `DIR` holding FeatureType YAML files")
		compression = fs.String("compression", "snappy", "Parquet output `codec`: snappy, lz4, zstd (level 1) or none (bench/README.md: size and speed)")
		features    listFlag
		aliases     listFlag
	)
	fs.Var(&features, "feature", "inline feature `NAME=FORMULA` (repeatable)")
	fs.Var(&aliases, "alias", "column alias `NAME=COLUMN` (repeatable; added to the defaults close=trade_price, volume=trade_size)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected arguments %q", fs.Args())
	case *input == "":
		return usagef("--input is required")
	case *output == "":
		return usagef("--output is required")
	case *featureFile == "" && len(features) == 0:
		return usagef("give --features FILE or at least one --feature NAME=FORMULA")
	}
	if _, err := tableio.FormatOf(*output); err != nil {
		return usageError{err.Error()}
	}
	codec, err := tableio.ParseCompression(*compression)
	if err != nil {
		return usageError{"--compression: " + err.Error()}
	}
	wopts := tableio.WriteOptions{Compression: codec}
	specs, aliasMap, reg, err := loadRequest(*featureFile, features, aliases, *project)
	if err != nil {
		return err
	}

	start := time.Now()
	mem := memory.DefaultAllocator
	opts := compute.Options{
		TimeColumn:   *timeColumn,
		SymbolColumn: *symbolCol,
		Aliases:      aliasMap,
		Registry:     reg,
		Mem:          mem,
	}
	// Time-ordered input (the usual case) streams: batches are computed and
	// written as they come, and a Parquet input is read batch by batch
	// alongside, only the columns the features read. Otherwise, or when a
	// feature fails mid-way, the whole input is read and the whole output
	// computed first.
	var (
		statuses []compute.FeatureStatus
		rows     int64
		readTime time.Duration
		mode     = "streamed"
	)
	statuses, rows, err = computeParquetStreaming(ctx, *input, specs, opts, *output, wopts, *timeUnit)
	if errors.Is(err, errNotParquetStream) || errors.Is(err, errNotStreamable) {
		readStart := time.Now()
		tbl, rerr := tableio.Read(ctx, *input, mem, tableio.ReadOptions{TimeColumn: *timeColumn, TimeUnit: *timeUnit})
		if rerr != nil {
			return rerr
		}
		defer tbl.Release()
		readTime = time.Since(readStart)
		rows = tbl.NumRows()
		if errors.Is(err, errNotParquetStream) {
			statuses, err = computeTableStreaming(ctx, tbl, specs, opts, *output, wopts)
		}
		if errors.Is(err, errNotStreamable) {
			mode = "in one go"
			statuses, err = computeThenWrite(ctx, tbl, specs, opts, *output, wopts)
		}
	}
	if err != nil {
		return fmt.Errorf("compute %s: %w", *input, err)
	}
	ok := 0
	for _, s := range statuses {
		if s.Status == compute.StatusSuccess {
			ok++
		}
	}
	// Streamed, the three overlap and only the total means anything.
	total := time.Since(start)
	took := fmt.Sprintf("read, compute and write %s: %v", mode, total.Round(time.Millisecond))
	if readTime > 0 {
		took = fmt.Sprintf("read %v, compute and write %s %v, total %v", readTime.Round(time.Millisecond), mode,
			(total - readTime).Round(time.Millisecond), total.Round(time.Millisecond))
	}
	fmt.Fprintf(stderr, "fdag compute: %s, %d/%d features ok, %d failed -> %s (%s)\n",
		count(rows, "row"), ok, len(statuses), len(statuses)-ok, *output, took)
	printFailures(stderr, statuses)
	if ok == 0 {
		return errors.New("no feature could be computed")
	}
	return nil
}

// computeThenWrite computes the whole output, then writes it.
func computeThenWrite(ctx context.Context, tbl arrow.Table, specs []ir.Spec, opts compute.Options, output string, wopts tableio.WriteOptions) ([]compute.FeatureStatus, error) {
	res, err := compute.ComputeFeatures(ctx, specs, []compute.Frame{{Name: "input", Table: tbl}}, opts)
	if err != nil {
		return nil, err // a NoFeaturesError lists every feature's error itself
	}
	defer res.Release()
	if err := tableio.Write(ctx, output, res.Table, wopts); err != nil {
		return nil, err
	}
	return res.Statuses, nil
}

// loadRequest reads what compute and run take from the same flags: the
// specs of --features and --feature, the --alias map and the project's
// FeatureType registry.
func loadRequest(featureFile string, inline, aliases []string, project string) ([]ir.Spec, map[string]string, *ir.Registry, error) {
	specs, aliasMap, err := loadSpecsAndAliases(featureFile, inline, aliases)
	if err != nil {
		return nil, nil, nil, err
	}
	reg, err := loadRegistry(project)
	if err != nil {
		return nil, nil, nil, err
	}
	return specs, aliasMap, reg, nil
}

// loadSpecsAndAliases reads the specs of --features and --feature and the
// --alias map.
func loadSpecsAndAliases(featureFile string, inline, aliases []string) ([]ir.Spec, map[string]string, error) {
	specs, err := loadSpecs(featureFile, inline)
	if err != nil {
		return nil, nil, err
	}
	aliasMap, err := aliasFlags(aliases)
	if err != nil {
		return nil, nil, err
	}
	return specs, aliasMap, nil
}

// loadSpecs reads the spec file, if any, then appends the inline features.
func loadSpecs(path string, inline []string) ([]ir.Spec, error) {
	var specs []ir.Spec
	if path != "" {
		var err error
		if specs, err = ir.LoadSpecs(path); err != nil {
			return nil, fmt.Errorf("features %s: %w", path, err)
		}
	}
	more, err := inlineSpecs(inline)
	if err != nil {
		return nil, err
	}
	specs = append(specs, more...)
	if len(specs) == 0 {
		return nil, usagef("no features requested")
	}
	return specs, nil
}

// aliasFlags returns the default aliases with the --alias flags on top.
func aliasFlags(flags []string) (map[string]string, error) {
	m := maps.Clone(ir.DefaultAliases)
	for _, f := range flags {
		name, column, err := splitNameValue("alias", f)
		if err != nil {
			return nil, err
		}
		m[name] = column
	}
	return m, nil
}

func printFailures(w io.Writer, statuses []compute.FeatureStatus) {
	for _, s := range statuses {
		if s.Status != compute.StatusSuccess {
			// Errors from the compiler already start with the name.
			fmt.Fprintf(w, "%s: %s\n", s.Name, strings.TrimPrefix(s.Error, s.Name+": "))
		}
	}
}
