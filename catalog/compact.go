package catalog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// Compaction. Every `fdag run` shard writes one data file per (feature,
// day) it covers, every ingest one per (symbol, day): after many runs a
// partition holds many small files, and a scan pays per file (open, footer,
// row-group stats), not per row. Compact rewrites the small files of each
// partition into few large ones, rows sorted as writers sort them, in one
// Iceberg transaction (a "replace" snapshot: same rows, other files).
//
// Concurrent writers: the rewrite is staged on the snapshot it read and
// the commit pins that snapshot. When another writer commits first, the
// commit is retried on the new snapshot; a partition whose old files that
// writer removed or replaced (a re-run of the same features, a delete) is
// dropped from the rewrite, its new files deleted, and reported as
// Changed: its rows are the other writer's now. Appends to a partition
// being compacted stay as they are (new files beside the compacted one).
// No row is lost or doubled either way.

// DefaultCompactTarget is the size of compacted files when the table sets
// no write.target-file-size-bytes: large enough that a partition of
// ft_features (one feature, one day) or of trades (one symbol, one day) is
// one file, small enough to keep a partition's rewrite in memory.
const DefaultCompactTarget = 128 << 20

// CompactOptions chooses what Compact rewrites.
type CompactOptions struct {
	// Query limits the partitions: those holding rows it matches
	// (symbols, time range, equal on a partition column such as
	// feature_name). The zero query: every partition.
	Query TableQuery
	// MinFiles is the number of small files a partition needs to be
	// rewritten (default 2).
	MinFiles int
	// TargetBytes is the size of the files written and the bound of a
	// "small" file (at most 3/4 of it); default DefaultCompactTarget.
	TargetBytes int64
	// DryRun plans and reports without writing.
	DryRun bool
}

// CompactReport says what Compact did (or would do).
type CompactReport struct {
	Table            string   `json:"table"`
	Partitions       int      `json:"partitions"`         // partitions rewritten
	FilesBefore      int      `json:"files_before"`       // small files they held
	FilesAfter       int      `json:"files_after"`        // files written for them
	BytesBefore      int64    `json:"bytes_before"`       // size of the files replaced
	BytesAfter       int64    `json:"bytes_after"`        // size of the files written
	Rows             int64    `json:"rows"`               // rows rewritten
	TableFilesBefore int      `json:"table_files_before"` // live data files of the table before
	TableFilesAfter  int      `json:"table_files_after"`  // and after
	Skipped          []string `json:"skipped,omitempty"`  // partitions left alone, with the reason
	Changed          []string `json:"changed,omitempty"`  // partitions a concurrent writer changed: not compacted
	SnapshotID       int64    `json:"snapshot_id"`
	Attempts         int      `json:"attempts"`
	Seconds          float64  `json:"seconds"`
}

// partitionFiles is one partition's small files.
type partitionFiles struct {
	name  string // symbol=BTCUSDT/event_time_day=2024-01-02
	tasks []table.FileScanTask
	bytes int64
	added []iceberg.DataFile // the rewrite
}

