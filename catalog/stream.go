package catalog

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// StreamOptions bound a streamed source read.
type StreamOptions struct {
	// BatchRows is the most rows of one yielded batch; 0: DefaultStreamBatchRows.
	BatchRows int
	// MaxBufferBytes bounds the decoded source rows held at once for
	// ordering (one group of data files whose time ranges overlap, usually
	// one symbol-day partition); 0: no bound. A group past it ends the read
	// with a *BufferLimitError.
	MaxBufferBytes int64
}

// DefaultStreamBatchRows is the batch size of StreamSource.
const DefaultStreamBatchRows = 1 << 16

// BufferLimitError is a streamed read that would have to hold more source
// bytes at once than StreamOptions.MaxBufferBytes allows.
type BufferLimitError struct {
	Table, Symbol string
	Files         int
	Bytes, Limit  int64
}

func (e *BufferLimitError) Error() string {
	what := "the rows of 1 data file"
	if e.Files > 1 {
		what = fmt.Sprintf("the rows of %d data files whose time ranges overlap (read together to order them)", e.Files)
	}
	where := "table " + e.Table
	if e.Symbol != "" {
		where += ", symbol " + e.Symbol
	}
	return fmt.Sprintf("%s: %s take over %d bytes, more than the %d bytes a streamed read may hold at once",
		where, what, e.Bytes, e.Limit)
}

// SourceStream is a source read batch by batch (StreamSource).
type SourceStream struct {
	// Schema is the schema of every batch.
	Schema *arrow.Schema
	// Batches yields the rows ReadSource's Table holds, in the same order
	// (symbol, time, trade_id), warmup first in each symbol; a batch is
	// valid until the next is requested (the consumer releases nothing).
	// The read stops when the consumer stops or the context is done.
	Batches iter.Seq2[arrow.RecordBatch, error]
	// TimeColumn is the column the warmup is told by: a row with a time
	// before the request's Start is warmup.
	TimeColumn string
}

// StreamSource is ReadSource batch by batch: the same rows in the same
// order, with the memory of a few batches plus one group of data files at
// a time rather than of the whole result.
//
// Rows must come ordered by (symbol, time, trade_id) while files hold them
// in whatever order they were ingested, so the symbols are read one after
// the other and each symbol's data files are grouped by their time ranges
// (file statistics): files whose ranges overlap (or touch) form one group,
// read whole and sorted; groups follow each other in time. With the trade
// table's (symbol, day) partitioning a group is at most one symbol-day.
// The next group is read while the consumer works on the current one, so
// at most two groups and a batch in flight are held. A file without time
// statistics joins every group its range could overlap, down to one group
// for the whole symbol (ReadSource's memory).
func (w *Warehouse) StreamSource(ctx context.Context, req SourceRequest, opts StreamOptions) (*SourceStream, error) {
	if req.Table == "" {
		req.Table = TradesTable
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = DefaultStreamBatchRows
	}
	r, err := w.openSource(ctx, req)
	if err != nil {
		return nil, err
	}
	schema, err := r.arrowSchema()
	if err != nil {
		return nil, err
	}
	syms := slices.Clone(req.Symbols)
	if len(syms) == 0 {
		if syms, err = w.Symbols(ctx, req.Table, req.Start, req.End); err != nil {
			return nil, err
		}
	}
	slices.Sort(syms)
	syms = slices.Compact(syms)
	s := &sourceStream{r: r, req: req, opts: opts, schema: schema, symbols: syms}
	return &SourceStream{Schema: schema, Batches: s.batches(ctx), TimeColumn: r.timeCol}, nil
}

// arrowSchema is the Arrow schema of the projection, as scans return it.
func (r *sourceReader) arrowSchema() (*arrow.Schema, error) {
	scan := r.tbl.Scan(table.WithSelectedFields(r.cols...))
	defer scan.Close()
	proj, err := scan.Projection()
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", r.name, err)
	}
	schema, err := table.SchemaToArrowSchema(proj, nil, false, false)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", r.name, err)
	}
	return schema, nil
}

type sourceStream struct {
	r       *sourceReader
	req     SourceRequest
	opts    StreamOptions
	schema  *arrow.Schema
	symbols []string
}

