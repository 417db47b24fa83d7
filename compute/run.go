package compute

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/featuredag/fdag/compute/kernels"
	"github.com/featuredag/fdag/ir"
)

// DefaultChunkRows is how many rows of one symbol flow through the whole DAG
// at a time. At 8192 rows a column chunk is 64 KiB, so a feature set's live
// intermediates stay in the L2 cache and their buffers are reused chunk
// after chunk instead of allocating (and page-faulting) full-length columns.
const DefaultChunkRows = 8192

// source is the input a worker reads, already partitioned by symbol.
type source struct {
	cols  map[ir.NodeID]*numericColumn
	times []int64
	part  *partition
}

// sink receives the outputs. values[o] is the full-length output column of
// output o, written at input row positions; disjoint rows are written by
// different workers.
type sink struct {
	values [][]float64
	// failed[node] is set once a kernel panicked on that node; every
	// feature reaching it fails.
	failed []atomic.Pointer[error]
}

// worker evaluates the program for whole symbols, one chunk at a time.
// It owns its buffers; nothing it holds is shared with other workers.
type worker struct {
	p     *program
	src   *source
	out   *sink
	chunk int

	cols  []kernels.Col // per node: the current chunk
	owned []buffer      // per node: the pooled buffer behind cols[node], if any
	free  []buffer
	ops   []kernels.Op // per step: the current symbol's kernel state
	fresh []kernels.Op
	tbuf  []int64
	tmp   []buffer // constants materialised for the current step
	// nulls[o] lists the input rows where output o is null.
	nulls [][]int32
}

type buffer struct {
	v     []float64
	valid []bool
}

func newWorker(p *program, src *source, out *sink, chunk int) *worker {
	return &worker{
		p: p, src: src, out: out, chunk: chunk,
		cols:  make([]kernels.Col, len(p.plan.Nodes)),
		owned: make([]buffer, len(p.plan.Nodes)),
		fresh: make([]kernels.Op, len(p.steps)),
		nulls: make([][]int32, len(p.outputs)),
	}
}

func (w *worker) get() buffer {
	if n := len(w.free); n > 0 {
		b := w.free[n-1]
		w.free = w.free[:n-1]
		return b
	}
	return buffer{v: make([]float64, w.chunk), valid: make([]bool, w.chunk)}
}

func (w *worker) put(id ir.NodeID) {
	if w.owned[id].v != nil {
		w.free = append(w.free, w.owned[id])
		w.owned[id] = buffer{}
	}
	w.cols[id] = kernels.Col{}
}

// runGroup evaluates every step over the rows of symbol group g, with the
// kernel states ops (one per step; nil: fresh states).
func (w *worker) runGroup(ctx context.Context, g int, ops []kernels.Op) {
	if ops == nil {
		ops = w.fresh
		for i, st := range w.p.steps {
			ops[i] = st.factory()
		}
	}
	w.ops = ops
	idx, lo, hi := w.src.part.rows(g)
	for c := lo; c < hi; c += w.chunk {
		if ctx.Err() != nil {
			return
		}
		m := min(w.chunk, hi-c)
		var rows []int32
		if idx != nil {
			rows = idx[c-lo : c-lo+m]
		}
		w.runChunk(rows, c, m)
	}
}

// runChunk evaluates the rows rows (or, when rows is nil, the contiguous
// input rows [at, at+m)).
func (w *worker) runChunk(rows []int32, at, m int) {
	p := w.p
	for _, id := range p.sources {
		w.loadSource(id, rows, at, m)
		w.emit(id, rows, at, m)
	}
	var t []int64
	if p.needTime {
		t = w.gatherTimes(rows, at, m)
	}
	var args []kernels.Col
	for si := range p.steps {
		st := &p.steps[si]
		id := st.node.ID
		if w.out.failed[id].Load() == nil && !w.anyArgFailed(st.node) {
			args = w.argCols(args[:0], st, m)
			b := w.get()
			var tt []int64
			if st.needTime {
				tt = t
			}
			nulls, err := safeStep(w.ops[si], args, tt, b.v[:m], b.valid[:m])
			if err != nil {
				w.fail(id, fmt.Errorf("%s: %w", describe(st.node), err))
			}
			col := kernels.Col{V: b.v[:m], Valid: b.valid[:m]}
			w.cols[id], w.owned[id] = col, b
			if nulls == 0 {
				w.cols[id].Valid = nil
			}
			w.freeMaterialised()
			w.emit(id, rows, at, m)
		}
		for _, r := range st.release {
			w.put(r)
		}
	}
}