// Compact rewrites the small data files of table name's partitions into
// few large ones (see above). It needs no lease: its new files are
// committed within seconds and gc spares unreferenced files younger than
// an hour.
func (w *Warehouse) Compact(ctx context.Context, name string, opts CompactOptions) (CompactReport, error) {
	start := time.Now()
	rep := CompactReport{Table: name}
	if opts.MinFiles <= 0 {
		opts.MinFiles = 2
	}
	tbl, err := w.LoadTable(ctx, name)
	if err != nil {
		return rep, err
	}
	if opts.TargetBytes <= 0 {
		opts.TargetBytes = int64(tbl.Properties().GetInt(table.WriteTargetFileSizeBytesKey, DefaultCompactTarget))
		if opts.TargetBytes == table.WriteTargetFileSizeBytesDefault {
			opts.TargetBytes = DefaultCompactTarget // iceberg's 512 MB would hold a partition in memory
		}
	}
	parts, all, err := w.planCompaction(ctx, name, tbl, opts, &rep)
	if err != nil {
		return rep, err
	}
	rep.TableFilesBefore, rep.TableFilesAfter = all, all
	if opts.DryRun || len(parts) == 0 {
		for _, p := range parts {
			rep.Partitions++
			rep.FilesBefore += len(p.tasks)
			rep.BytesBefore += p.bytes
		}
		rep.SnapshotID = currentSnapshotID(tbl)
		rep.Seconds = time.Since(start).Seconds()
		return rep, nil
	}
	written := func() []iceberg.DataFile {
		var out []iceberg.DataFile
		for _, p := range parts {
			out = append(out, p.added...)
		}
		return out
	}
	committed := false
	defer func() {
		if !committed {
			w.removeFiles(ctx, tbl, written())
		}
	}()
	for _, p := range parts {
		if p.added, err = w.rewritePartition(ctx, name, tbl, p, opts.TargetBytes); err != nil {
			return rep, err
		}
	}
	if beforeCompactCommit != nil {
		beforeCompactCommit()
	}
	props := iceberg.Properties{"fdag.operation": "compact"}
	var kept []*partitionFiles
	out, err := w.CommitWithRetry(ctx, tbl, func(a *Attempt) error {
		rep.Attempts = a.Number
		if err := a.Tx.AssertRefSnapshotID(table.MainBranch); err != nil {
			return fmt.Errorf("pin the snapshot compacted: %w", err)
		}
		live, err := liveDataFiles(ctx, a.Table)
		if err != nil {
			return err
		}
		kept = kept[:0]
		rw := a.Tx.NewRewrite(props)
		for _, p := range parts {
			if !slices.ContainsFunc(p.tasks, func(t table.FileScanTask) bool { return live[t.File.FilePath()] == nil }) {
				kept = append(kept, p)
				for _, t := range p.tasks {
					rw.DeleteFile(t.File)
				}
				for _, f := range p.added {
					a.added[f.FilePath()] = true
					rw.AddDataFile(f)
				}
			}
		}
		if len(kept) == 0 {
			return errNothingLeft
		}
		return rw.Commit(ctx)
	})
	changed := map[*partitionFiles]bool{}
	for _, p := range parts {
		changed[p] = !slices.Contains(kept, p)
	}
	for _, p := range parts {
		if changed[p] {
			rep.Changed = append(rep.Changed, p.name)
			w.removeFiles(ctx, tbl, p.added)
			p.added = nil
		}
	}
	if errors.Is(err, errNothingLeft) {
		committed = true // nothing of ours is left to remove
		rep.SnapshotID = currentSnapshotID(tbl)
		rep.Seconds = time.Since(start).Seconds()
		w.log.Warn("compact: every partition was changed by a concurrent writer; nothing compacted", "table", name, "partitions", len(parts))
		return rep, nil
	}
	if err != nil {
		return rep, fmt.Errorf("compact %s: %w", name, err)
	}
	committed = true
	for _, p := range kept {
		rep.Partitions++
		rep.FilesBefore += len(p.tasks)
		rep.BytesBefore += p.bytes
		rep.FilesAfter += len(p.added)
		for _, f := range p.added {
			rep.BytesAfter += f.FileSizeBytes()
			rep.Rows += f.Count()
		}
	}
	rep.SnapshotID = currentSnapshotID(out)
	if live, err := liveDataFiles(ctx, out); err == nil {
		rep.TableFilesAfter = len(live)
	}
	rep.Seconds = time.Since(start).Seconds()
	w.log.Info("compacted", "table", name, "partitions", rep.Partitions, "files_before", rep.FilesBefore, "files_after", rep.FilesAfter,
		"rows", rep.Rows, "changed_concurrently", len(rep.Changed), "elapsed", time.Since(start).Round(time.Millisecond))
	return rep, nil
}

// beforeCompactCommit, when set (tests), runs between the rewrite and its
// commit: where a concurrent writer's commit is the interesting case.
var beforeCompactCommit func()

var errNothingLeft = errors.New("every partition to compact was changed by a concurrent writer")

// planCompaction groups the table's live data files by partition and
// returns the partitions the options select, with their small files, and
// the number of live files of the whole table.
func (w *Warehouse) planCompaction(ctx context.Context, name string, tbl *table.Table, opts CompactOptions, rep *CompactReport) ([]*partitionFiles, int, error) {
	if tbl.CurrentSnapshot() == nil {
		return nil, 0, nil
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("compact %s: planning: %w", name, err)
	}
	// The partitions the query selects: those of the files a filtered
	// scan would open (all of a partition's files are rewritten together,
	// whichever of them the filter matched).
	selected := map[string]bool{}
	filtered := tasks
	if !isZeroQuery(opts.Query) {
		if filtered, err = tbl.Scan(table.WithRowFilter(opts.Query.Filter(name))).PlanFiles(ctx); err != nil {
			return nil, 0, fmt.Errorf("compact %s: planning the filter: %w", name, err)
		}
	}
	for _, t := range filtered {
		selected[partitionName(tbl, t.File)] = true
	}
	small := opts.TargetBytes * 3 / 4
	byName := map[string]*partitionFiles{}
	for _, t := range tasks {
		pn := partitionName(tbl, t.File)
		if !selected[pn] {
			continue
		}
		p := byName[pn]
		if p == nil {
			p = &partitionFiles{name: pn}
			byName[pn] = p
		}
		if len(t.DeleteFiles) > 0 || len(t.DeletionVectorFiles) > 0 {
			p.tasks = nil
			p.bytes = -1 // marks: has deletes
			continue
		}
		if p.bytes >= 0 && t.File.FileSizeBytes() <= small {
			p.tasks = append(p.tasks, t)
			p.bytes += t.File.FileSizeBytes()
		}
	}
	var parts []*partitionFiles
	for _, pn := range slices.Sorted(maps.Keys(byName)) {
		p := byName[pn]
		switch {
		case p.bytes < 0:
			rep.Skipped = append(rep.Skipped, pn+": has delete files")
		case len(p.tasks) >= opts.MinFiles:
			parts = append(parts, p)
		}
	}
	return parts, len(tasks), nil
}

