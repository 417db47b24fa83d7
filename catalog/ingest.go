package catalog

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// Source is one named input of an ingest: its batches in any schema that
// conforms to the table (columns matched by name, numbers and timestamps
// cast). Ingest does not release the batches the iterator yields; a
// producer that hands over fresh batches releases them after yield returns.
type Source struct {
	Name    string // file name or "flight": used in errors and the snapshot summary
	Batches iter.Seq2[arrow.RecordBatch, error]
}

// ReaderSource is a Source over a record reader's batches, ending with the
// reader's error if it has one. The caller keeps ownership of rdr.
func ReaderSource(name string, rdr array.RecordReader) Source {
	return Source{Name: name, Batches: func(yield func(arrow.RecordBatch, error) bool) {
		for rdr.Next() {
			if !yield(rdr.RecordBatch(), nil) {
				return
			}
		}
		if err := rdr.Err(); err != nil {
			yield(nil, err)
		}
	}}
}

// SourceError is the failure of one ingest source; Row is set (RowError)
// when a value is at fault.
type SourceError struct {
	Source string
	Err    error
}

func (e *SourceError) Error() string {
	msg := e.Err.Error()
	if strings.HasPrefix(msg, e.Source) {
		return msg // the reader already names the file (and line)
	}
	return e.Source + ": " + msg
}
func (e *SourceError) Unwrap() error { return e.Err }

// IngestStats summarises a commit.
type IngestStats struct {
	Rows       int64 // rows added
	Duplicates int64 // rows skipped: their key (symbol, trade_id) was stored or came earlier (dedup.go)
	WithoutKey int64 // rows added without a key (null trade_id), so not checked for repeats
	Files      int   // data files added
	SnapshotID int64
	Elapsed    time.Duration
	// Dropped names, per source, the input columns the table has no
	// column for: they were not stored.
	Dropped []DroppedColumns
}

// DroppedColumns are the columns of one ingest source that the table has
// no column for.
type DroppedColumns struct {
	Source  string   `json:"source"`
	Columns []string `json:"columns"`
}

// Ingest appends every source to table name in one transaction: either all
// rows of all sources are committed or none (a failing source leaves the
// table as it was; the data files written before the failure are removed).
// Known tables are created on first use. symbol and the table's time column
// are required in every row. A table with a Key (cdm_trade_enriched) skips
// rows whose key it already holds (dedup.go has the rule).
func (w *Warehouse) Ingest(ctx context.Context, name string, sources ...Source) (IngestStats, error) {
	start := time.Now()
	existed, _ := w.cat.CheckTableExists(ctx, w.ident(name))
	tbl, err := w.Table(ctx, name)
	if err != nil {
		return IngestStats{}, err
	}
	// A failed first ingest leaves no empty table behind (issue 8: a
	// failed DoPut into a missing table created it).
	committed := false
	defer func() {
		if !existed && !committed {
			w.dropIfEmpty(ctx, name)
		}
	}()
	target, err := arrowSchema(tbl)
	if err != nil {
		return IngestStats{}, fmt.Errorf("table %s: %w", name, err)
	}
	var required []string
	var dd *dedup
	if def, ok := KnownTables[name]; ok {
		required = []string{ColSymbol, def.TimeColumn}
		dd = newDedup(w, name, tbl, def)
	}
	var failed error
	var rows int64
	var dropped []DroppedColumns
	batches := func(yield func(arrow.RecordBatch, error) bool) {
		for _, src := range sources {
			c := &conformer{target: target, requiredCols: required, mem: w.mem}
			for rec, err := range src.Batches {
				if err == nil {
					rec, err = c.conform(ctx, rec)
				}
				if err == nil && dd != nil {
					var kept arrow.RecordBatch
					kept, err = dd.filter(ctx, rec, w.mem)
					rec.Release()
					rec = kept
				}
				if err != nil {
					failed = &SourceError{Source: src.Name, Err: err}
					yield(nil, failed)
					return
				}
				if rec.NumRows() == 0 {
					rec.Release()
					continue
				}
				rows += rec.NumRows()
				if !yield(rec, nil) {
					return
				}
			}
			if len(c.dropped) > 0 {
				dropped = append(dropped, DroppedColumns{Source: src.Name, Columns: c.dropped})
			}
		}
	}
	names := make([]string, len(sources))
	for i, s := range sources {
		names[i] = s.Name
	}
	files, err := w.writeFiles(ctx, tbl, target, batches)
	if err != nil {
		if failed != nil {
			err = failed
		}
		return IngestStats{}, fmt.Errorf("ingest into %s: %w", name, err)
	}
	var check func(cur *table.Table) error
	if dd != nil {
		check = func(cur *table.Table) error { return dd.recheck(ctx, cur) }
	}
	snap, err := w.commitFiles(ctx, tbl, nil, files, iceberg.Properties{
		"fdag.operation": "ingest",
		"fdag.sources":   truncate(fmt.Sprint(names), 1000),
	}, check)
	if err != nil {
		w.removeFiles(ctx, tbl, files)
		return IngestStats{}, fmt.Errorf("ingest into %s: %w", name, err)
	}
	committed = true
	st := IngestStats{Rows: rows, Files: len(files), SnapshotID: snap, Elapsed: time.Since(start), Dropped: dropped}
	if dd != nil {
		st.Duplicates, st.WithoutKey = dd.duplicates, dd.withoutKey
	}
	w.log.Info("ingest committed", "table", name, "sources", len(sources), "rows", rows, "duplicates", st.Duplicates,
		"files", len(files), "elapsed", st.Elapsed.Round(time.Millisecond))
	return st, nil
}

