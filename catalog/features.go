package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/codec"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
)

// Narrow status values (DESIGN.md).
const (
	StatusSuccess = "success"
	StatusError   = "error"
	StatusPartial = "partial"
)

// FeatureInfo is what the narrow table records of one requested feature.
type FeatureInfo struct {
	Name, Version, ID, Namespace string
	// Err is the feature's failure ("" when it computed).
	Err string
}

// FeatureInfos pairs a compiled plan's features with the statuses of the
// computation (compute.Result.Statuses, in the same request order). A
// feature that failed to compile or to compute carries its error.
func FeatureInfos(plan *ir.Plan, statuses []compute.FeatureStatus) []FeatureInfo {
	out := make([]FeatureInfo, len(plan.Features))
	for i, f := range plan.Features {
		s := f.Spec.WithDefaults()
		out[i] = FeatureInfo{Name: s.Name, Version: s.Version, ID: f.ID, Namespace: s.Namespace}
		if f.Err != nil {
			out[i].Err = f.Err.Error()
		}
		if i < len(statuses) && statuses[i].Status != compute.StatusSuccess && out[i].Err == "" {
			out[i].Err = statuses[i].Error
			if out[i].Err == "" {
				out[i].Err = statuses[i].Status
			}
		}
	}
	return out
}

// NarrowOptions configures WideToNarrow.
type NarrowOptions struct {
	TimeColumn   string    // of the wide table; default event_time
	SymbolColumn string    // default symbol
	Start, End   time.Time // only rows in [Start, End) are written (warmup dropped); zero: open
	// Symbols get one status=error row per failed feature (at Start); nil:
	// the symbols present in the wide table.
	Symbols       []string
	ProcessedTime time.Time // default now
	BatchRows     int       // default 65536
	// TradeIDs, row-aligned with the wide table (int64), fills trade_id;
	// nil leaves it null (the source has no trade ids).
	TradeIDs *arrow.Chunked
	Mem      memory.Allocator

	rowByRow bool // tests: always the reference path that builds each row
}

// NarrowSchema is the Arrow schema of ft_features with Iceberg field ids.
func NarrowSchema() *arrow.Schema {
	sc, err := table.SchemaToArrowSchema(FeatureSchema, nil, true, false)
	if err != nil {
		panic(err) // a static, valid schema
	}
	return sc
}