func isZeroQuery(q TableQuery) bool {
	return len(q.Symbols) == 0 && q.Start.IsZero() && q.End.IsZero() && len(q.Equal) == 0
}

// partitionName is a data file's partition as text,
// feature_name=ret_1/timestamp_day=2024-01-02.
func partitionName(tbl *table.Table, f iceberg.DataFile) string {
	spec := tbl.Metadata().PartitionSpecByID(int(f.SpecID()))
	values := f.Partition()
	if spec == nil {
		return fmt.Sprint(f.SpecID(), values)
	}
	var parts []string
	for _, pf := range spec.Fields() {
		v := values[pf.FieldID]
		text := fmt.Sprint(v)
		if _, isDay := pf.Transform.(iceberg.DayTransform); isDay {
			if d, ok := dayNumber(v); ok {
				text = time.Unix(d*86400, 0).UTC().Format(time.DateOnly)
			}
		}
		parts = append(parts, pf.Name+"="+text)
	}
	if cur := tbl.Spec(); int(f.SpecID()) == cur.ID() {
		return strings.Join(parts, "/")
	}
	return fmt.Sprintf("%s (old partition spec %d)", strings.Join(parts, "/"), f.SpecID())
}

// dayNumber is a day transform's value (days since 1970-01-01).
func dayNumber(v any) (int64, bool) {
	switch d := v.(type) {
	case int32:
		return int64(d), true
	case int64:
		return d, true
	case int:
		return int64(d), true
	case iceberg.Date:
		return int64(d), true
	}
	return 0, false
}

// rewritePartition reads a partition's small files, orders the rows as
// writers do (symbol, time, row identity) and writes them as new,
// uncommitted files of about target bytes.
func (w *Warehouse) rewritePartition(ctx context.Context, name string, tbl *table.Table, p *partitionFiles, target int64) ([]iceberg.DataFile, error) {
	_, recs, err := tbl.Scan().ReadTasks(ctx, p.tasks)
	if err != nil {
		return nil, fmt.Errorf("compact %s %s: %w", name, p.name, err)
	}
	schema, err := arrowSchema(tbl)
	if err != nil {
		return nil, err
	}
	var batches []arrow.RecordBatch
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	for rec, err := range recs {
		if err != nil {
			return nil, fmt.Errorf("compact %s %s: reading: %w", name, p.name, err)
		}
		batches = append(batches, rec)
	}
	if len(batches) == 0 {
		return nil, nil
	}
	rows := array.NewTableFromRecords(batches[0].Schema(), batches)
	defer rows.Release()
	timeCol := timeColumnOf(name, tbl.Schema())
	var keys []string
	for _, k := range []string{ColSymbol, timeCol, ColSeq, ColTradeID} {
		if rows.Schema().HasField(k) && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	sorted, err := sortRows(ctx, w.mem, rows, keys)
	if err != nil {
		return nil, fmt.Errorf("compact %s %s: %w", name, p.name, err)
	}
	defer sorted.Release()
	src := func(yield func(arrow.RecordBatch, error) bool) {
		tr := array.NewTableReader(sorted, 1<<16)
		defer tr.Release()
		for tr.Next() {
			rec := tr.RecordBatch()
			rec.Retain() // withTableSchema releases what it is given
			if !yield(rec, nil) {
				return
			}
		}
	}
	files, err := w.writeFiles(ctx, tbl, schema, withTableSchema(src, schema), table.WithTargetFileSize(target))
	if err != nil {
		return nil, fmt.Errorf("compact %s %s: writing: %w", name, p.name, err)
	}
	return files, nil
}
