package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// RunIDProperty is the snapshot summary property that names the batch run
// whose commit made the snapshot. CommitRun looks for it before committing,
// so that committing the same run twice (a driver that retries its commit,
// or that is restarted after the commit went through) adds its rows once.
const RunIDProperty = "fdag.run-id"

// errRunCommitted stops a commit attempt that finds its run committed.
var errRunCommitted = errors.New("run already committed")

// ErrNoRunID is returned by CommitRun for an empty run id.
var ErrNoRunID = errors.New("a run id is required to commit a run")

// RunCommit is what CommitRun did.
type RunCommit struct {
	CommitStats
	// AlreadyCommitted: the run's snapshot was found on the table's current
	// branch, so nothing was committed again.
	AlreadyCommitted bool
	// Discarded counts given files that were removed because the run had
	// already been committed with other files (a re-run of the shards
	// under the same run id).
	Discarded int
}

// RunSnapshot returns the id of the snapshot of ft_features that run id
// committed, looking through the ancestry of the current snapshot (a
// snapshot that was rolled back or expired does not count); ok is false
// when the run has not been committed.
func (w *Warehouse) RunSnapshot(ctx context.Context, runID string) (id int64, ok bool, err error) {
	tbl, err := w.Table(ctx, FeaturesTable)
	if err != nil {
		return 0, false, err
	}
	id, ok = runSnapshot(tbl, runID)
	return id, ok, nil
}

func runSnapshot(tbl *table.Table, runID string) (int64, bool) {
	meta := tbl.Metadata()
	seen := map[int64]bool{}
	for s := tbl.CurrentSnapshot(); s != nil && !seen[s.SnapshotID]; {
		seen[s.SnapshotID] = true
		if s.Summary != nil && s.Summary.Properties[RunIDProperty] == runID {
			return s.SnapshotID, true
		}
		if s.ParentSnapshotID == nil {
			break
		}
		s = meta.SnapshotByID(*s.ParentSnapshotID)
	}
	return 0, false
}

// CommitRun is CommitFeatures for a run with an id, idempotent per id: the
// snapshot it makes carries the id (RunIDProperty), and when the id is
// already on the table's branch nothing is committed again and the result
// says AlreadyCommitted (given files that the table does not hold are
// removed, as they would be orphans). A commit whose outcome is unknown
// (the catalog failed after it may have accepted it) is resolved by
// looking for the id again.
//
// The check and the commit are not one atomic step: two processes
// committing the same run id at the same moment could both commit. One
// driver commits a run, so a run id is committed by one process at a time;
// different runs may commit concurrently (the catalog's optimistic commits
// serialise them).
func (w *Warehouse) CommitRun(ctx context.Context, runID string, scope FeatureScope, staged ...StagedFiles) (RunCommit, error) {
	if runID == "" {
		return RunCommit{}, ErrNoRunID
	}
	start := time.Now()
	tbl, err := w.Table(ctx, FeaturesTable)
	if err != nil {
		return RunCommit{}, err
	}
	var files []iceberg.DataFile
	var rows int64
	for _, s := range staged {
		files = append(files, s.Files...)
		rows += s.Rows
	}
	if snap, ok := runSnapshot(tbl, runID); ok {
		return w.alreadyCommitted(ctx, tbl, runID, snap, scope, files, start)
	}
	props := iceberg.Properties{"fdag.operation": "features", RunIDProperty: runID}
	// A retry after a conflict looks for the run again: the other writer
	// may have been this run's other driver.
	var committedBy int64
	snap, err := w.commitFiles(ctx, tbl, scope.filter(), files, props, func(cur *table.Table) error {
		if id, ok := runSnapshot(cur, runID); ok {
			committedBy, tbl = id, cur
			return errRunCommitted
		}
		return nil
	})
	if errors.Is(err, errRunCommitted) {
		return w.alreadyCommitted(ctx, tbl, runID, committedBy, scope, files, start)
	}
	if err != nil {
		// The outcome may be unknown: look for the run before giving up.
		if again, lerr := w.Table(ctx, FeaturesTable); lerr == nil {
			if id, ok := runSnapshot(again, runID); ok {
				w.log.Warn("commit reported an error but the run is committed", "run", runID, "snapshot", id, "err", err)
				return RunCommit{CommitStats: CommitStats{Rows: rows, Files: len(files), SnapshotID: id, Elapsed: time.Since(start)}}, nil
			}
		}
		return RunCommit{}, fmt.Errorf("commit run %s to %s: %w", runID, FeaturesTable, err)
	}
	st := CommitStats{Rows: rows, Files: len(files), SnapshotID: snap, Elapsed: time.Since(start)}
	w.log.Info("run committed", "run", runID, "rows", rows, "files", len(files), "features", len(scope.Features),
		"symbols", len(scope.Symbols), "snapshot", snap, "elapsed", st.Elapsed.Round(time.Millisecond))
	return RunCommit{CommitStats: st}, nil
}

// alreadyCommitted answers a repeated commit of a run: nothing is
// committed; files the table does not hold are removed.
func (w *Warehouse) alreadyCommitted(ctx context.Context, tbl *table.Table, runID string, snap int64, scope FeatureScope,
	files []iceberg.DataFile, start time.Time) (RunCommit, error) {
	live, err := liveFiles(ctx, tbl, scope.filter())
	if err != nil {
		return RunCommit{}, fmt.Errorf("run %s is committed (snapshot %d); listing its files: %w", runID, snap, err)
	}
	var orphans []iceberg.DataFile
	for _, f := range files {
		if !live[f.FilePath()] {
			orphans = append(orphans, f)
		}
	}
	w.removeFiles(ctx, tbl, orphans)
	out := RunCommit{AlreadyCommitted: true, Discarded: len(orphans)}
	out.SnapshotID, out.Elapsed = snap, time.Since(start)
	out.Files = len(files) - len(orphans)
	for _, f := range files {
		if live[f.FilePath()] {
			out.Rows += f.Count()
		}
	}
	w.log.Info("run already committed: nothing to do", "run", runID, "snapshot", snap, "discarded files", len(orphans))
	return out, nil
}

// liveFiles is the set of data file paths of tbl's current snapshot that
// may hold rows matching filter (nil: all).
func liveFiles(ctx context.Context, tbl *table.Table, filter iceberg.BooleanExpression) (map[string]bool, error) {
	opts := []table.ScanOption{}
	if filter != nil {
		opts = append(opts, table.WithRowFilter(filter))
	}
	tasks, err := tbl.Scan(opts...).PlanFiles(ctx)
	if err != nil {
		return nil, err
	}
	live := make(map[string]bool, len(tasks))
	for _, t := range tasks {
		live[t.File.FilePath()] = true
	}
	return live, nil
}