// WideToNarrow converts compute's wide output (time, symbol and one float64
// column per successful feature, named as the feature) into ft_features
// rows: one row per (feature, input row in [Start, End)), in feature, then
// input order (so each file holds rows sorted by symbol and timestamp when
// the input was), with status success. A null or NaN value is kept as it is.
// Each row carries seq, the ordinal of its input row among the rows of the
// same symbol and (microsecond) timestamp, so (symbol, timestamp, seq) is
// unique per feature and joins the features of one input row.
// Each failed feature gets one row per symbol at Start with status error and
// the message in feature_value_json. The iterator yields fresh batches that
// the consumer releases (table.WriteRecords does).
func WideToNarrow(wide arrow.Table, feats []FeatureInfo, opts NarrowOptions) iter.Seq2[arrow.RecordBatch, error] {
	if opts.TimeColumn == "" {
		opts.TimeColumn = ColEventTime
	}
	if opts.SymbolColumn == "" {
		opts.SymbolColumn = ColSymbol
	}
	if opts.ProcessedTime.IsZero() {
		opts.ProcessedTime = time.Now()
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = 1 << 16
	}
	if opts.Mem == nil {
		opts.Mem = memory.DefaultAllocator
	}
	return func(yield func(arrow.RecordBatch, error) bool) {
		ti := wide.Schema().FieldIndices(opts.TimeColumn)
		si := wide.Schema().FieldIndices(opts.SymbolColumn)
		if len(ti) == 0 || len(si) == 0 {
			yield(nil, fmt.Errorf("wide table lacks the time column %q or the symbol column %q", opts.TimeColumn, opts.SymbolColumn))
			return
		}
		times, err := flatten(wide.Column(ti[0]), opts.Mem)
		if err != nil {
			yield(nil, err)
			return
		}
		defer times.Release()
		syms, err := flatten(wide.Column(si[0]), opts.Mem)
		if err != nil {
			yield(nil, err)
			return
		}
		defer syms.Release()
		tsv := times.(*array.Timestamp)
		symv, ok := syms.(*array.String)
		if !ok {
			yield(nil, fmt.Errorf("symbol column %q is %s, want string", opts.SymbolColumn, syms.DataType()))
			return
		}
		lo, hi := int64(-1<<63), int64(1<<63-1)
		if !opts.Start.IsZero() {
			lo = opts.Start.UnixMicro()
		}
		if !opts.End.IsZero() {
			hi = opts.End.UnixMicro()
		}
		toMicro := microsOf(tsv.DataType().(*arrow.TimestampType).Unit)
		seqs := tieOrdinals(symv, tsv, toMicro)
		var ids *array.Int64
		if opts.TradeIDs != nil {
			if opts.TradeIDs.Len() != tsv.Len() {
				yield(nil, fmt.Errorf("%d trade ids for %d wide rows", opts.TradeIDs.Len(), tsv.Len()))
				return
			}
			a, err := flattenChunked(opts.TradeIDs, opts.Mem)
			if err != nil {
				yield(nil, err)
				return
			}
			defer a.Release()
			if ids, ok = a.(*array.Int64); !ok {
				yield(nil, fmt.Errorf("trade ids are %s, want int64", a.DataType()))
				return
			}
		}
		b := newNarrowBuilder(opts.Mem, opts.ProcessedTime)
		defer b.release()
		emit := func() bool {
			rec := b.build()
			return yield(rec, nil)
		}
		// The usual case, rows in time order: slices of the wide columns
		// (narrow.go) instead of rows built one by one.
		ranges := selectedRanges(tsv, toMicro, lo, hi)
		var fast *narrowColumns
		ok, longest := sliceable(ranges)
		if ok && !opts.rowByRow {
			if fast = newNarrowColumns(opts.Mem, symv, tsv, toMicro, seqs, ids, b.processed); fast != nil {
				defer fast.release()
			}
		}
		for _, f := range feats {
			if f.Err != "" {
				errSyms := opts.Symbols
				if errSyms == nil {
					errSyms = distinctValues(symv)
				}
				msg, _ := json.Marshal(map[string]string{"error": f.Err})
				for _, s := range errSyms {
					b.appendError(s, f, opts.Start.UnixMicro(), string(msg))
				}
				continue
			}
			ci := wide.Schema().FieldIndices(f.Name)
			if len(ci) == 0 {
				yield(nil, fmt.Errorf("feature %q: no column in the wide table", f.Name))
				return
			}
			vals, err := flatten(wide.Column(ci[0]), opts.Mem)
			if err != nil {
				yield(nil, err)
				return
			}
			fv, ok := vals.(*array.Float64)
			if !ok {
				vals.Release()
				yield(nil, fmt.Errorf("feature %q: column is %s, want float64", f.Name, vals.DataType()))
				return
			}
			if fast != nil {
				// earlier error rows first: the rows stay in feature order
				if b.rows > 0 && !emit() {
					vals.Release()
					return
				}
				ok := yieldSlices(fast, f, fv, ranges, min(longest, opts.BatchRows), yield)
				vals.Release()
				if !ok {
					return
				}
				continue
			}
			for i := 0; i < fv.Len(); i++ {
				t := toMicro(int64(tsv.Value(i)))
				if t < lo || t >= hi || tsv.IsNull(i) {
					continue
				}
				b.appendValue(symv.Value(i), f, t, fv, i)
				b.appendRowID(seqs[i], ids, i)
				if b.rows >= opts.BatchRows {
					if !emit() {
						vals.Release()
						return
					}
				}
			}
			vals.Release()
		}
		if b.rows > 0 {
			emit()
		}
	}
}

// yieldSlices yields feature f's narrow rows over ranges in batches of at
// most batchRows; false when the consumer stopped.
func yieldSlices(c *narrowColumns, f FeatureInfo, values arrow.Array, ranges []rowRange, batchRows int,
	yield func(arrow.RecordBatch, error) bool) bool {
	fc := c.constants(f, batchRows)
	defer fc.release()
	for _, r := range ranges {
		for lo := r.lo; lo < r.hi; lo += batchRows {
			if !yield(c.batch(fc, values, lo, min(lo+batchRows, r.hi)), nil) {
				return false
			}
		}
	}
	return true
}

