package catalog

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// TableQuery filters a stored table. Every field is optional; the zero
// query reads the whole table.
type TableQuery struct {
	Symbols    []string            // symbol IN (...)
	Start, End time.Time           // the table's time column in [Start, End)
	Equal      map[string][]string // string column IN (...), e.g. {"feature_name": ["ret_1"]}
	Columns    []string            // projection; nil: every column
	Limit      int64               // 0: no limit
}

// Filter returns the Iceberg row filter of q for table name (one of
// KnownTables, whose time column it knows; other tables use event_time).
func (q TableQuery) Filter(name string) iceberg.BooleanExpression {
	timeCol := ColEventTime
	if def, ok := KnownTables[name]; ok {
		timeCol = def.TimeColumn
	}
	return q.filterOn(timeCol)
}

// timeColumnOf is the time column of a table: its definition's, else
// event_time or timestamp, whichever it has.
func timeColumnOf(name string, sc *iceberg.Schema) string {
	if def, ok := KnownTables[name]; ok {
		return def.TimeColumn
	}
	if _, ok := sc.FindFieldByName(ColEventTime); !ok {
		if _, ok := sc.FindFieldByName(ColTimestamp); ok {
			return ColTimestamp
		}
		if _, ok := sc.FindFieldByName(ColBarEnd); ok {
			return ColBarEnd // a bar table
		}
	}
	return ColEventTime
}

func (q TableQuery) filterOn(timeCol string) iceberg.BooleanExpression {
	var f iceberg.BooleanExpression = iceberg.AlwaysTrue{}
	and := func(e iceberg.BooleanExpression) { f = iceberg.NewAnd(f, e) }
	in := func(col string, vals []string) {
		switch len(vals) {
		case 0:
		case 1:
			and(iceberg.EqualTo(iceberg.Reference(col), vals[0]))
		default:
			and(iceberg.IsIn(iceberg.Reference(col), vals...))
		}
	}
	in(ColSymbol, q.Symbols)
	keys := make([]string, 0, len(q.Equal))
	for k := range q.Equal {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		in(k, q.Equal[k])
	}
	if !q.Start.IsZero() {
		and(iceberg.GreaterThanEqual(iceberg.Reference(timeCol), iceberg.Timestamp(q.Start.UnixMicro())))
	}
	if !q.End.IsZero() {
		and(iceberg.LessThan(iceberg.Reference(timeCol), iceberg.Timestamp(q.End.UnixMicro())))
	}
	return f
}

