package main

import (
	"context"
	"fmt"
	"io"

	"github.com/featuredag/fdag/catalog"
)

const compactExamples = `  fdag compact --project . --table ft_features
  fdag compact --table ft_features --where feature_name=ret_1 --start 2024-01-02 --end 2024-01-03
  fdag compact --table cdm_trade_enriched --symbols BTCUSDT --dry-run
`

// runCompact rewrites the small data files of a table's partitions into
// few large ones, in one transaction (catalog.Warehouse.Compact).
func runCompact(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compact", "[--project DIR] [--table T] [--symbols A,B] [--start T] [--end T] [--where COL=V...] [--min-files N] [--target-mb MB] [--dry-run] [--json]",
		compactExamples, stderr)
	var (
		project   = fs.String("project", ".", "project `DIR`")
		tableName = fs.String("table", "", "the `table` to compact (default: every table of the warehouse)")
		minFiles  = fs.Int("min-files", 2, "rewrite a partition when it has at least `N` small files")
		targetMB  = fs.Int64("target-mb", catalog.DefaultCompactTarget>>20, "size of the files written, in `MB` (files under 3/4 of it are small)")
		dryRun    = fs.Bool("dry-run", false, "say what would be rewritten, write nothing")
		asJSON    = fs.Bool("json", false, "print the reports as JSON")
	)
	filter := addQueryFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected arguments %q", fs.Args())
	case *minFiles < 2:
		return usagef("--min-files %d: a partition needs at least 2 files to gain from a rewrite", *minFiles)
	case *targetMB < 1:
		return usagef("--target-mb %d: want at least 1", *targetMB)
	}
	q, err := filter.query()
	if err != nil {
		return err
	}
	proj, wh, err := openWarehouse(ctx, *project)
	if err != nil {
		return err
	}
	defer proj.Close()
	names, err := tablesOrAll(ctx, wh, *tableName)
	if err != nil {
		return err
	}
	if *tableName != "" && len(q.Equal) > 0 {
		if err := checkWhere(ctx, wh, *tableName, q.Equal); err != nil {
			return err
		}
	}
	opts := catalog.CompactOptions{Query: q, MinFiles: *minFiles, TargetBytes: *targetMB << 20, DryRun: *dryRun}
	var reports []catalog.CompactReport
	for _, n := range names {
		rep, err := wh.Compact(ctx, n, opts)
		if err != nil {
			return err
		}
		reports = append(reports, rep)
	}
	if *asJSON {
		return writeJSON(stdout, reports)
	}
	for _, r := range reports {
		switch {
		case *dryRun:
			fmt.Fprintf(stdout, "%s: would rewrite %s (%s, %s); the table has %s\n", r.Table, count(int64(r.Partitions), "partition"),
				count(int64(r.FilesBefore), "small file"), mib(r.BytesBefore), count(int64(r.TableFilesBefore), "data file"))
		case r.Partitions == 0 && len(r.Changed) == 0:
			fmt.Fprintf(stdout, "%s: nothing to compact (%s; no partition with %d or more small files)\n", r.Table,
				count(int64(r.TableFilesBefore), "data file"), *minFiles)
		default:
			fmt.Fprintf(stdout, "%s: rewrote %s: %s -> %d (%s -> %s), %s; table %d -> %s, snapshot %d, %.1f s\n",
				r.Table, count(int64(r.Partitions), "partition"), count(int64(r.FilesBefore), "file"), r.FilesAfter,
				mib(r.BytesBefore), mib(r.BytesAfter), count(r.Rows, "row"), r.TableFilesBefore, count(int64(r.TableFilesAfter), "data file"),
				r.SnapshotID, r.Seconds)
		}
		for _, p := range r.Changed {
			fmt.Fprintf(stderr, "fdag compact: %s %s: changed by a concurrent writer while compacting; left as that writer committed it (run again to compact it)\n", r.Table, p)
		}
		for _, p := range r.Skipped {
			fmt.Fprintf(stderr, "fdag compact: %s %s: skipped\n", r.Table, p)
		}
	}
	return nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
