package compute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/compute/kernels"
	"github.com/featuredag/fdag/ir"
)

// NoFeaturesError is returned when not a single requested feature can be
// computed; Statuses says why for each.
type NoFeaturesError struct {
	Statuses []FeatureStatus
}

func (e *NoFeaturesError) Error() string {
	var b strings.Builder
	b.WriteString("no feature can be computed")
	for _, s := range e.Statuses {
		fmt.Fprintf(&b, "\n  %s", s.Error)
	}
	return b.String()
}

// columnRef locates a column in the frames.
type columnRef struct {
	frame int
	col   *arrow.Chunked
}

// ComputeFeatures mirrors the original FeatureEngine.compute_features(specs,
// frames). It fails as a whole only when nothing can run (no time column,
// no valid feature); one feature's failure is reported in its status and
// never stops the others.
func ComputeFeatures(ctx context.Context, specs []ir.Spec, frames []Frame, opts Options) (*Result, error) {
	return compileAndCompute(ctx, frames, opts, func(names []string) (*ir.Plan, error) {
		return ir.CompileContext(ctx, specs, ir.Options{Registry: opts.Registry, Aliases: opts.Aliases, SourceColumns: names, NoCSE: opts.NoCSE})
	})
}

// ComputePlan is ComputeFeatures with the features compiled already, so
// that a batch run compiles its plan once and computes it on every shard.
// The plan is only read: several goroutines may compute one plan at once.
// opts.Registry, Aliases and NoCSE are not used (they are compile options).
func ComputePlan(ctx context.Context, plan *ir.Plan, frames []Frame, opts Options) (*Result, error) {
	return compileAndCompute(ctx, frames, opts, func([]string) (*ir.Plan, error) { return plan, nil })
}

// compileAndCompute indexes the frames' columns, gets the plan for their
// names and computes it.
func compileAndCompute(ctx context.Context, frames []Frame, opts Options, planFor func(columns []string) (*ir.Plan, error)) (*Result, error) {
	opts = opts.withDefaults()
	columns, names, err := indexColumns(frames)
	if err != nil {
		return nil, err
	}
	timeRef, ok := columns[opts.TimeColumn]
	if !ok {
		return nil, fmt.Errorf("no frame has the time column %q (columns: %s)", opts.TimeColumn, strings.Join(names, ", "))
	}
	plan, err := planFor(names)
	if err != nil {
		return nil, err
	}
	return computePlan(ctx, plan, frames, columns, timeRef, opts)
}

func computePlan(ctx context.Context, plan *ir.Plan, frames []Frame, columns map[string]columnRef, timeRef columnRef, opts Options) (*Result, error) {
	n := int(frames[timeRef.frame].Table.NumRows())
	symRef, hasSymbol := columns[opts.SymbolColumn]
	prog := newProgram(plan, inputInfo{
		timeColumn: opts.TimeColumn, symbolColumn: opts.SymbolColumn,
		columnErr: func(name string, str bool) error {
			ref, ok := columns[name]
			if !ok {
				return fmt.Errorf("no column %q in the input", name)
			}
			if err := typeErr(name, ref.col.DataType(), str); err != nil {
				return err
			}
			if ref.col.Len() != n {
				return fmt.Errorf("column %q of frame %q has %d rows; the frame holding %q has %d", name, frames[ref.frame].Name, ref.col.Len(), opts.TimeColumn, n)
			}
			return nil
		},
		timeErr: durationErr(opts.TimeColumn, timeRef.col.DataType()),
	})
	if len(prog.outputs) == 0 {
		return nil, &NoFeaturesError{Statuses: statuses(plan, prog.featureErr)}
	}

	in := map[string]*arrow.Chunked{opts.TimeColumn: timeRef.col}
	for _, id := range prog.sources {
		in[plan.Nodes[id].Column] = columns[plan.Nodes[id].Column].col
	}
	var symCol *arrow.Chunked
	if hasSymbol {
		symCol = symRef.col
	}
	b, err := prog.evaluate(ctx, in, symCol, n, opts, nil)
	if err != nil {
		return nil, err
	}
	defer b.release()
	sts := statuses(plan, b.featureErr)

	fields := []arrow.Field{keyField(opts.TimeColumn, timeRef.col.DataType())}
	chunks := []*arrow.Chunked{timeRef.col}
	if hasSymbol {
		fields = append(fields, keyField(opts.SymbolColumn, symRef.col.DataType()))
		chunks = append(chunks, symRef.col)
	}
	var owned []*arrow.Chunked
	defer func() {
		for _, c := range owned {
			c.Release()
		}
	}()
	for o, fi := range prog.outputs {
		if b.featureErr[fi] != nil {
			continue
		}
		arr := b.array(o)
		c := arrow.NewChunked(arr.DataType(), []arrow.Array{arr})
		arr.Release()
		owned = append(owned, c)
		fields = append(fields, featureField(plan, fi))
		chunks = append(chunks, c)
	}
	cols := make([]arrow.Column, len(fields))
	for i := range fields {
		cols[i] = *arrow.NewColumn(fields[i], chunks[i])
		defer cols[i].Release()
	}
	schema := arrow.NewSchema(fields, statusMetadata(sts))
	return &Result{Table: array.NewTable(schema, cols, int64(n)), Statuses: sts}, nil
}

