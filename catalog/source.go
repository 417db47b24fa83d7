package catalog

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/featuredag/fdag/ir"
)

// SourceRequest mirrors the original _read_source_tables(schema_name,
// tables, symbol, start_time, end_time) for one table of the warehouse's
// namespace.
type SourceRequest struct {
	Table   string   // default cdm_trade_enriched
	Symbols []string // empty: every symbol
	// Start and End bound the rows to compute, [Start, End). A zero Start
	// reads from the beginning (no warmup); a zero End reads to the end.
	Start, End time.Time
	// Columns projects the read; the symbol, time and trade_id columns are
	// always added (they order the rows). nil reads every column.
	Columns []string
	// Lookback is the history the computation needs before Start
	// (ir.Plan.MaxLookback): Dur before Start, and Rows more rows of the
	// same symbol before that, however far back they are.
	Lookback ir.Lookback
	// MaxWarmupGap, when positive, bounds how far before Start the warmup
	// reaches: no row older than Start - MaxWarmupGap is read, so a symbol
	// quiet for years does not pull its 2020 rows into a 2024 range. Its
	// windows then start short, as at the symbol's first rows.
	MaxWarmupGap time.Duration
}

// SourceData is the result of ReadSource. Table holds the warmup rows and
// the requested rows, sorted by symbol, time and trade_id (stable, so the
// order is reproducible whatever the file layout); Warmup[i] is true for
// the rows before Start, which feed the windows but are not output (the
// same as time < Start). The caller releases Table.
type SourceData struct {
	Table      arrow.Table
	TimeColumn string // the table's time column (TimeColumn): event_time, bar_end, ...
	Warmup     []bool
	WarmupRows int64
}

// Release frees the table.
func (s *SourceData) Release() {
	if s != nil && s.Table != nil {
		s.Table.Release()
		s.Table = nil
	}
}

// maxWarmupStep bounds the doubling step back in time when looking for row
// warmup; the search always ends at the symbol's earliest file.
const firstWarmupStep = 24 * time.Hour

// ReadSource reads a source table with pushdown (symbols and [Start, End)
// prune partitions and files, the projection prunes columns) plus the
// warmup that req.Lookback needs before Start.
//
// Duration warmup reads [Start - Dur, Start). Row warmup needs the last
// Rows rows of each symbol before Start - Dur even across quiet periods
// (weekends, delistings): it steps back a day, then doubles the step,
// counting rows with a time-only projection, until it has enough rows or
// passes the symbol's earliest data file (from the file statistics), then
// reads the needed range once with the full projection.
func (w *Warehouse) ReadSource(ctx context.Context, req SourceRequest) (*SourceData, error) {
	if req.Table == "" {
		req.Table = TradesTable
	}
	r, err := w.openSource(ctx, req)
	if err != nil {
		return nil, err
	}
	timeCol := r.timeCol

	main, err := r.read(ctx, req.Symbols, req.Start, req.End)
	if err != nil {
		return nil, err
	}
	parts := []arrow.Table{main}
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	if !req.Start.IsZero() && !req.Lookback.IsZero() && main.NumRows() > 0 {
		syms := req.Symbols
		if len(syms) == 0 {
			syms = distinctStrings(main, ColSymbol)
		}
		for _, sym := range syms {
			t, err := r.warmup(ctx, sym, req.Start, req.Lookback, req.MaxWarmupGap)
			if err != nil {
				return nil, err
			}
			parts = append(parts, t)
		}
	}
	out, err := sortedConcat(ctx, w, parts, timeCol)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", req.Table, err)
	}
	data := &SourceData{Table: out, TimeColumn: timeCol, Warmup: make([]bool, out.NumRows())}
	if !req.Start.IsZero() {
		startUS := req.Start.UnixMicro()
		i := 0
		for _, c := range out.Column(out.Schema().FieldIndices(timeCol)[0]).Data().Chunks() {
			ts := c.(*array.Timestamp).TimestampValues()
			for _, v := range ts {
				if int64(v) < startUS {
					data.Warmup[i] = true
					data.WarmupRows++
				}
				i++
			}
		}
	}
	w.log.Debug("source read", "table", req.Table, "symbols", len(req.Symbols), "rows", out.NumRows(),
		"warmup_rows", data.WarmupRows, "lookback", req.Lookback.String())
	return data, nil
}