// ReadTable reads the rows of table name matching q, with partition and
// file pruning, in time order (readOrder: time, symbol, row identity,
// feature name): ScanTable's rows as one table of one chunk per column.
// The caller releases it.
func (w *Warehouse) ReadTable(ctx context.Context, name string, q TableQuery) (arrow.Table, error) {
	schema, recs, err := w.ScanTable(ctx, name, q, StreamOptions{})
	if err != nil {
		return nil, err
	}
	var held []arrow.RecordBatch
	defer func() {
		for _, r := range held {
			r.Release()
		}
	}()
	for rec, err := range recs {
		if err != nil {
			return nil, err
		}
		rec.Retain()
		held = append(held, rec)
	}
	all := array.NewTableFromRecords(schema, held)
	defer all.Release()
	cols := make([]arrow.Array, schema.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i := range cols {
		if cols[i], err = flatten(all.Column(i), w.mem); err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
	}
	rec := array.NewRecordBatch(schema, cols, all.NumRows())
	defer rec.Release()
	return array.NewTableFromRecords(schema, []arrow.RecordBatch{rec}), nil
}

// ScanTable streams the rows of table name matching q, for DoGet: the
// schema, then the batches, each valid until the next is requested (the
// consumer releases nothing), in time order (readOrder: time, symbol, row
// identity, feature name; the time column orders the rows even when q
// does not select it). With a limit, the first q.Limit rows of that order.
//
// As StreamSource, the data files are grouped by their time ranges (file
// statistics): files whose ranges overlap or touch are read together and
// sorted, and the groups follow each other in time, the next read while
// the consumer sends the current one. So the memory is that of one or two
// groups (usually one partition: a day of ft_features' features, a
// symbol-day of trades), not of every row selected; a group past
// opts.MaxBufferBytes (0: no bound) ends the read with a
// *BufferLimitError. A file without time statistics joins every group its
// range could overlap, down to one group for the whole read.
func (w *Warehouse) ScanTable(ctx context.Context, name string, q TableQuery, opts StreamOptions) (*arrow.Schema, iter.Seq2[arrow.RecordBatch, error], error) {
	if opts.BatchRows <= 0 {
		opts.BatchRows = DefaultStreamBatchRows
	}
	tbl, err := w.LoadTable(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	sc := tbl.Schema()
	timeCol := timeColumnOf(name, sc)
	scanOpts := []table.ScanOption{table.WithRowFilter(q.filterOn(timeCol))}
	dropTime := false // the time column is read to order the rows, not sent
	if q.Columns != nil {
		for _, c := range q.Columns {
			if _, ok := sc.FindFieldByName(c); !ok {
				return nil, nil, fmt.Errorf("table %s: no column %q (columns: %s)", name, c, schemaNames(sc))
			}
		}
		cols := q.Columns
		if _, ok := sc.FindFieldByName(timeCol); ok && !slices.Contains(cols, timeCol) {
			cols, dropTime = append(slices.Clone(cols), timeCol), true
		}
		scanOpts = append(scanOpts, table.WithSelectedFields(cols...))
	}
	scan := tbl.Scan(scanOpts...)
	defer scan.Close()
	proj, err := scan.Projection()
	if err != nil {
		return nil, nil, fmt.Errorf("table %s: %w", name, err)
	}
	readSchema, err := table.SchemaToArrowSchema(proj, nil, false, false)
	if err != nil {
		return nil, nil, fmt.Errorf("table %s: %w", name, err)
	}
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("plan %s: %w", name, err)
	}
	groups := groupByTime(tasks, func(t table.FileScanTask) timeSpan { return fileTimeSpan(sc, timeCol, t) })
	keys := readOrder(timeCol, readSchema)
	schema := readSchema
	if dropTime {
		schema = withoutField(readSchema, timeCol)
	}
	produce := func(ctx context.Context, send func(group) bool) {
		scan := tbl.Scan(scanOpts...)
		defer scan.Close()
		for _, g := range groups {
			rows, err := readSorted(ctx, w.mem, scan, g, keys, opts.MaxBufferBytes)
			var be *BufferLimitError
			if errors.As(err, &be) {
				be.Table = name
			} else if err != nil {
				err = fmt.Errorf("read %s: %w", name, err)
			}
			if err != nil {
				send(group{err: err})
				return
			}
			if dropTime {
				rows = dropColumn(rows, schema, timeCol)
			}
			if rows.NumRows() == 0 {
				rows.Release()
				continue
			}
			if !send(group{rows: rows}) {
				return
			}
		}
	}
	seq := streamGroups(ctx, schema, opts.BatchRows, produce)
	if q.Limit > 0 {
		seq = limitRows(seq, q.Limit)
	}
	return schema, seq, nil
}

// withoutField is sc without the field called name.
func withoutField(sc *arrow.Schema, name string) *arrow.Schema {
	fields := slices.DeleteFunc(slices.Clone(sc.Fields()), func(f arrow.Field) bool { return f.Name == name })
	md := sc.Metadata()
	return arrow.NewSchema(fields, &md)
}

// dropColumn is t without its column name, as schema (t's schema without
// it); t is released.
func dropColumn(t arrow.Table, schema *arrow.Schema, name string) arrow.Table {
	defer t.Release()
	cols := make([]arrow.Column, 0, t.NumCols())
	for i := range int(t.NumCols()) {
		if t.Schema().Field(i).Name != name {
			cols = append(cols, *t.Column(i))
		}
	}
	return array.NewTable(schema, cols, t.NumRows())
}

// limitRows yields the first n rows of seq, the last batch sliced.
func limitRows(seq iter.Seq2[arrow.RecordBatch, error], n int64) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		left := n
		for rec, err := range seq {
			if err != nil {
				yield(nil, err)
				return
			}
			if rec.NumRows() < left {
				left -= rec.NumRows()
				if !yield(rec, nil) {
					return
				}
				continue
			}
			last := rec.NewSlice(0, left)
			yield(last, nil)
			last.Release()
			return
		}
	}
}

// ReadFeatures reads ft_features rows of the named features (nil: all)
// for symbols (nil: all) in [start, end) (zero: open).
func (w *Warehouse) ReadFeatures(ctx context.Context, features, symbols []string, start, end time.Time) (arrow.Table, error) {
	q := TableQuery{Symbols: symbols, Start: start, End: end}
	if len(features) > 0 {
		q.Equal = map[string][]string{"feature_name": features}
	}
	return w.ReadTable(ctx, FeaturesTable, q)
}