// tieOrdinals numbers each row among the earlier rows of the same symbol
// and microsecond timestamp (the stored key): 0 for the first, 1 for the
// next... Rows of a symbol are time-ordered in compute's output, so one
// (last time, count) per symbol suffices; a symbol whose time goes back
// (an unsorted wide table) falls back to counting every key it has seen.
func tieOrdinals(sym *array.String, ts *array.Timestamp, toMicro func(int64) int64) []int32 {
	type last struct {
		t int64
		n int32
	}
	type key struct {
		s string
		t int64
	}
	out := make([]int32, ts.Len())
	runs := map[string]last{}
	var seen map[key]int32 // only for unsorted input
	for i := range out {
		s, t := sym.Value(i), toMicro(int64(ts.Value(i)))
		l, ok := runs[s]
		switch {
		case seen != nil:
			out[i] = seen[key{s, t}]
		case !ok || t > l.t:
			out[i] = 0
		case t == l.t:
			out[i] = l.n + 1
		default: // time went back: count every key from here on
			seen = map[key]int32{}
			for j := 0; j < i; j++ {
				seen[key{sym.Value(j), toMicro(int64(ts.Value(j)))}]++
			}
			out[i] = seen[key{s, t}]
		}
		if seen != nil {
			seen[key{s, t}]++
		}
		runs[s] = last{t, out[i]}
	}
	return out
}

func microsOf(u arrow.TimeUnit) func(int64) int64 {
	switch u {
	case arrow.Second:
		return func(v int64) int64 { return v * 1e6 }
	case arrow.Millisecond:
		return func(v int64) int64 { return v * 1e3 }
	case arrow.Nanosecond:
		return func(v int64) int64 { return v / 1e3 }
	}
	return func(v int64) int64 { return v }
}

// flatten returns the column as one array.
func flatten(c *arrow.Column, mem memory.Allocator) (arrow.Array, error) {
	return flattenChunked(c.Data(), mem)
}

func flattenChunked(c *arrow.Chunked, mem memory.Allocator) (arrow.Array, error) {
	chunks := c.Chunks()
	if len(chunks) == 1 {
		chunks[0].Retain()
		return chunks[0], nil
	}
	if len(chunks) == 0 {
		return array.MakeArrayOfNull(mem, c.DataType(), 0), nil
	}
	return array.Concatenate(chunks, mem)
}

