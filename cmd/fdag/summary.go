package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/featuredag/fdag/batch"
)

// printSummary writes a run's summary as a table: one line per shard, the
// totals and the time split.
func printSummary(w io.Writer, s batch.Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "symbol\tstart\tend\tstatus\trows in\twarmup\trows out\tfeatures ok\tfailed\tretries\tseconds\t")
	for _, sh := range s.Shards {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.2f\t\n", sh.Symbol, shortTime(sh.Start), shortTime(sh.End),
			sh.Status, sh.RowsIn, sh.WarmupRows, sh.RowsOut, sh.FeaturesOK, sh.FeaturesFailed, sh.Retries, sh.Seconds)
	}
	t := s.Totals
	fmt.Fprintf(tw, "total\t%d shards\t\t%d failed\t%d\t%d\t%d\t%d\t%d\t%d\t%.2f\t\n", t.Shards, t.ShardsFailed,
		t.RowsIn, t.WarmupRows, t.RowsOut, t.FeaturesOK, t.FeaturesFailed, t.Retries, s.Timing.Wall)
	tw.Flush()
	tm := s.Timing
	fmt.Fprintf(w, "time: read %.2fs, compute %.2fs, encode+write %.2fs (summed over shards), commit %.2fs, wall %.2fs",
		tm.Read, tm.Compute, tm.Write, tm.Commit, tm.Wall)
	if tm.Wall > 0 {
		fmt.Fprintf(w, "; %.1f shards/s, %.0f narrow rows/s", float64(t.Shards)/tm.Wall, float64(t.RowsOut)/tm.Wall)
	}
	fmt.Fprintln(w)
	if s.Committed {
		fmt.Fprintf(w, "committed %d ft_features rows in %d files, snapshot %d (run %s)\n", t.RowsOut, s.Files, s.SnapshotID, s.Run)
	} else {
		fmt.Fprintf(w, "nothing committed (run %s)\n", s.Run)
	}
}

// shortTime is a date at UTC midnight, otherwise RFC 3339.
func shortTime(t time.Time) string {
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}
