// Command fdag computes quant features from tick data by formula.
//
//	fdag compute   --input FILE --features FILE --output FILE
//	fdag explain   [--features FILE] [--dot] [FORMULA...]
//	fdag demo-data --out DIR [--rows N] | --project DIR
//	fdag ingest    [--table T] [--project DIR] FILE...
//	fdag run       --project DIR --features FILE --symbols A,B --start T --end T
//	fdag bars      --project DIR --kinds tick:500,time:1m --symbols A,B --start DAY --end DAY
//	fdag labels    --project DIR --methods fixed_horizon:h=10,... --symbols A,B --start DAY --end DAY [--source T]
//	fdag gc        [--project DIR] [--dry-run] [--expire-snapshots D]
//	fdag compact   [--project DIR] [--table T] [--where COL=V] [--dry-run]
//	fdag plan      --project DIR --features FILE --symbols A,B --start T --end T  (a distributed run)
//	fdag shard     --project DIR < SHARD.json
//	fdag commit    --project DIR COMMIT.json
//	fdag read      --table T [--symbols A,B] [--start T] [--end T] --output FILE | --list
//
// Run `fdag COMMAND --help` for each command's flags and examples.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/featuredag/fdag/internal/cpuprofile"
)

// Exit statuses: 1 when the request cannot run at all, 2 for usage errors.
const (
	exitFailure = 1
	exitUsage   = 2
)

// command is one subcommand; run gets the arguments after its name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"compute", "compute features of a table into a wide table", runCompute},
	{"explain", "show the compiled feature DAG (text or Graphviz)", runExplain},
	{"demo-data", "write deterministic synthetic trades", runDemoData},
	{"ingest", "append trade files (Parquet, CSV, Binance dumps) to a warehouse table", runIngest},
	{"run", "compute features from the warehouse and write ft_features", runRun},
	{"plan", "print the shard configs of a distributed run (for fdag shard)", runPlan},
	{"shard", "run one shard config on a worker; print its staged data files", runShardCmd},
	{"lease", "hold a distributed run's lease until stdin closes (gc keeps its files)", runLease},
	{"commit", "commit the staged files of a distributed run in one transaction", runCommit},
	{"bars", "compute bar tables (time, tick, volume, dollar, imbalance, run) from the trades", runBars},
	{"labels", "label events (trades or bars) into cdm_labels: fixed horizon, triple barrier, meta, trend scan, cross-section", runLabels},
	{"read", "export rows of a warehouse table (or --list the tables)", runRead},
	{"gc", "remove staged files of dead runs and unreferenced files; expire old snapshots", runGC},
	{"compact", "rewrite a table's small data files into few large ones (one transaction)", runCompact},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	stopProfile := cpuprofile.Start("fdag", os.Stderr)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopProfile()
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, new(usageError)):
			fmt.Fprintf(stderr, "fdag %s: %v\n", c.name, err)
			return exitUsage
		default:
			fmt.Fprintf(stderr, "fdag %s: %v\n", c.name, err)
			return exitFailure
		}
	}
	fmt.Fprintf(stderr, "fdag: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: fdag COMMAND [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'fdag COMMAND --help' for the flags and examples of a command.")
}
