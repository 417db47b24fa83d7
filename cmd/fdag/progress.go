package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/featuredag/fdag/batch"
)

// runProgress shows a run's progress on w: a bar redrawn in place on a
// terminal (shards done, rows/s, ETA), plain lines otherwise, at most one a
// second (and the last).
type runProgress struct {
	w    io.Writer
	tty  bool
	last time.Time
}

func newRunProgress(w io.Writer) *runProgress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = os.Getenv("TERM") != "dumb"
		}
	}
	return &runProgress{w: w, tty: tty}
}

func (p *runProgress) report(pr batch.Progress) {
	final := pr.Phase != batch.PhaseShards || pr.ShardsDone == pr.ShardsTotal
	if !final && time.Since(p.last) < time.Second && !(p.tty && time.Since(p.last) > 100*time.Millisecond) {
		return
	}
	p.last = time.Now()
	rate := 0.0
	if pr.Elapsed > 0 {
		rate = float64(pr.RowsIn) / pr.Elapsed.Seconds()
	}
	eta := "?"
	if pr.ShardsDone > 0 && pr.ShardsDone < pr.ShardsTotal {
		left := time.Duration(float64(pr.Elapsed) / float64(pr.ShardsDone) * float64(pr.ShardsTotal-pr.ShardsDone))
		eta = left.Round(time.Second).String()
	} else if pr.ShardsDone == pr.ShardsTotal {
		eta = "0s"
	}
	failed := ""
	if pr.Failed > 0 {
		failed = fmt.Sprintf(", %d failed", pr.Failed)
	}
	switch {
	case pr.Phase == batch.PhaseCommit:
		p.line(fmt.Sprintf("committing %d narrow rows", pr.RowsOut), true)
	case pr.Phase == batch.PhaseCommitted:
		p.line(fmt.Sprintf("committed %d narrow rows in %s", pr.RowsOut, pr.Elapsed.Round(time.Millisecond)), true)
	case p.tty:
		const width = 30
		done := width * pr.ShardsDone / max(pr.ShardsTotal, 1)
		bar := strings.Repeat("#", done) + strings.Repeat(".", width-done)
		p.line(fmt.Sprintf("[%s] %d/%d shards%s  %.0f rows/s  ETA %s", bar, pr.ShardsDone, pr.ShardsTotal, failed, rate, eta), final)
	default:
		p.line(fmt.Sprintf("%d/%d shards%s, %d rows in, %.0f rows/s, ETA %s", pr.ShardsDone, pr.ShardsTotal, failed, pr.RowsIn, rate, eta), true)
	}
}

// line writes s: on a terminal over the previous line (ending it when
// final), else as its own line.
func (p *runProgress) line(s string, final bool) {
	if !p.tty {
		fmt.Fprintf(p.w, "fdag run: %s\n", s)
		return
	}
	fmt.Fprintf(p.w, "\r\033[K%s", s)
	if final {
		fmt.Fprintln(p.w)
	}
}
