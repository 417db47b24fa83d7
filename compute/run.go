package compute

import (
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

// buffer is the storage of one node's chunk.
type buffer struct {
	v     []float64
	valid []bool
}

func newBuffer(rows int) buffer {
	return buffer{v: make([]float64, rows), valid: make([]bool, rows)}
}

// chunk is up to ChunkRows consecutive rows of one symbol in flight: where
// they are in the input and every node's values for them. The scheduler
// (schedule.go) decides which of its tasks run when; the tasks below only
// fill it.
type chunk struct {
	c     int     // index of the chunk within its group
	rows  []int32 // input rows, nil when contiguous from at
	at, m int
	t     []int64 // the rows' times, when a step needs them
	tbuf  []int64
	cols  []kernels.Col // per node
	owned []buffer      // per node: the pooled buffer behind cols[node], if any

	// Scheduling state, guarded by the scheduler's lock.
	loaded  bool
	pending []int // per step: what it still waits for
	uses    []int // per node: readers of this chunk still to run
	left    int   // steps not yet done
}

// worker is one goroutine's private state: buffers for materialised
// constants and the null positions it emitted. Nothing here is shared.
type worker struct {
	p    *program
	src  *source
	out  *sink
	rows int // ChunkRows

	args  []kernels.Col
	bufs  []buffer // for a load
	spare []buffer // for constants
	tmp   []buffer // constants materialised for the current step
	// nulls[o] lists the input rows where output o is null.
	nulls [][]int32
}

func newWorker(p *program, src *source, out *sink, rows int) *worker {
	return &worker{p: p, src: src, out: out, rows: rows, nulls: make([][]int32, len(p.outputs))}
}

// load fills chunk ch's source columns and times, and emits the sources
// that are outputs. bufs are free buffers, one per source that needs one
// (as sourceBuffers counts), which it takes over.
func (w *worker) load(ch *chunk, bufs []buffer) {
	p := w.p
	for _, id := range p.sources {
		if w.needsBuffer(id, ch) {
			w.loadSource(id, ch, bufs[0])
			bufs = bufs[1:]
		} else {
			ch.cols[id] = kernels.Col{V: w.src.cols[id].values[ch.at : ch.at+ch.m]}
		}
		w.emit(id, ch)
	}
	if p.needTime {
		ch.t = w.gatherTimes(ch)
	}
}

// sourceBuffers is how many buffers load needs for chunk ch.
func (w *worker) sourceBuffers(ch *chunk) int {
	n := 0
	for _, id := range w.p.sources {
		if w.needsBuffer(id, ch) {
			n++
		}
	}
	return n
}

// needsBuffer is false when a source's chunk can be read in place.
func (w *worker) needsBuffer(id ir.NodeID, ch *chunk) bool {
	return ch.rows != nil || w.src.cols[id].bits != nil
}

// step evaluates step si over chunk ch with the kernel state op, into the
// free buffer b, and emits it. It skips steps whose node or arguments have
// failed (their features are reported as failed) and then returns false:
// b is not used.
func (w *worker) step(ch *chunk, si int, op kernels.Op, b buffer) bool {
	st := &w.p.steps[si]
	id := st.node.ID
	if w.out.failed[id].Load() != nil || w.anyArgFailed(st.node) {
		return false
	}
	m := ch.m
	w.args = w.argCols(w.args[:0], st, ch)
	var t []int64
	if st.needTime {
		t = ch.t
	}
	nulls, err := safeStep(op, w.args, t, b.v[:m], b.valid[:m])
	if err != nil {
		w.fail(id, fmt.Errorf("%s: %w", describe(st.node), err))
	}
	ch.cols[id], ch.owned[id] = kernels.Col{V: b.v[:m], Valid: b.valid[:m]}, b
	if nulls == 0 {
		ch.cols[id].Valid = nil
	}
	w.freeMaterialised()
	w.emit(id, ch)
	return true
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
func (w *worker) argCols(args []kernels.Col, st *step, ch *chunk) []kernels.Col {
	for _, a := range st.node.Args {
		n := w.p.plan.Nodes[a]
		if n.Op != ir.OpConst {
			args = append(args, ch.cols[a])
			continue
		}
		if st.elementwise {
			args = append(args, kernels.Col{V: []float64{n.Value}, Scalar: true})
			continue
		}
		var b buffer
		if k := len(w.spare); k > 0 {
			b, w.spare = w.spare[k-1], w.spare[:k-1]
		} else {
			b = newBuffer(w.rows)
		}
		for i := range ch.m {
			b.v[i] = n.Value
		}
		w.tmp = append(w.tmp, b)
		args = append(args, kernels.Col{V: b.v[:ch.m]})
	}
	return args
}

// freeMaterialised keeps the buffers argCols filled for constants.
func (w *worker) freeMaterialised() {
	w.spare = append(w.spare, w.tmp...)
	w.tmp = w.tmp[:0]
}

// loadSource gathers a source column's values for the chunk into b.
func (w *worker) loadSource(id ir.NodeID, ch *chunk, b buffer) {
	c := w.src.cols[id]
	at, m, rows := ch.at, ch.m, ch.rows
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
	ch.cols[id], ch.owned[id] = kernels.Col{V: b.v[:m], Valid: b.valid[:m]}, b
	if nulls == 0 {
		ch.cols[id].Valid = nil
	}
}

func (w *worker) gatherTimes(ch *chunk) []int64 {
	if ch.rows == nil {
		return w.src.times[ch.at : ch.at+ch.m]
	}
	if cap(ch.tbuf) < ch.m {
		ch.tbuf = make([]int64, w.rows)
	}
	t := ch.tbuf[:ch.m]
	for i, r := range ch.rows {
		t[i] = w.src.times[r]
	}
	return t
}

// emit copies node id's chunk into every output it is the root of.
func (w *worker) emit(id ir.NodeID, ch *chunk) {
	outs, ok := w.p.rootsOf[id]
	if !ok {
		return
	}
	col, rows, at, m := ch.cols[id], ch.rows, ch.at, ch.m
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
