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
`

func runDemoData(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo-data", "--out DIR [--rows N] [--symbols A,B,...] [--seed S] [--format parquet|csv]",
		demoDataExamples, stderr)
	var (
		out     = fs.String("out", "", "output `DIR` (created); the file is DIR/demo.FORMAT (required)")
		rows    = fs.Int("rows", 1_000_000, "total `rows` over all symbols")
		symbols = fs.String("symbols", strings.Join(demodata.DefaultSymbols, ","), "comma-separated `symbols`")
		seed    = fs.Int64("seed", 1, "random `seed`: the same seed writes the same bytes")
		format  = fs.String("format", "parquet", "`format`: parquet or csv")
	)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected arguments %q", fs.Args())
	case *out == "":
		return usagef("--out is required")
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
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(*out, "demo."+*format)
	start := time.Now()
	rdr := demodata.NewReader(demodata.Config{Symbols: syms, Rows: *rows, Seed: *seed}, nil)
	defer rdr.Release()
	if err := tableio.WriteRecords(ctx, path, rdr, tableio.WriteOptions{}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", path)
	fmt.Fprintf(stderr, "fdag demo-data: %d rows, %d symbols -> %s (%v)\n", *rows, len(syms), path,
		time.Since(start).Round(time.Millisecond))
	return nil
}
