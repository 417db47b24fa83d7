// Command fdagbench is the in-process (Go) fdag runner of bench/: it reads
// the input Parquet file, computes a feature set with compute.ComputeFeatures
// and prints one JSON line with the timings. The computation is timed alone
// (the input is already in memory, the output is materialised as an Arrow
// table, as the Python runners do); --output also writes the result, after
// the timing, for the agreement check. FDAG_CPUPROFILE=FILE writes a CPU
// profile of the run (internal/cpuprofile).
//
//	go run ./bench/fdagbench --input trades.parquet --features testdata/features/demo.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/internal/cpuprofile"
	"github.com/featuredag/fdag/internal/tableio"
	"github.com/featuredag/fdag/ir"
)

func main() {
	input := flag.String("input", "", "input trades, Parquet (required)")
	features := flag.String("features", "", "feature specs, JSON or YAML (required)")
	output := flag.String("output", "", "write the wide output here after timing (optional)")
	parallelism := flag.Int("parallelism", 0, "workers at most, over symbols and within one (0: GOMAXPROCS)")
	flag.Parse()
	if *input == "" || *features == "" {
		fmt.Fprintln(os.Stderr, "usage: fdagbench --input FILE.parquet --features FILE [--output FILE.parquet]")
		os.Exit(2)
	}
	stopProfile := cpuprofile.Start("fdagbench", os.Stderr)
	err := run(*input, *features, *output, *parallelism)
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fdagbench:", err)
		os.Exit(1)
	}
}

func run(input, features, output string, parallelism int) error {
	ctx := context.Background()
	specs, err := ir.LoadSpecs(features)
	if err != nil {
		return err
	}
	t0 := time.Now()
	tbl, err := tableio.Read(ctx, input, memory.DefaultAllocator, tableio.ReadOptions{})
	if err != nil {
		return err
	}
	defer tbl.Release()
	load := time.Since(t0)

	t1 := time.Now()
	res, err := compute.ComputeFeatures(ctx, specs, []compute.Frame{{Name: "trades", Table: tbl}},
		compute.Options{Parallelism: parallelism})
	if err != nil {
		return err
	}
	elapsed := time.Since(t1)
	defer res.Release()
	if failed := res.Failed(); len(failed) > 0 {
		return fmt.Errorf("%d features failed, first %s: %s", len(failed), failed[0].Name, failed[0].Error)
	}
	if output != "" {
		if err := tableio.Write(ctx, output, res.Table, tableio.WriteOptions{}); err != nil {
			return err
		}
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"rows":      tbl.NumRows(),
		"features":  len(res.Statuses),
		"load_s":    load.Seconds(),
		"compute_s": elapsed.Seconds(),
	})
}