func distinctValues(s *array.String) []string {
	seen := map[string]bool{}
	var out []string
	for i := 0; i < s.Len(); i++ {
		if v := s.Value(i); s.IsValid(i) && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// narrowBuilder builds ft_features batches.
type narrowBuilder struct {
	b         *array.RecordBuilder
	processed arrow.Timestamp
	rows      int
}

func newNarrowBuilder(mem memory.Allocator, processed time.Time) *narrowBuilder {
	return &narrowBuilder{b: array.NewRecordBuilder(mem, NarrowSchema()), processed: arrow.Timestamp(processed.UnixMicro())}
}

func (n *narrowBuilder) release() { n.b.Release() }

func (n *narrowBuilder) appendMeta(sym string, f FeatureInfo, t int64) {
	n.b.Field(0).(*array.StringBuilder).Append(sym)
	n.b.Field(1).(*array.StringBuilder).Append(f.Name)
	n.b.Field(2).(*array.StringBuilder).Append(f.Version)
	n.b.Field(3).(*array.StringBuilder).Append(f.ID)
	n.b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(t))
	n.b.Field(5).(*array.StringBuilder).Append(f.Namespace)
	n.b.Field(10).(*array.TimestampBuilder).Append(n.processed)
	n.rows++
}

func (n *narrowBuilder) appendValue(sym string, f FeatureInfo, t int64, v *array.Float64, i int) {
	n.appendMeta(sym, f, t)
	if v.IsNull(i) {
		n.b.Field(6).AppendNull()
	} else {
		n.b.Field(6).(*array.Float64Builder).Append(v.Value(i))
	}
	n.b.Field(7).AppendNull()
	n.b.Field(8).AppendNull()
	n.b.Field(9).(*array.StringBuilder).Append(StatusSuccess)
}

// appendRowID fills seq and trade_id of the row just appended.
func (n *narrowBuilder) appendRowID(seq int32, ids *array.Int64, i int) {
	n.b.Field(11).(*array.Int32Builder).Append(seq)
	if ids == nil || ids.IsNull(i) {
		n.b.Field(12).AppendNull()
	} else {
		n.b.Field(12).(*array.Int64Builder).Append(ids.Value(i))
	}
}

func (n *narrowBuilder) appendError(sym string, f FeatureInfo, t int64, msg string) {
	n.appendMeta(sym, f, t)
	n.b.Field(11).AppendNull() // an error row stands for no source row
	n.b.Field(12).AppendNull()
	n.b.Field(6).AppendNull()
	n.b.Field(7).(*array.StringBuilder).Append(msg)
	n.b.Field(8).AppendNull()
	n.b.Field(9).(*array.StringBuilder).Append(StatusError)
}

func (n *narrowBuilder) build() arrow.RecordBatch {
	n.rows = 0
	return n.b.NewRecordBatch()
}

// FeatureKey names one feature version in ft_features.
type FeatureKey struct{ Name, Version string }

// FeatureScope is what a feature write replaces: the rows of these
// features (name and version) for these symbols in [Start, End). Re-running
// the same request replaces its earlier rows instead of duplicating them.
type FeatureScope struct {
	Features   []FeatureKey
	Symbols    []string // empty: every symbol
	Start, End time.Time
}

func (s FeatureScope) filter() iceberg.BooleanExpression {
	if len(s.Features) == 0 {
		return nil
	}
	var feats iceberg.BooleanExpression
	for _, k := range s.Features {
		e := iceberg.NewAnd(iceberg.EqualTo(iceberg.Reference("feature_name"), k.Name),
			iceberg.EqualTo(iceberg.Reference("feature_version"), k.Version))
		if feats == nil {
			feats = e
		} else {
			feats = iceberg.NewOr(feats, e)
		}
	}
	f := feats
	switch len(s.Symbols) {
	case 0:
	case 1:
		f = iceberg.NewAnd(f, iceberg.EqualTo(iceberg.Reference(ColSymbol), s.Symbols[0]))
	default:
		f = iceberg.NewAnd(f, iceberg.IsIn(iceberg.Reference(ColSymbol), s.Symbols...))
	}
	if !s.Start.IsZero() {
		f = iceberg.NewAnd(f, iceberg.GreaterThanEqual(iceberg.Reference(ColTimestamp), iceberg.Timestamp(s.Start.UnixMicro())))
	}
	if !s.End.IsZero() {
		f = iceberg.NewAnd(f, iceberg.LessThan(iceberg.Reference(ColTimestamp), iceberg.Timestamp(s.End.UnixMicro())))
	}
	return f
}

// StagedFiles are data files written by a worker and not yet committed.
type StagedFiles struct {
	Files []iceberg.DataFile
	Rows  int64
}

// StageFeatures is the worker half of a feature write: it writes narrow
// batches (WideToNarrow) as Parquet data files of ft_features, split by
// partition, and returns them uncommitted. It releases the batches. The
// files are named after id when given (at most one), so that a collector
// of dead runs' files can tell whose they are (RunOfFile).
func (w *Warehouse) StageFeatures(ctx context.Context, batches iter.Seq2[arrow.RecordBatch, error], id ...StagingID) (StagedFiles, error) {
	tbl, err := w.Table(ctx, FeaturesTable)
	if err != nil {
		return StagedFiles{}, err
	}
	target, err := arrowSchema(tbl)
	if err != nil {
		return StagedFiles{}, fmt.Errorf("table %s: %w", FeaturesTable, err)
	}
	u := uuid.New()
	if len(id) > 0 {
		if u, err = id[0].uuid(); err != nil {
			return StagedFiles{}, err
		}
	}
	var files []iceberg.DataFile
	if featurePartitioned(tbl) {
		// fdag's own writer (featurefiles.go)
		files, err = w.stageFeatureFiles(ctx, tbl, target, withTableSchema(batches, target), u)
	} else {
		files, err = w.writeFiles(ctx, tbl, target, withTableSchema(batches, target), table.WithWriteUUID(u))
	}
	if err != nil {
		return StagedFiles{}, fmt.Errorf("stage %s files: %w", FeaturesTable, err)
	}
	var rows int64
	for _, f := range files {
		rows += f.Count()
	}
	return StagedFiles{Files: files, Rows: rows}, nil
}

// withTableSchema relabels narrow batches (NarrowSchema, fdag's field ids)
// with the table's own Arrow schema. A catalog may assign fresh field ids
// when it creates a table (Iceberg's Java REST catalog numbers the top-level
// fields first, so the list element of feature_value_array gets another id
// than FeatureSchema's); the data files must carry the table's ids. The
// columns' buffers are shared; the input batches are released.
func withTableSchema(batches iter.Seq2[arrow.RecordBatch, error], target *arrow.Schema) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for rec, err := range batches {
			if err == nil {
				var out arrow.RecordBatch
				out, err = relabel(rec, target)
				rec.Release()
				rec = out
			}
			if !yield(rec, err) || err != nil {
				return
			}
		}
	}
}