// keyField is the output field of the time or symbol column: the input's
// name and type, nullable, without the input's field metadata, the same
// whether computed in one go or streamed.
func keyField(name string, dt arrow.DataType) arrow.Field {
	return arrow.Field{Name: name, Type: dt, Nullable: true}
}

func featureField(plan *ir.Plan, fi int) arrow.Field {
	return arrow.Field{Name: plan.Features[fi].Spec.Name, Type: arrow.PrimitiveTypes.Float64, Nullable: true}
}

// statusMetadata is the schema metadata carrying per-feature statuses.
func statusMetadata(sts []FeatureStatus) *arrow.Metadata {
	meta, err := json.Marshal(sts)
	if err != nil {
		panic(err) // plain strings always marshal
	}
	md := arrow.NewMetadata([]string{MetadataKey}, []string{string(meta)})
	return &md
}

// typeErr says why a column of type dt cannot feed the kernels: as
// numbers, or (str) compared with a string literal.
func typeErr(name string, dt arrow.DataType, str bool) error {
	switch {
	case str && isString(dt):
		return nil
	case str:
		return fmt.Errorf("column %q has type %s; comparing with a string needs a string column", name, dt)
	case isNumeric(dt):
		return nil
	case isString(dt):
		return fmt.Errorf("column %q holds strings (%s); compare it with a string literal, as in %s == 'buy', to get 1/0", name, dt, name)
	}
	return fmt.Errorf("column %q has type %s; expected a number", name, dt)
}

// durationErr says why durations cannot be measured on a time column.
func durationErr(name string, dt arrow.DataType) error {
	switch dt.ID() {
	case arrow.TIMESTAMP, arrow.DATE32:
		return nil
	}
	if arrow.IsInteger(dt.ID()) {
		// Epoch integers are the usual cause: say how to convert them.
		return fmt.Errorf("duration windows need %q to be a timestamp, it is %s: integers order the rows but carry no unit; "+
			"convert them (pandas: pd.to_datetime(df[%q], unit=\"ms\", utc=True); fdag compute and fdag ingest: --time-unit ms)", name, dt, name)
	}
	return fmt.Errorf("duration windows need %q to be a timestamp, it is %s", name, dt)
}

// batch holds the evaluated outputs of one evaluate call.
type batch struct {
	prog       *program
	mem        memory.Allocator
	n          int
	bufs       []*memory.Buffer
	nulls      [][]int32
	featureErr []error
}

func (b *batch) release() {
	for _, buf := range b.bufs {
		buf.Release()
	}
	b.bufs = nil
}

// array returns output o as a Float64 array; the caller releases it.
func (b *batch) array(o int) arrow.Array {
	root := b.prog.plan.Nodes[b.prog.plan.Features[b.prog.outputs[o]].Root]
	if root.Op == ir.OpConst {
		vals := arrow.Float64Traits.CastFromBytes(b.bufs[o].Bytes())
		for i := range vals {
			vals[i] = root.Value
		}
	}
	return float64Array(b.mem, b.bufs[o], b.n, b.nulls[o])
}