// group is one read of a streamed source: sorted rows of one symbol, or
// the error that ended the read.
type group struct {
	rows arrow.Table
	err  error
}

func (s *sourceStream) batches(ctx context.Context) iter.Seq2[arrow.RecordBatch, error] {
	return streamGroups(ctx, s.schema, s.opts.BatchRows, s.produce)
}

// streamGroups yields the rows of the groups produce sends, in batches
// of at most batchRows rows of schema. produce runs in its own goroutine,
// one group ahead of the consumer, and stops when send says so; however
// the consumer ends, the producer stops and what it read ahead is
// released before the iteration returns.
func streamGroups(ctx context.Context, schema *arrow.Schema, batchRows int, produce func(context.Context, func(group) bool)) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		groups := make(chan group, 1) // one group read ahead
		send := func(g group) bool {
			select {
			case groups <- g:
				return true
			case <-ctx.Done():
				if g.rows != nil {
					g.rows.Release()
				}
				return false
			}
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(groups)
			produce(ctx, send)
		}()
		defer func() {
			cancel()
			for g := range groups {
				if g.rows != nil {
					g.rows.Release()
				}
			}
			wg.Wait()
		}()
		for g := range groups {
			if g.err != nil {
				yield(nil, g.err)
				return
			}
			ok := yieldRows(schema, batchRows, g.rows, yield)
			g.rows.Release()
			if !ok {
				return
			}
		}
		if err := ctx.Err(); err != nil {
			yield(nil, err)
		}
	}
}

// yieldRows yields a group's rows in batches of schema.
func yieldRows(schema *arrow.Schema, batchRows int, rows arrow.Table, yield func(arrow.RecordBatch, error) bool) bool {
	tr := array.NewTableReader(rows, int64(batchRows))
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		out := array.NewRecordBatch(schema, rec.Columns(), rec.NumRows())
		ok := yield(out, nil)
		out.Release()
		if !ok {
			return false
		}
	}
	return true
}