// relabel returns rec with schema target: same column names in the same
// order, types equal but for field metadata (the field ids).
func relabel(rec arrow.RecordBatch, target *arrow.Schema) (arrow.RecordBatch, error) {
	if rec.Schema().Equal(target) && rec.Schema().Metadata().Equal(target.Metadata()) {
		rec.Retain()
		return rec, nil
	}
	if int(rec.NumCols()) != target.NumFields() {
		return nil, fmt.Errorf("%d columns, table has %d", rec.NumCols(), target.NumFields())
	}
	cols := make([]arrow.Array, 0, rec.NumCols())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for i, f := range target.Fields() {
		col := rec.Column(i)
		if name := rec.Schema().Field(i).Name; name != f.Name || !arrow.TypeEqual(col.DataType(), f.Type) {
			return nil, fmt.Errorf("column %d: %s %s, table has %s %s", i, name, col.DataType(), f.Name, f.Type)
		}
		d := col.Data()
		data := array.NewData(f.Type, d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
		cols = append(cols, array.MakeFromData(data))
		data.Release()
	}
	return array.NewRecordBatch(target, cols, rec.NumRows()), nil
}

// CommitStats summarises a feature commit.
type CommitStats struct {
	Rows       int64
	Files      int
	SnapshotID int64
	Elapsed    time.Duration
}

// CommitFeatures is the coordinator half: one transaction that deletes the
// rows of scope and adds every staged file of every worker, so readers see
// either the old rows or all the new ones.
func (w *Warehouse) CommitFeatures(ctx context.Context, scope FeatureScope, staged ...StagedFiles) (CommitStats, error) {
	start := time.Now()
	tbl, err := w.Table(ctx, FeaturesTable)
	if err != nil {
		return CommitStats{}, err
	}
	var files []iceberg.DataFile
	var rows int64
	for _, s := range staged {
		files = append(files, s.Files...)
		rows += s.Rows
	}
	snap, err := w.commit(ctx, tbl, scope.filter(), files, iceberg.Properties{"fdag.operation": "features"})
	if err != nil {
		return CommitStats{}, fmt.Errorf("commit %s: %w", FeaturesTable, err)
	}
	st := CommitStats{Rows: rows, Files: len(files), SnapshotID: snap, Elapsed: time.Since(start)}
	w.log.Info("features committed", "rows", rows, "files", len(files), "features", len(scope.Features),
		"symbols", len(scope.Symbols), "elapsed", st.Elapsed.Round(time.Millisecond))
	return st, nil
}

// WriteFeatures stages and commits in one call (a single worker).
func (w *Warehouse) WriteFeatures(ctx context.Context, scope FeatureScope, batches iter.Seq2[arrow.RecordBatch, error]) (CommitStats, error) {
	staged, err := w.StageFeatures(ctx, batches)
	if err != nil {
		return CommitStats{}, err
	}
	return w.CommitFeatures(ctx, scope, staged)
}

// EncodeStaged serialises staged files for a coordinator in another
// process (about 300 bytes per file); DecodeStaged reverses it.
func (w *Warehouse) EncodeStaged(ctx context.Context, s StagedFiles) ([][]byte, error) {
	tbl, err := w.Table(ctx, FeaturesTable)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(s.Files))
	for i, f := range s.Files {
		if out[i], err = codec.EncodeDataFile(f, tbl.Spec(), tbl.Schema(), tbl.Metadata().Version()); err != nil {
			return nil, fmt.Errorf("encode %s: %w", f.FilePath(), err)
		}
	}
	return out, nil
}

// DecodeStaged decodes files encoded by EncodeStaged.
func (w *Warehouse) DecodeStaged(ctx context.Context, enc [][]byte) (StagedFiles, error) {
	tbl, err := w.Table(ctx, FeaturesTable)
	if err != nil {
		return StagedFiles{}, err
	}
	var s StagedFiles
	for _, b := range enc {
		f, err := codec.DecodeDataFile(b, tbl.Spec(), tbl.Schema(), tbl.Metadata().Version())
		if err != nil {
			return StagedFiles{}, fmt.Errorf("decode staged file: %w", err)
		}
		s.Files = append(s.Files, f)
		s.Rows += f.Count()
	}
	return s, nil
}

// DiscardStaged removes staged files that will not be committed. It runs
// even when ctx is cancelled: clean-up after a cancelled run must not be
// skipped because of the cancellation.
func (w *Warehouse) DiscardStaged(ctx context.Context, staged ...StagedFiles) {
	ctx = context.WithoutCancel(ctx)
	tbl, err := w.Table(ctx, FeaturesTable)
	if err != nil {
		w.log.Warn("cannot discard staged files", "err", err)
		return
	}
	for _, s := range staged {
		w.removeFiles(ctx, tbl, s.Files)
	}
}
