package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/internal/tableio"
)

const demoDataExamples = `  fdag demo-data --out /tmp/demo                       # /tmp/demo/demo.parquet, 1M rows
  fdag demo-data --out data --rows 10000000 --seed 42
  fdag demo-data --out data --rows 1000 --symbols BTCUSDT,ETHUSDT --format csv
  fdag demo-data --project . --rows 200000 --days 3   # into the warehouse's cdm_trade_enriched
`

func runDemoData(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo-data", "(--out DIR | --project DIR) [--rows N] [--symbols A,B,...] [--seed S] [--format parquet|csv] [--days D]",
		demoDataExamples, stderr)
	var (
		out     = fs.String("out", "", "output `DIR` (created); the file is DIR/demo.FORMAT (required)")
		rows    = fs.Int("rows", 1_000_000, "total `rows` over all symbols")
		symbols = fs.String("symbols", strings.Join(demodata.DefaultSymbols, ","), "comma-separated `symbols`")
		seed    = fs.Int64("seed", 1, "random `seed`: the same seed writes the same bytes")
		format  = fs.String("format", "parquet", "`format`: parquet or csv")
		project = fs.String("project", "", "project `DIR`: ingest into its warehouse's cdm_trade_enriched instead of writing a file")
		days    = fs.Float64("days", 0, "spread the trades over about this many `days` from 2024-01-02 (default: 20ms mean gap)")
	)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected arguments %q", fs.Args())
	case *out == "" && *project == "":
		return usagef("--out or --project is required")
	case *out != "" && *project != "":
		return usagef("give --out or --project, not both")
	case *rows <= 0:
		return usagef("--rows must be positive")
	case *format != "parquet" && *format != "csv":
		return usagef("--format %q: want parquet or csv", *format)
	}
	var syms []string
	for _, s := range strings.Split(*symbols, ",") {
		if s = strings.TrimSpace(s); s != "" {
			syms = append(syms, s)
		}
	}
	if len(syms) == 0 {
		return usagef("--symbols is empty")
	}
	cfg := demodata.Config{Symbols: syms, Rows: *rows, Seed: *seed}
	if *days > 0 {
		cfg.MeanGap = time.Duration(*days * float64(24*time.Hour) / float64(*rows))
	}
	if *project != "" {
		return demoDataToWarehouse(ctx, *project, cfg, stdout)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(*out, "demo."+*format)
	start := time.Now()
	rdr := demodata.NewReader(cfg, nil)
	defer rdr.Release()
	if err := tableio.WriteRecords(ctx, path, rdr, tableio.WriteOptions{}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", path)
	fmt.Fprintf(stderr, "fdag demo-data: %d rows, %d symbols -> %s (%v)\n", *rows, len(syms), path,
		time.Since(start).Round(time.Millisecond))
	return nil
}
