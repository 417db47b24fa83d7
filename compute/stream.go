package compute

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/featuredag/fdag/compute/kernels"
	"github.com/featuredag/fdag/ir"
)

// InputError is a problem of the input data itself (a null time, a time
// column of the wrong type, a batch of another schema), as opposed to a
// failure of the computation: servers answer it as the client's mistake.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// OutOfOrderError reports a row of a symbol whose time is earlier than a
// row of the same symbol in an earlier batch. Within one batch rows are
// sorted; across batches the stream cannot go back in time.
type OutOfOrderError struct {
	Symbol     string
	Time, Last int64 // nanoseconds since the epoch (Timestamps), else the raw ordering key
	Timestamps bool  // the time column is a timestamp: Time and Last print as ISO 8601
	// Row is the first row of the symbol that goes back in time, counted
	// from 0 over every batch of the stream (the user's row when the rows
	// were sent in their own order); Batch counts from 1. Both are 0 when
	// unknown.
	Row   int64
	Batch int
}

func (e *OutOfOrderError) Error() string {
	sym := e.Symbol
	if sym == "" {
		sym = "(all rows)"
	}
	at := ""
	if e.Batch > 0 {
		at = fmt.Sprintf(" row %d (counting from 0 over the whole input; in batch %d)", e.Row, e.Batch)
	}
	return fmt.Sprintf("rows of symbol %s arrive out of time order:%s at %s is before %s, seen in an earlier batch; send each symbol's rows in time order",
		sym, at, e.format(e.Time), e.format(e.Last))
}

func (e *OutOfOrderError) format(t int64) string {
	if !e.Timestamps {
		return strconv.FormatInt(t, 10)
	}
	return time.Unix(0, t).UTC().Format(time.RFC3339Nano)
}

// NullTimeError is a row without a time. Row counts from 0 over the whole
// input (for a Stream, over every batch so far).
type NullTimeError struct {
	Column string
	Row    int64
	Nulls  int // in the batch (or table) holding Row
}

func (e *NullTimeError) Error() string {
	return fmt.Sprintf("time column %q is null at row %d (counting from 0; %d null in its batch); every row needs a time", e.Column, e.Row, e.Nulls)
}

// Stream computes features over a sequence of record batches of one schema,
// carrying each symbol's kernel state (window contents, lags, decay
// accumulators) from batch to batch, so that the output equals the one-shot
// computation whatever the batching, and memory stays bounded by the windows'
// reach rather than by the input size. A Stream is not safe for concurrent
// use; batches are processed one at a time.
type Stream struct {
	opts     Options
	plan     *ir.Plan
	prog     *program
	input    *arrow.Schema
	output   *arrow.Schema
	statuses []FeatureStatus
	states   map[string]*symbolState
	batches  int
	rows     int64 // rows processed, for the user's row numbers in errors
}

type symbolState struct {
	ops  []kernels.Op
	last int64
}

// NewStream validates the features against the input schema. It fails when
// the schema lacks the time column or no feature can run.
func NewStream(specs []ir.Spec, input *arrow.Schema, opts Options) (*Stream, error) {
	return NewStreamContext(context.Background(), specs, input, opts)
}

// NewStreamContext is NewStream that stops compiling, with ctx's error,
// once ctx is done.
func NewStreamContext(ctx context.Context, specs []ir.Spec, input *arrow.Schema, opts Options) (*Stream, error) {
	opts = opts.withDefaults()
	timeType, err := streamTimeType(input, opts)
	if err != nil {
		return nil, err
	}
	plan, err := ir.CompileContext(ctx, specs, ir.Options{Registry: opts.Registry, Aliases: opts.Aliases, SourceColumns: fieldNames(input), NoCSE: opts.NoCSE})
	if err != nil {
		return nil, err
	}
	return newStream(plan, input, timeType, opts)
}