// arrowSchema is the Arrow schema of a table, with Iceberg field ids.
func arrowSchema(tbl *table.Table) (*arrow.Schema, error) {
	return table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
}

// writeFiles writes the batches as Parquet data files of tbl (split by
// partition) without committing them: the worker half of a write. On error
// the files already written are removed.
func (w *Warehouse) writeFiles(ctx context.Context, tbl *table.Table, schema *arrow.Schema, batches iter.Seq2[arrow.RecordBatch, error], opts ...table.WriteRecordOption) ([]iceberg.DataFile, error) {
	var files []iceberg.DataFile
	for df, err := range table.WriteRecords(ctx, tbl, schema, batches, opts...) {
		if err != nil {
			w.removeFiles(ctx, tbl, files)
			return nil, err
		}
		files = append(files, df)
	}
	return files, nil
}

// removeFiles deletes uncommitted data files, best effort, even when ctx
// is cancelled (a write that failed because of a cancellation still
// cleans up after itself).
func (w *Warehouse) removeFiles(ctx context.Context, tbl *table.Table, files []iceberg.DataFile) {
	if len(files) == 0 {
		return
	}
	fs, err := tbl.FS(context.WithoutCancel(ctx))
	if err != nil {
		w.log.Warn("cannot remove uncommitted files", "table", tbl.Identifier(), "err", err)
		return
	}
	for _, f := range files {
		// Already gone is what we want (a second cleanup of the same
		// files, a removal racing `fdag gc`): not worth a warning.
		if err := fs.Remove(f.FilePath()); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			w.log.Warn("cannot remove uncommitted file", "file", f.FilePath(), "err", err)
		}
	}
}

// commit deletes the rows matching del (nil: none) and adds files in one
// transaction; it returns the new snapshot id. The files are removed when
// the commit fails.
func (w *Warehouse) commit(ctx context.Context, tbl *table.Table, del iceberg.BooleanExpression, files []iceberg.DataFile, props iceberg.Properties) (int64, error) {
	snap, err := w.commitFiles(ctx, tbl, del, files, props, nil)
	if err != nil {
		w.removeFiles(ctx, tbl, files)
	}
	return snap, err
}

// commitFiles is commit leaving the files in place when it fails, for a
// caller that decides itself (CommitRun: the outcome of a failed commit may
// be unknown, and a committed file must never be removed). It retries on
// conflicts with concurrent writers (CommitWithRetry); check, when not nil,
// vets the table before each attempt and its error stops the commit.
func (w *Warehouse) commitFiles(ctx context.Context, tbl *table.Table, del iceberg.BooleanExpression, files []iceberg.DataFile, props iceberg.Properties,
	check func(cur *table.Table) error) (int64, error) {
	if del == nil && len(files) == 0 {
		return currentSnapshotID(tbl), nil
	}
	out, err := w.CommitWithRetry(ctx, tbl, func(a *Attempt) error {
		if check != nil {
			// The check holds for this snapshot only: pin it, so that a
			// commit racing another writer fails and comes back here
			// rather than being replayed on the newer snapshot by
			// iceberg-go's own retry, unchecked.
			if err := a.Tx.AssertRefSnapshotID(table.MainBranch); err != nil {
				return fmt.Errorf("pin the snapshot the check read: %w", err)
			}
			if err := check(a.Table); err != nil {
				return err
			}
		}
		if del != nil {
			if err := a.Tx.Delete(ctx, del, props); err != nil {
				return fmt.Errorf("delete %s: %w", del, err)
			}
		}
		if len(files) > 0 {
			if err := a.AddDataFiles(ctx, files, props); err != nil {
				return fmt.Errorf("add %d data files: %w", len(files), err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return currentSnapshotID(out), nil
}

func currentSnapshotID(tbl *table.Table) int64 {
	if s := tbl.CurrentSnapshot(); s != nil {
		return s.SnapshotID
	}
	return 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..." + strconv.Itoa(len(s)-n) + " more bytes"
}

// dropIfEmpty drops table name when it has no snapshot: created for a write
// that failed. A concurrent first writer may have created it too; its
// commit then fails with NotFound and is retried by its caller.
func (w *Warehouse) dropIfEmpty(ctx context.Context, name string) {
	tbl, err := w.cat.LoadTable(ctx, w.ident(name))
	if err != nil || tbl.CurrentSnapshot() != nil {
		return
	}
	if err := w.cat.DropTable(ctx, w.ident(name)); err != nil {
		w.log.Debug("cannot drop the table a failed ingest created", "table", name, "err", err)
	}
}
