package catalog

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
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

// newScan plans the scan of q and says which column is the table's time.
func (w *Warehouse) newScan(ctx context.Context, name string, q TableQuery) (*table.Scan, string, error) {
	tbl, err := w.LoadTable(ctx, name)
	if err != nil {
		return nil, "", err
	}
	timeCol := timeColumnOf(name, tbl.Schema())
	opts := []table.ScanOption{table.WithRowFilter(q.filterOn(timeCol))}
	if q.Columns != nil {
		for _, c := range q.Columns {
			if _, ok := tbl.Schema().FindFieldByName(c); !ok {
				return nil, "", fmt.Errorf("table %s: no column %q (columns: %s)", name, c, schemaNames(tbl.Schema()))
			}
		}
		opts = append(opts, table.WithSelectedFields(q.Columns...))
	}
	if q.Limit > 0 {
		opts = append(opts, table.WithLimit(q.Limit))
	}
	return tbl.Scan(opts...), timeCol, nil
}

// ReadTable reads the rows of table name matching q, with partition and
// file pruning, in time order (readOrder: time, symbol, row identity,
// feature name). The caller releases the table.
func (w *Warehouse) ReadTable(ctx context.Context, name string, q TableQuery) (arrow.Table, error) {
	scan, timeCol, err := w.newScan(ctx, name, q)
	if err != nil {
		return nil, err
	}
	defer scan.Close()
	t, err := scan.ToArrowTable(compute.WithAllocator(ctx, w.mem))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer t.Release()
	sorted, err := sortRows(ctx, w.mem, t, readOrder(timeCol, t.Schema()))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return sorted, nil
}

// ScanTable streams the rows of table name matching q, for DoGet: the
// schema, then the batches, each valid until the next is requested (the
// consumer releases nothing), in ReadTable's time order. Ordering needs
// every matching row, so the rows are read whole first (memory grows with
// the rows the filter selects, as the client's read_all does anyway).
func (w *Warehouse) ScanTable(ctx context.Context, name string, q TableQuery) (*arrow.Schema, iter.Seq2[arrow.RecordBatch, error], error) {
	t, err := w.ReadTable(ctx, name, q)
	if err != nil {
		return nil, nil, err
	}
	seq := func(yield func(arrow.RecordBatch, error) bool) {
		defer t.Release()
		tr := array.NewTableReader(t, 1<<16)
		defer tr.Release()
		for tr.Next() {
			if !yield(tr.RecordBatch(), nil) {
				return
			}
		}
		if err := tr.Err(); err != nil {
			yield(nil, fmt.Errorf("read %s: %w", name, err))
		}
	}
	return t.Schema(), seq, nil
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