// produce sends the groups of every symbol in order, ending at the first
// error or when send refuses.
func (s *sourceStream) produce(ctx context.Context, send func(group) bool) {
	for _, sym := range s.symbols {
		from, tasks, err := s.symbolTasks(ctx, sym)
		if err != nil {
			send(group{err: err})
			return
		}
		for _, g := range groupByTime(tasks, s.r.timeRange) {
			rows, err := s.readGroup(ctx, sym, from, g)
			if err != nil {
				send(group{err: err})
				return
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
}

// symbolTasks plans the files of sym in [from, End), from the warmup's
// start: none when no file reaches Start (no rows to output, so no warmup
// to read either, as ReadSource).
func (s *sourceStream) symbolTasks(ctx context.Context, sym string) (from time.Time, tasks []table.FileScanTask, err error) {
	from = s.req.Start
	if !s.req.Start.IsZero() && !s.req.Lookback.IsZero() {
		if from, err = s.r.warmupFrom(ctx, sym, s.req.Start, s.req.Lookback, s.req.MaxWarmupGap); err != nil {
			return from, nil, err
		}
	}
	f := s.r.filter([]string{sym}, from, s.req.End)
	scan := s.r.tbl.Scan(table.WithRowFilter(f), table.WithSelectedFields(s.r.cols...))
	defer scan.Close()
	if tasks, err = scan.PlanFiles(ctx); err != nil {
		return from, nil, fmt.Errorf("plan %s where %s: %w", s.r.name, f, err)
	}
	if !s.req.Start.IsZero() && from.Before(s.req.Start) {
		start := s.req.Start.UnixMicro()
		if !slices.ContainsFunc(tasks, func(t table.FileScanTask) bool { return s.r.timeRange(t).hi >= start }) {
			return from, nil, nil
		}
	}
	return from, tasks, nil
}

// timeSpan is a data file's time range from its statistics, in
// microseconds, unbounded where they are missing.
type timeSpan struct{ lo, hi int64 }

func (r *sourceReader) timeRange(t table.FileScanTask) timeSpan {
	return fileTimeSpan(r.tbl.Schema(), r.timeCol, t)
}

// fileTimeSpan is the range of timeCol in t's data file.
func fileTimeSpan(sc *iceberg.Schema, timeCol string, t table.FileScanTask) timeSpan {
	sp := timeSpan{math.MinInt64, math.MaxInt64}
	field, ok := sc.FindFieldByName(timeCol)
	if !ok {
		return sp
	}
	if b, ok := t.File.LowerBoundValues()[field.ID]; ok && len(b) == 8 {
		sp.lo = int64(binary.LittleEndian.Uint64(b))
	}
	if b, ok := t.File.UpperBoundValues()[field.ID]; ok && len(b) == 8 {
		sp.hi = int64(binary.LittleEndian.Uint64(b))
	}
	return sp
}

// groupByTime splits tasks into groups whose time ranges do not overlap
// (or touch), in time order; within a group the tasks keep the planned
// order, as a whole read has them (ties sort stably in that order).
func groupByTime(tasks []table.FileScanTask, span func(table.FileScanTask) timeSpan) [][]table.FileScanTask {
	if len(tasks) == 0 {
		return nil
	}
	idx := make([]int, len(tasks))
	spans := make([]timeSpan, len(tasks))
	for i, t := range tasks {
		idx[i], spans[i] = i, span(t)
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(spans[a].lo, spans[b].lo) })
	var out [][]table.FileScanTask
	var cur []int
	hi := int64(math.MinInt64)
	flush := func() {
		slices.Sort(cur)
		g := make([]table.FileScanTask, len(cur))
		for i, c := range cur {
			g[i] = tasks[c]
		}
		out = append(out, g)
		cur = nil
	}
	for _, i := range idx {
		if len(cur) > 0 && spans[i].lo > hi {
			flush()
		}
		cur = append(cur, i)
		hi = max(hi, spans[i].hi)
	}
	flush()
	return out
}

// readGroup reads one group's rows of sym in [from, End), sorted by
// symbol, time and trade_id.
func (s *sourceStream) readGroup(ctx context.Context, sym string, from time.Time, tasks []table.FileScanTask) (arrow.Table, error) {
	f := s.r.filter([]string{sym}, from, s.req.End)
	scan := s.r.tbl.Scan(table.WithRowFilter(f), table.WithSelectedFields(s.r.cols...))
	defer scan.Close()
	rows, err := readSorted(ctx, s.r.w.mem, scan, tasks, []string{ColSymbol, s.r.timeCol, ColTradeID}, s.opts.MaxBufferBytes)
	var be *BufferLimitError
	if errors.As(err, &be) {
		be.Table, be.Symbol = s.r.name, sym
		return nil, be
	}
	if err != nil {
		return nil, fmt.Errorf("read %s where %s: %w", s.r.name, f, err)
	}
	return rows, nil
}

// readSorted reads the rows of scan's tasks, ordered by keys; past
// maxBytes (0: no bound) of decoded rows it ends with a *BufferLimitError
// (Files and the bytes set, the caller says which table).
func readSorted(ctx context.Context, mem memory.Allocator, scan *table.Scan, tasks []table.FileScanTask, keys []string, maxBytes int64) (arrow.Table, error) {
	schema, recs, err := scan.ReadTasks(compute.WithAllocator(ctx, mem), tasks)
	if err != nil {
		return nil, err
	}
	var held []arrow.RecordBatch
	defer func() {
		for _, r := range held {
			r.Release()
		}
	}()
	var bytes int64
	for rec, err := range recs {
		if err != nil {
			return nil, err
		}
		held = append(held, rec)
		bytes += recordBytes(rec)
		if maxBytes > 0 && bytes > maxBytes {
			return nil, &BufferLimitError{Files: len(tasks), Bytes: bytes, Limit: maxBytes}
		}
	}
	all := array.NewTableFromRecords(schema, held)
	defer all.Release()
	return sortRows(ctx, mem, all, keys)
}

// recordBytes is the size of a batch's buffers.
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	var add func(d arrow.ArrayData)
	add = func(d arrow.ArrayData) {
		for _, b := range d.Buffers() {
			if b != nil {
				n += int64(b.Len())
			}
		}
		for _, c := range d.Children() {
			add(c)
		}
	}
	for _, c := range rec.Columns() {
		add(c.Data())
	}
	return n
}