// NewStreamPlan is NewStream over a plan already compiled for the input's
// columns (or more), for a caller that bounds compiling apart.
func NewStreamPlan(plan *ir.Plan, input *arrow.Schema, opts Options) (*Stream, error) {
	opts = opts.withDefaults()
	timeType, err := streamTimeType(input, opts)
	if err != nil {
		return nil, err
	}
	return newStream(plan, input, timeType, opts)
}

// streamTimeType is the type of the input's time column, which must be a
// time or an integer.
func streamTimeType(input *arrow.Schema, opts Options) (arrow.DataType, error) {
	timeIdx := input.FieldIndices(opts.TimeColumn)
	if len(timeIdx) == 0 {
		return nil, fmt.Errorf("the input has no time column %q (columns: %s)", opts.TimeColumn, strings.Join(fieldNames(input), ", "))
	}
	timeType := input.Field(timeIdx[0]).Type
	switch timeType.ID() {
	case arrow.TIMESTAMP, arrow.DATE32, arrow.INT64, arrow.INT32:
		return timeType, nil
	}
	return nil, fmt.Errorf("time column %q has type %s; expected a timestamp", opts.TimeColumn, timeType)
}

func newStream(plan *ir.Plan, input *arrow.Schema, timeType arrow.DataType, opts Options) (*Stream, error) {
	prog := newProgram(plan, inputInfo{
		timeColumn: opts.TimeColumn, symbolColumn: opts.SymbolColumn,
		columnErr: func(name string, str bool) error {
			idx := input.FieldIndices(name)
			if len(idx) == 0 {
				return fmt.Errorf("no column %q in the input", name)
			}
			return typeErr(name, input.Field(idx[0]).Type, str)
		},
		timeErr: durationErr(opts.TimeColumn, timeType),
	})
	sts := statuses(plan, prog.featureErr)
	if len(prog.outputs) == 0 {
		return nil, &NoFeaturesError{Statuses: sts}
	}
	fields := []arrow.Field{keyField(opts.TimeColumn, timeType)}
	if idx := input.FieldIndices(opts.SymbolColumn); len(idx) > 0 {
		fields = append(fields, keyField(opts.SymbolColumn, input.Field(idx[0]).Type))
	}
	for _, fi := range prog.outputs {
		fields = append(fields, featureField(plan, fi))
	}
	return &Stream{
		opts: opts, plan: plan, prog: prog, input: input, statuses: sts,
		output: arrow.NewSchema(fields, statusMetadata(sts)),
		states: map[string]*symbolState{},
	}, nil
}

func fieldNames(s *arrow.Schema) []string {
	var out []string
	for _, f := range s.Fields() {
		out = append(out, f.Name)
	}
	return out
}

// Schema is the output schema: time, symbol (when the input has one) and
// one float64 column per feature that runs, with the statuses in metadata.
func (s *Stream) Schema() *arrow.Schema { return s.output }

// Statuses is the status of every requested feature. A feature whose kernel
// fails in a later batch turns to error here and is null from then on.
func (s *Stream) Statuses() []FeatureStatus { return slices.Clone(s.statuses) }

// Plan is the compiled DAG.
func (s *Stream) Plan() *ir.Plan { return s.plan }