// evaluate runs the program over n rows whose columns are in cols (by name:
// the time column and every source column) and whose symbols are in sym
// (nil: one symbol). states, when not nil, supplies the kernel states of a
// symbol (a stream's state carried across batches), given the first and
// last time of the symbol's rows; it is called for every symbol group
// before any group runs.
func (p *program) evaluate(ctx context.Context, cols map[string]*arrow.Chunked, sym *arrow.Chunked, n int, opts Options, states func(symbol string, first, last int64) ([]kernels.Op, error)) (*batch, error) {
	pool := opts.pool()
	// The input columns are independent: they are read (concatenated,
	// converted) at once, on as many cores as the pool gives.
	var times *timeColumn
	src := &source{cols: map[ir.NodeID]*numericColumn{}}
	srcCols := make([]*numericColumn, len(p.sources))
	defer func() {
		for _, c := range srcCols {
			if c != nil {
				c.release()
			}
		}
	}()
	var ids []int32
	var symNames []string
	var jobs []func() error
	if sym != nil {
		jobs = append(jobs, func() error {
			ids, symNames = symbolKeys(sym.Chunks())
			return nil
		})
	}
	jobs = append(jobs, func() error {
		timeArr, err := single(cols[opts.TimeColumn], opts.Mem)
		if err != nil {
			return fmt.Errorf("reading time column %q: %w", opts.TimeColumn, err)
		}
		defer timeArr.Release()
		times, err = newTimeColumn(opts.TimeColumn, timeArr)
		return err
	})
	for i, id := range p.sources {
		jobs = append(jobs, func() error {
			node := p.plan.Nodes[id]
			name := node.Column
			arr, err := single(cols[name], opts.Mem)
			if err != nil {
				return fmt.Errorf("reading column %q: %w", name, err)
			}
			if node.Op != ir.OpSource {
				srcCols[i], err = newMatchColumn(arr, node.Text, node.Op == ir.OpStrNE)
			} else {
				srcCols[i], err = newNumericColumn(arr)
			}
			if err != nil {
				arr.Release()
				return fmt.Errorf("reading column %q: %w", name, err)
			}
			return nil
		})
	}
	if err := pool.each(opts.Parallelism, jobs); err != nil {
		return nil, err
	}
	for i, id := range p.sources {
		src.cols[id] = srcCols[i]
	}
	src.times = times.ns
	src.part = partitionRows(ids, symNames, times.ns, n)

	var opsFor [][]kernels.Op
	if states != nil {
		opsFor = make([][]kernels.Op, src.part.groups())
		for g := range opsFor {
			idx, lo, hi := src.part.rows(g)
			first, last := times.ns[lo], times.ns[hi-1]
			if idx != nil {
				first, last = times.ns[idx[0]], times.ns[idx[len(idx)-1]]
			}
			var err error
			if opsFor[g], err = states(src.part.names[g], first, last); err != nil {
				return nil, err
			}
		}
	}

	b := &batch{prog: p, mem: opts.Mem, n: n, bufs: make([]*memory.Buffer, len(p.outputs)), featureErr: slices.Clone(p.featureErr)}
	out := &sink{values: make([][]float64, len(p.outputs)), failed: make([]atomic.Pointer[error], len(p.plan.Nodes))}
	// Allocating an output zeroes it (memory reused from earlier calls):
	// at 10M rows, 80 MB each, worth doing on every core.
	alloc := make([]func() error, len(p.outputs))
	for o := range p.outputs {
		alloc[o] = func() error {
			b.bufs[o] = memory.NewResizableBuffer(opts.Mem)
			b.bufs[o].Resize(n * arrow.Float64SizeBytes)
			out.values[o] = arrow.Float64Traits.CastFromBytes(b.bufs[o].Bytes())
			return nil
		}
	}
	pool.each(opts.Parallelism, alloc)
	var err error
	b.nulls, err = runWorkers(ctx, p, src, out, opts, opsFor)
	if err != nil {
		b.release()
		return nil, err
	}
	reached := reachedErrors(p.plan, func(id ir.NodeID) error {
		if e := out.failed[id].Load(); e != nil {
			return *e
		}
		return nil
	})
	for _, fi := range p.outputs {
		if err := reached[p.plan.Features[fi].Root]; err != nil {
			b.featureErr[fi] = fmt.Errorf("%s: %w", p.plan.Features[fi].Spec.Name, err)
		}
	}
	return b, nil
}

// indexColumns maps each column name to the first frame holding it.
func indexColumns(frames []Frame) (map[string]columnRef, []string, error) {
	if len(frames) == 0 {
		return nil, nil, errors.New("no input frames")
	}
	columns := map[string]columnRef{}
	var names []string
	for fi, f := range frames {
		if f.Table == nil {
			return nil, nil, fmt.Errorf("frame %q has no table", f.Name)
		}
		for ci, field := range f.Table.Schema().Fields() {
			if _, dup := columns[field.Name]; dup {
				continue
			}
			columns[field.Name] = columnRef{frame: fi, col: f.Table.Column(ci).Data()}
			names = append(names, field.Name)
		}
	}
	return columns, names, nil
}

func statuses(plan *ir.Plan, featureErr []error) []FeatureStatus {
	out := make([]FeatureStatus, len(plan.Features))
	for i, f := range plan.Features {
		out[i] = FeatureStatus{Name: f.Spec.Name, Status: StatusSuccess}
		if featureErr[i] != nil {
			out[i].Status, out[i].Error = StatusError, featureErr[i].Error()
		}
	}
	return out
}

// float64Array wraps a filled value buffer, with a validity bitmap built
// from the null positions.
func float64Array(mem memory.Allocator, values *memory.Buffer, n int, nulls []int32) arrow.Array {
	var bitmap *memory.Buffer
	if len(nulls) > 0 {
		bitmap = memory.NewResizableBuffer(mem)
		bitmap.Resize(int(bitutil.BytesForBits(int64(n))))
		bits := bitmap.Bytes()
		bitutil.SetBitsTo(bits, 0, int64(n), true)
		for _, r := range nulls {
			bitutil.ClearBit(bits, int(r))
		}
		defer bitmap.Release()
	}
	data := array.NewData(arrow.PrimitiveTypes.Float64, n, []*memory.Buffer{bitmap, values}, nil, len(nulls), 0)
	defer data.Release()
	return array.MakeFromData(data)
}
