package catalog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// Concurrent writers. Every fdag write (ingest, DoPut, feature writes, batch
// commits) is an optimistic Iceberg commit: the change is staged on the
// table's current snapshot and the catalog accepts it only if that snapshot
// is still current. When another writer got there first the catalog refuses
// the commit and nothing of it lands; iceberg-go's own replay
// (commit.retry.num-retries) does not cover the SQL catalog's "requirement
// failed: branch main has changed" (issue 8: two `fdag ingest` at once
// failed one of them every time). CommitWithRetry is the one place that
// retries: it loads the table again and re-applies the change on the new
// snapshot.

// MaxCommitAttempts is how many times CommitWithRetry tries a commit that
// keeps conflicting with other writers.
const MaxCommitAttempts = 12

// commitBackoff is the first wait between attempts; it doubles (with
// jitter) up to maxCommitBackoff.
const (
	commitBackoff    = 20 * time.Millisecond
	maxCommitBackoff = 2 * time.Second
)

// IsCommitConflict reports whether err is a commit the catalog refused
// because the table changed underneath it: nothing was committed, and the
// same change re-applied on the new snapshot may succeed.
func IsCommitConflict(err error) bool {
	if err == nil {
		return false
	}
	// ErrCommitDiverged: iceberg-go's own replay found that another writer
	// removed files this commit rewrites; a fresh attempt starts from the
	// new snapshot, where that is no conflict.
	return errors.Is(err, table.ErrCommitFailed) || errors.Is(err, table.ErrCommitDiverged) ||
		strings.Contains(err.Error(), "requirement failed:")
}

// Attempt is one try of CommitWithRetry: the table as it is now and a
// transaction on it.
type Attempt struct {
	Table *table.Table
	Tx    *table.Transaction
	// Number counts attempts from 1.
	Number int
	added  map[string]bool
}

// AddDataFiles adds data files the caller wrote to the transaction. Use it
// rather than Tx.AddDataFiles: files added this way are the caller's and
// are never removed by CommitWithRetry, whereas files a failed attempt
// wrote itself are.
func (a *Attempt) AddDataFiles(ctx context.Context, files []iceberg.DataFile, props iceberg.Properties) error {
	for _, f := range files {
		a.added[f.FilePath()] = true
	}
	return a.Tx.AddDataFiles(ctx, files, props)
}

// CommitWithRetry commits one change to tbl. apply stages the change on
// a.Tx, a transaction of a.Table, the table as it is now (tbl on the first
// attempt). When the commit conflicts with another writer's, the table is
// loaded again and apply is called again with a new transaction, up to
// MaxCommitAttempts times with a growing, jittered wait, so apply must be
// repeatable: add the same data files again (Attempt.AddDataFiles),
// evaluate a delete again on the new snapshot (a replace then also replaces
// what the other writer committed: the last writer wins). An error from
// apply stops without committing and is returned as it is. The result is
// the table as committed.
//
// Data files that a failed attempt wrote itself (a delete rewriting a file
// it only partly matches) are removed before the next attempt; the caller's
// files stay theirs, committed or not.
func (w *Warehouse) CommitWithRetry(ctx context.Context, tbl *table.Table, apply func(a *Attempt) error) (*table.Table, error) {
	cur := tbl
	wait := commitBackoff
	for attempt := 1; ; attempt++ {
		a := &Attempt{Table: cur, Tx: cur.NewTransaction(), Number: attempt, added: map[string]bool{}}
		if err := apply(a); err != nil {
			w.removeRewrites(ctx, a)
			return nil, err
		}
		out, err := a.Tx.Commit(ctx)
		if err == nil {
			if attempt > 1 {
				w.log.Info("committed after conflicts with concurrent writers", "table", tableName(tbl), "attempts", attempt)
			}
			return out, nil
		}
		if !IsCommitConflict(err) {
			return nil, fmt.Errorf("commit: %w", err)
		}
		w.removeRewrites(ctx, a)
		if attempt == MaxCommitAttempts {
			return nil, fmt.Errorf("commit: %d attempts conflicted with concurrent writers to %s; nothing was committed, try again: %w",
				attempt, tableName(tbl), err)
		}
		w.log.Debug("commit conflicted with a concurrent writer; retrying on the new snapshot", "table", tableName(tbl), "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("commit: %w (after a conflict with a concurrent writer: %v)", ctx.Err(), err)
		case <-time.After(wait/2 + rand.N(wait/2+1)):
		}
		wait = min(2*wait, maxCommitBackoff)
		if cur, err = w.cat.LoadTable(ctx, tbl.Identifier()); err != nil {
			return nil, fmt.Errorf("commit: reload %s after a conflict: %w", tableName(tbl), err)
		}
	}
}

// removeRewrites removes the data files an uncommitted attempt wrote
// itself: live in its staged snapshot, not in the table it started from,
// not added by the caller. Best effort; what cannot be listed is left for
// `fdag gc`.
func (w *Warehouse) removeRewrites(ctx context.Context, a *Attempt) {
	staged, err := a.Tx.StagedTable()
	if err != nil || staged.CurrentSnapshot() == nil {
		return
	}
	if cs := a.Table.CurrentSnapshot(); cs != nil && cs.SnapshotID == staged.CurrentSnapshot().SnapshotID {
		return // nothing staged
	}
	after, err := liveDataFiles(ctx, staged.Table)
	if err != nil {
		return
	}
	before := map[string]iceberg.DataFile{}
	if a.Table.CurrentSnapshot() != nil {
		if before, err = liveDataFiles(ctx, a.Table); err != nil {
			return
		}
	}
	var orphans []iceberg.DataFile
	for p, f := range after {
		if _, old := before[p]; !old && !a.added[p] {
			orphans = append(orphans, f)
		}
	}
	w.removeFiles(ctx, a.Table, orphans)
}

// liveDataFiles maps the paths of tbl's current data files to them.
func liveDataFiles(ctx context.Context, tbl *table.Table) (map[string]iceberg.DataFile, error) {
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]iceberg.DataFile, len(tasks))
	for _, t := range tasks {
		out[t.File.FilePath()] = t.File
	}
	return out, nil
}

func tableName(tbl *table.Table) string {
	id := tbl.Identifier()
	return id[len(id)-1]
}