// Process computes the output rows for one input batch, aligned row for row
// with it. The caller releases the result.
func (s *Stream) Process(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	if !rec.Schema().Equal(s.input) {
		return nil, &InputError{fmt.Errorf("batch %d has schema %s, which differs from the stream's first schema %s", s.batches+1, rec.Schema(), s.input)}
	}
	n := int(rec.NumRows())
	cols := map[string]*arrow.Chunked{}
	col := func(name string) *arrow.Chunked {
		if c, ok := cols[name]; ok {
			return c // several nodes read it (side == 'buy', side == 'sell')
		}
		arr := rec.Column(rec.Schema().FieldIndices(name)[0])
		c := arrow.NewChunked(arr.DataType(), []arrow.Array{arr})
		cols[name] = c
		return c
	}
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	col(s.opts.TimeColumn)
	for _, id := range s.prog.sources {
		col(s.plan.Nodes[id].Column)
	}
	var sym *arrow.Chunked
	symIdx := rec.Schema().FieldIndices(s.opts.SymbolColumn)
	if len(symIdx) > 0 {
		sym = col(s.opts.SymbolColumn)
	}
	// The order check runs for every symbol before any kernel state
	// changes, and new symbols and end times are recorded only once the
	// batch succeeded, so a rejected batch leaves the stream as it was.
	type pending struct {
		symbol string
		st     *symbolState
		last   int64
	}
	var seen []pending
	b, err := s.prog.evaluate(ctx, cols, sym, n, s.opts, func(symbol string, first, last int64) ([]kernels.Op, error) {
		st := s.states[symbol]
		if st == nil {
			st = &symbolState{ops: make([]kernels.Op, len(s.prog.steps)), last: first}
			for i, step := range s.prog.steps {
				st.ops[i] = step.factory()
			}
		}
		if first < st.last {
			return nil, &OutOfOrderError{Symbol: symbol, Time: first, Last: st.last, Timestamps: s.timestamps()}
		}
		seen = append(seen, pending{symbol, st, last})
		return st.ops, nil
	})
	if err != nil {
		return nil, s.placeError(rec, err)
	}
	defer b.release()
	s.batches++
	s.rows += int64(n)
	for _, p := range seen {
		p.st.last = p.last
		s.states[p.symbol] = p.st
	}

	arrs := []arrow.Array{rec.Column(rec.Schema().FieldIndices(s.opts.TimeColumn)[0])}
	if sym != nil {
		arrs = append(arrs, rec.Column(symIdx[0]))
	}
	for _, a := range arrs {
		a.Retain()
	}
	for o, fi := range s.prog.outputs {
		if b.featureErr[fi] != nil && s.statuses[fi].Status == StatusSuccess {
			s.statuses[fi] = FeatureStatus{Name: s.statuses[fi].Name, Status: StatusError, Error: b.featureErr[fi].Error()}
		}
		if s.statuses[fi].Status != StatusSuccess {
			arrs = append(arrs, array.MakeArrayOfNull(s.opts.Mem, arrow.PrimitiveTypes.Float64, n))
			continue
		}
		arrs = append(arrs, b.array(o))
	}
	out := array.NewRecordBatch(s.output, arrs, int64(n))
	for _, a := range arrs {
		a.Release()
	}
	return out, nil
}

// timestamps reports whether the time column holds instants (so that
// errors print times in ISO 8601) rather than an integer ordering key.
func (s *Stream) timestamps() bool {
	id := s.input.Field(s.input.FieldIndices(s.opts.TimeColumn)[0]).Type.ID()
	return id == arrow.TIMESTAMP || id == arrow.DATE32
}

// placeError turns the batch-relative place of an input error into the
// user's: the row counted over the whole stream, and for rows going back
// in time the first such row of the symbol (the check itself only sees
// each symbol's earliest time).
func (s *Stream) placeError(rec arrow.RecordBatch, err error) error {
	var nt *NullTimeError
	if errors.As(err, &nt) {
		nt.Row += s.rows
		return err
	}
	var ooo *OutOfOrderError
	if !errors.As(err, &ooo) {
		return err
	}
	times, terr := newTimeColumn(s.opts.TimeColumn, rec.Column(rec.Schema().FieldIndices(s.opts.TimeColumn)[0]))
	if terr != nil {
		return err
	}
	var ids []int32
	var names []string
	if idx := rec.Schema().FieldIndices(s.opts.SymbolColumn); len(idx) > 0 {
		ids, names = symbolKeys([]arrow.Array{rec.Column(idx[0])})
	}
	for i, t := range times.ns {
		if t < ooo.Last && (ids == nil || names[ids[i]] == ooo.Symbol) {
			ooo.Time, ooo.Row, ooo.Batch = t, s.rows+int64(i), s.batches+1
			break
		}
	}
	return err
}