// safeStep runs a kernel, turning a panic into an error of its node so that
// a kernel bug fails the features using it, not the request.
func safeStep(op kernels.Op, in []kernels.Col, t []int64, out []float64, valid []bool) (nulls int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	return op.Step(in, t, out, valid), nil
}

func (w *worker) fail(id ir.NodeID, err error) {
	w.out.failed[id].CompareAndSwap(nil, &err)
}

func (w *worker) anyArgFailed(n *ir.Node) bool {
	for _, a := range n.Args {
		if w.out.failed[a].Load() != nil {
			w.out.failed[n.ID].CompareAndSwap(nil, w.out.failed[a].Load())
			return true
		}
	}
	return false
}

// argCols collects a step's argument chunks. Constants are passed as
// scalars to elementwise kernels and materialised for the others.
func (w *worker) argCols(args []kernels.Col, st *step, m int) []kernels.Col {
	for _, a := range st.node.Args {
		n := w.p.plan.Nodes[a]
		if n.Op != ir.OpConst {
			args = append(args, w.cols[a])
			continue
		}
		if st.scalarArgs {
			args = append(args, kernels.Col{V: []float64{n.Value}, Scalar: true})
			continue
		}
		b := w.get()
		for i := range m {
			b.v[i] = n.Value
		}
		w.tmp = append(w.tmp, b)
		args = append(args, kernels.Col{V: b.v[:m]})
	}
	return args
}

// freeMaterialised returns the buffers argCols filled for constants.
func (w *worker) freeMaterialised() {
	w.free = append(w.free, w.tmp...)
	w.tmp = w.tmp[:0]
}

// loadSource points cols[id] at the source column's values for the chunk:
// in place when rows are contiguous, gathered otherwise.
func (w *worker) loadSource(id ir.NodeID, rows []int32, at, m int) {
	c := w.src.cols[id]
	if rows == nil && c.bits == nil {
		w.cols[id] = kernels.Col{V: c.values[at : at+m]}
		return
	}
	b := w.get()
	nulls := 0
	if rows == nil {
		copy(b.v[:m], c.values[at:at+m])
		for i := range m {
			b.valid[i] = c.valid(at + i)
			if !b.valid[i] {
				nulls++
			}
		}
	} else {
		for i, r := range rows {
			b.v[i] = c.values[r]
		}
		if c.bits != nil {
			for i, r := range rows {
				b.valid[i] = c.valid(int(r))
				if !b.valid[i] {
					nulls++
				}
			}
		}
	}
	w.cols[id], w.owned[id] = kernels.Col{V: b.v[:m], Valid: b.valid[:m]}, b
	if nulls == 0 {
		w.cols[id].Valid = nil
	}
}

func (w *worker) gatherTimes(rows []int32, at, m int) []int64 {
	if rows == nil {
		return w.src.times[at : at+m]
	}
	if cap(w.tbuf) < m {
		w.tbuf = make([]int64, w.chunk)
	}
	t := w.tbuf[:m]
	for i, r := range rows {
		t[i] = w.src.times[r]
	}
	return t
}

// emit copies node id's chunk into every output it is the root of.
func (w *worker) emit(id ir.NodeID, rows []int32, at, m int) {
	outs, ok := w.p.rootsOf[id]
	if !ok {
		return
	}
	col := w.cols[id]
	for _, o := range outs {
		dst := w.out.values[o]
		if rows == nil {
			copy(dst[at:at+m], col.V)
		} else {
			for i, r := range rows {
				dst[r] = col.V[i]
			}
		}
		if col.Valid == nil {
			continue
		}
		for i, ok := range col.Valid {
			if ok {
				continue
			}
			r := int32(at + i)
			if rows != nil {
				r = rows[i]
			}
			dst[r] = 0
			w.nulls[o] = append(w.nulls[o], r)
		}
	}
}