// projection returns the columns to read: the requested ones (unknown
// names are an error) plus symbol, time and trade_id when the table has
// them.
func projection(sc *iceberg.Schema, want []string, timeCol string) ([]string, error) {
	if want == nil {
		var all []string
		for _, f := range sc.Fields() {
			all = append(all, f.Name)
		}
		return all, nil
	}
	var cols []string
	for _, c := range append([]string{ColSymbol, timeCol, ColTradeID}, want...) {
		if _, ok := sc.FindFieldByName(c); !ok {
			if c == ColTradeID {
				continue
			}
			return nil, fmt.Errorf("no column %q (columns: %s)", c, schemaNames(sc))
		}
		if !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	return cols, nil
}

func schemaNames(sc *iceberg.Schema) string {
	var names []string
	for _, f := range sc.Fields() {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

type sourceReader struct {
	w       *Warehouse
	tbl     *table.Table
	name    string
	timeCol string
	cols    []string
}

// filter is symbol IN syms AND lo <= time < hi; zero bounds are open.
func (r *sourceReader) filter(syms []string, lo, hi time.Time) iceberg.BooleanExpression {
	var f iceberg.BooleanExpression = iceberg.AlwaysTrue{}
	switch len(syms) {
	case 0:
	case 1:
		f = iceberg.EqualTo(iceberg.Reference(ColSymbol), syms[0])
	default:
		f = iceberg.IsIn(iceberg.Reference(ColSymbol), syms...)
	}
	if !lo.IsZero() {
		f = iceberg.NewAnd(f, iceberg.GreaterThanEqual(iceberg.Reference(r.timeCol), iceberg.Timestamp(lo.UnixMicro())))
	}
	if !hi.IsZero() {
		f = iceberg.NewAnd(f, iceberg.LessThan(iceberg.Reference(r.timeCol), iceberg.Timestamp(hi.UnixMicro())))
	}
	return f
}

// read scans the rows of syms in [lo, hi) with the projection.
func (r *sourceReader) read(ctx context.Context, syms []string, lo, hi time.Time) (arrow.Table, error) {
	return r.scan(ctx, r.filter(syms, lo, hi), r.cols)
}

func (r *sourceReader) scan(ctx context.Context, f iceberg.BooleanExpression, cols []string) (arrow.Table, error) {
	scan := r.tbl.Scan(table.WithRowFilter(f), table.WithSelectedFields(cols...))
	defer scan.Close()
	t, err := scan.ToArrowTable(compute.WithAllocator(ctx, r.w.mem))
	if err != nil {
		return nil, fmt.Errorf("read %s where %s: %w", r.name, f, err)
	}
	return t, nil
}

// warmup returns the rows of sym before start that lb needs.
func (r *sourceReader) warmup(ctx context.Context, sym string, start time.Time, lb ir.Lookback, maxGap time.Duration) (arrow.Table, error) {
	from, err := r.warmupFrom(ctx, sym, start, lb, maxGap)
	if err != nil {
		return nil, err
	}
	return r.read(ctx, []string{sym}, from, start)
}

// warmupFrom is the time from which sym's rows before start are the
// warmup lb needs, never before start - maxGap when maxGap > 0.
func (r *sourceReader) warmupFrom(ctx context.Context, sym string, start time.Time, lb ir.Lookback, maxGap time.Duration) (time.Time, error) {
	var floor time.Time // zero: no bound
	if maxGap > 0 {
		floor = start.Add(-maxGap)
	}
	from := start.Add(-time.Duration(lb.Dur))
	if !floor.IsZero() && from.Before(floor) {
		from = floor
	}
	if lb.Rows > 0 {
		cut, err := r.rowCut(ctx, sym, from, lb.Rows, floor)
		if err != nil {
			return time.Time{}, err
		}
		if !cut.IsZero() && cut.Before(from) {
			from = cut
		}
	}
	if !floor.IsZero() && from.Before(floor) {
		from = floor
	}
	return from, nil
}

// rowCut returns the time of the n-th row of sym before before (counting
// back), or the earliest time of sym when it has fewer rows; zero when
// there are none. The search goes back no further than floor (zero: no
// bound).
func (r *sourceReader) rowCut(ctx context.Context, sym string, before time.Time, n int, floor time.Time) (time.Time, error) {
	earliest, ok, err := r.earliest(ctx, sym, before)
	if err != nil || !ok {
		return time.Time{}, err
	}
	if floor.After(earliest) {
		earliest = floor
	}
	var times []int64 // collected newest chunk first
	hi := before
	step := firstWarmupStep
	for {
		lo := hi.Add(-step)
		t, err := r.scan(ctx, r.filter([]string{sym}, lo, hi), []string{ColSymbol, r.timeCol})
		if err != nil {
			return time.Time{}, err
		}
		chunk := timeValues(t, r.timeCol)
		t.Release()
		slices.Sort(chunk)
		times = append(chunk, times...)
		if len(times) >= n || !lo.After(earliest) {
			break
		}
		hi, step = lo, step*2
	}
	if len(times) == 0 {
		return time.Time{}, nil
	}
	k := max(len(times)-n, 0)
	r.w.log.Debug("row warmup", slog.String("symbol", sym), slog.Int("rows", n), slog.Int("found", len(times)))
	return time.UnixMicro(times[k]).UTC(), nil
}

// earliest returns the smallest time of sym before before, from the lower
// bounds of the data files' statistics.
func (r *sourceReader) earliest(ctx context.Context, sym string, before time.Time) (time.Time, bool, error) {
	f := r.filter([]string{sym}, time.Time{}, before)
	scan := r.tbl.Scan(table.WithRowFilter(f), table.WithSelectedFields(ColSymbol, r.timeCol))
	defer scan.Close()
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("plan %s where %s: %w", r.name, f, err)
	}
	field, _ := r.tbl.Schema().FindFieldByName(r.timeCol)
	var lo int64
	found := false
	for _, t := range tasks {
		b, ok := t.File.LowerBoundValues()[field.ID]
		if !ok || len(b) != 8 {
			return time.Unix(0, 0), true, nil // no statistics: search back to the epoch
		}
		v := int64(binary.LittleEndian.Uint64(b))
		if !found || v < lo {
			lo, found = v, true
		}
	}
	return time.UnixMicro(lo).UTC(), found, nil
}

func timeValues(t arrow.Table, col string) []int64 {
	idx := t.Schema().FieldIndices(col)
	out := make([]int64, 0, t.NumRows())
	for _, c := range t.Column(idx[0]).Data().Chunks() {
		ts := c.(*array.Timestamp)
		for i, v := range ts.TimestampValues() {
			if ts.IsValid(i) {
				out = append(out, int64(v))
			}
		}
	}
	return out
}

func distinctStrings(t arrow.Table, col string) []string {
	idx := t.Schema().FieldIndices(col)
	if len(idx) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, c := range t.Column(idx[0]).Data().Chunks() {
		s := c.(*array.String)
		for i := 0; i < s.Len(); i++ {
			if v := s.Value(i); s.IsValid(i) && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	slices.Sort(out)
	return out
}

// sortedConcat concatenates tables of one schema and sorts the rows by
// symbol, time and trade_id (when present), stably.
func sortedConcat(ctx context.Context, w *Warehouse, parts []arrow.Table, timeCol string) (arrow.Table, error) {
	schema := parts[0].Schema()
	var n int64
	chunks := make([][]arrow.Array, schema.NumFields())
	for _, p := range parts {
		if !p.Schema().Equal(schema) {
			return nil, fmt.Errorf("warmup read schema %s differs from %s", p.Schema(), schema)
		}
		n += p.NumRows()
		for i := range chunks {
			chunks[i] = append(chunks[i], p.Column(i).Data().Chunks()...)
		}
	}
	cols := make([]arrow.Column, len(chunks))
	for i, c := range chunks {
		ch := arrow.NewChunked(schema.Field(i).Type, c)
		cols[i] = *arrow.NewColumn(schema.Field(i), ch)
		ch.Release()
	}
	all := array.NewTable(schema, cols, n)
	for i := range cols {
		cols[i].Release()
	}
	defer all.Release()
	return sortRows(ctx, w.mem, all, []string{ColSymbol, timeCol, ColTradeID})
}

// DropWarmup returns the rows of tbl (row-aligned with a SourceData, e.g.
// compute's wide output) whose warmup flag is false, as zero-copy slices of
// its chunks: warmup rows come first in each symbol's run, so the kept rows
// are a few long runs. The caller releases the result.
func DropWarmup(tbl arrow.Table, warmup []bool) (arrow.Table, error) {
	if int64(len(warmup)) != tbl.NumRows() {
		return nil, fmt.Errorf("drop warmup: %d flags for %d rows", len(warmup), tbl.NumRows())
	}
	var keep []arrow.RecordBatch
	defer func() {
		for _, r := range keep {
			r.Release()
		}
	}()
	tr := array.NewTableReader(tbl, -1)
	defer tr.Release()
	offset := 0
	for tr.Next() {
		rec := tr.RecordBatch()
		n := int(rec.NumRows())
		for i := 0; i < n; {
			if warmup[offset+i] {
				i++
				continue
			}
			j := i
			for j < n && !warmup[offset+j] {
				j++
			}
			keep = append(keep, rec.NewSlice(int64(i), int64(j)))
			i = j
		}
		offset += n
	}
	return array.NewTableFromRecords(tbl.Schema(), keep), nil
}

// Symbols lists the symbols with rows in [start, end) (zero: open) of a
// source table, from the file metadata only (partition values or column
// bounds), without reading data: for planning one endpoint or shard per
// symbol.
func (w *Warehouse) Symbols(ctx context.Context, name string, start, end time.Time) ([]string, error) {
	tbl, err := w.LoadTable(ctx, name)
	if err != nil {
		return nil, err
	}
	timeCol := timeColumnOf(name, tbl.Schema())
	r := &sourceReader{w: w, tbl: tbl, name: name, timeCol: timeCol}
	f := r.filter(nil, start, end)
	scan := tbl.Scan(table.WithRowFilter(f), table.WithSelectedFields(ColSymbol))
	defer scan.Close()
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("plan %s where %s: %w", name, f, err)
	}
	symField, ok := tbl.Schema().FindFieldByName(ColSymbol)
	if !ok {
		return nil, fmt.Errorf("table %s has no %s column", name, ColSymbol)
	}
	var partID = -1
	spec := tbl.Spec()
	for _, pf := range spec.Fields() {
		if len(pf.SourceIDs) == 1 && pf.SourceIDs[0] == symField.ID {
			if _, ok := pf.Transform.(iceberg.IdentityTransform); ok {
				partID = pf.FieldID
			}
		}
	}
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, t := range tasks {
		if v, ok := t.File.Partition()[partID]; ok && partID >= 0 {
			if s, ok := v.(string); ok {
				add(s)
				continue
			}
		}
		// not partitioned by symbol: the file's bounds name it when it
		// holds one symbol; otherwise read the column
		lo, hi := t.File.LowerBoundValues()[symField.ID], t.File.UpperBoundValues()[symField.ID]
		if lo != nil && string(lo) == string(hi) {
			add(string(lo))
			continue
		}
		data, err := r.scan(ctx, f, []string{ColSymbol})
		if err != nil {
			return nil, err
		}
		out = distinctStrings(data, ColSymbol)
		data.Release()
		return out, nil
	}
	slices.Sort(out)
	return out, nil
}

// openSource opens req.Table for reading req.Columns (the time column
// always included): the setup ReadSource and StreamSource share.
func (w *Warehouse) openSource(ctx context.Context, req SourceRequest) (*sourceReader, error) {
	tbl, err := w.LoadTable(ctx, req.Table)
	if err != nil {
		return nil, err
	}
	timeCol := timeColumnOf(req.Table, tbl.Schema())
	cols, err := projection(tbl.Schema(), req.Columns, timeCol)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", req.Table, err)
	}
	return &sourceReader{w: w, tbl: tbl, name: req.Table, timeCol: timeCol, cols: cols}, nil
}
