package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/featuredag/fdag/catalog"
)

const gcExamples = `  fdag gc --project . --dry-run
  fdag gc --project . --expire-snapshots 168h --retain-last 5
`

// runGC removes what no snapshot references: the staged files of runs that
// died before their commit (at once: their lease is dead), other
// unreferenced data files older than --older-than, and, on request, old
// snapshots with the files only they held.
func runGC(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("gc", "[--project DIR] [--table T] [--dry-run] [--older-than D] [--expire-snapshots D [--retain-last N]] [--json]", gcExamples, stderr)
	var (
		project   = fs.String("project", ".", "project `DIR`")
		tableName = fs.String("table", "", "only this `table` (default: every table of the warehouse)")
		dryRun    = fs.Bool("dry-run", false, "list what would be removed, remove nothing")
		olderThan = fs.Duration("older-than", time.Hour, "remove unreferenced files that name no run once they are older than `D` (files of dead runs go at once; files of live runs stay)")
		expire    = fs.Duration("expire-snapshots", 0, "first expire snapshots older than `D` (0: keep every snapshot)")
		retain    = fs.Int("retain-last", 1, "with --expire-snapshots, keep at least the last `N` snapshots")
		asJSON    = fs.Bool("json", false, "print the reports as JSON")
	)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if *retain < 1 {
		return usagef("--retain-last must be at least 1")
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
	opts := catalog.GCOptions{DryRun: *dryRun, OlderThan: *olderThan, ExpireSnapshotsOlderThan: *expire, RetainLast: *retain}
	var reports []catalog.GCReport
	for _, n := range names {
		rep, err := wh.CollectGarbage(ctx, n, opts)
		if err != nil {
			return err
		}
		reports = append(reports, rep)
	}
	if *asJSON {
		return writeJSON(stdout, reports)
	}
	verb := "removed"
	if *dryRun {
		verb = "would remove"
	}
	for _, r := range reports {
		fmt.Fprintf(stdout, "%s: %s %d files of dead runs and %d old unreferenced files (%d bytes), %d dead run leases, %d snapshots expired; kept %d files of live runs and %d recent unreferenced files\n",
			r.Table, verb, len(r.DeadRunFiles), len(r.OldOrphanFiles), r.Bytes, len(r.DeadLeases), r.ExpiredSnapshots, r.LiveRunFiles, r.YoungOrphanFiles)
		if *dryRun {
			for _, f := range append(r.DeadRunFiles, r.OldOrphanFiles...) {
				fmt.Fprintf(stdout, "  %s\n", f)
			}
		}
	}
	return nil
}
