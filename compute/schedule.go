package compute

import (
	"container/heap"
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/featuredag/fdag/compute/kernels"
)

// The scheduler runs a computation as tasks on a few goroutines. A task is
// one step (a DAG node) over one chunk of one symbol's rows, or the load of
// a chunk's source columns. A step over chunk c runs once its arguments
// over chunk c ran and, unless it is elementwise, once it ran over chunk
// c-1 with the same kernel state: each stateful kernel still sees its
// symbol's chunks one after another, in order, so the bits are those of a
// sequential run whatever runs at once. Within that order, independent DAG
// nodes of one chunk, and the chunks of a pipeline (node a over chunk c+1
// while node b is over chunk c), run on different cores: one symbol uses
// every core.
//
// Each worker sticks to one symbol group while it has ready tasks, which is
// the old one-symbol-per-worker schedule when there are more symbols than
// workers; a worker with nothing ready in its group starts the next group,
// or, when none is left, takes ready tasks of another worker's group.
// Up to window chunks of a group are in flight, so memory stays bounded by
// window x the DAG's live chunk buffers per group.

// Pool bounds the goroutines computing at once across the calls sharing it,
// so that concurrent requests on a server share the cores instead of each
// starting a worker per core. A call always computes on its own goroutine;
// it adds helpers only while the pool has room, and a helper leaves at its
// next task once the pool is over its limit.
type Pool struct {
	size int // 0: GOMAXPROCS at the time of asking
	busy atomic.Int64
}

// NewPool returns a pool of n goroutines (n <= 0: GOMAXPROCS).
func NewPool(n int) *Pool { return &Pool{size: max(n, 0)} }

// defaultPool is the process's pool, for calls whose Options.Pool is nil.
var defaultPool = NewPool(0)

func (p *Pool) limit() int64 {
	if p.size > 0 {
		return int64(p.size)
	}
	return int64(runtime.GOMAXPROCS(0))
}

// enter counts a call's own goroutine, whatever the pool's room.
func (p *Pool) enter() { p.busy.Add(1) }

// leave uncounts a goroutine counted by enter or tryHelper.
func (p *Pool) leave() { p.busy.Add(-1) }

// tryHelper counts one more goroutine if the pool has room.
func (p *Pool) tryHelper() bool {
	for {
		n := p.busy.Load()
		if n >= p.limit() {
			return false
		}
		if p.busy.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (p *Pool) crowded() bool { return p.busy.Load() > p.limit() }

// each runs independent jobs on the calling goroutine and on helpers while
// the pool has room, at most want goroutines, and returns the first error
// in the jobs' order once all ran.
func (p *Pool) each(want int, jobs []func() error) error {
	errs := make([]error, len(jobs))
	var next atomic.Int64
	run := func() {
		for i := next.Add(1) - 1; i < int64(len(jobs)); i = next.Add(1) - 1 {
			if timeTask != nil {
				done := timeTask(-1, int(i))
				errs[i] = jobs[i]()
				done()
				continue
			}
			errs[i] = jobs[i]()
		}
	}
	p.enter()
	defer p.leave()
	var wg sync.WaitGroup
	for h := 1; h < min(want, len(jobs)) && p.tryHelper(); h++ {
		wg.Go(func() {
			defer p.leave()
			run()
		})
	}
	run()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// task is a unit of work: step s (-1: the load) over chunk c of a group.
type task struct {
	g    *group
	c, s int
}

// taskHeap orders a group's ready tasks by chunk, then step (a topological
// order): the oldest chunk first, so that chunks leave the window soon.
type taskHeap []task

func (h taskHeap) Len() int { return len(h) }
func (h taskHeap) Less(i, j int) bool {
	if h[i].c != h[j].c {
		return h[i].c < h[j].c
	}
	return h[i].s < h[j].s
}
func (h taskHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *taskHeap) Push(x any)   { *h = append(*h, x.(task)) }
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// group is one symbol's rows being computed.
type group struct {
	idx    []int32 // nil: contiguous rows [lo, hi)
	lo, hi int
	chunks int
	ops    []kernels.Op // per step: the symbol's kernel state
	slots  []*chunk     // chunk c is in slots[c % len(slots)]
	ran    []int        // per step: chunks it ran over (stateful steps run them in order)
	ready  taskHeap
	left   int // chunks not done
}

// scheduler is one computation's shared state.
type scheduler struct {
	prog   *program
	src    *source
	out    *sink
	rows   int // ChunkRows
	window int // chunks in flight per group
	pool   *Pool
	want   int // workers wanted (Parallelism)
	opsFor [][]kernels.Op

	mu      sync.Mutex
	cond    sync.Cond
	todo    []int // groups not started, next first
	active  []*group
	spare   [][]*chunk // slots of finished groups
	free    []buffer
	left    int // groups not done
	stopped bool
	idle    int // workers waiting in next
	workers []*worker
	wg      sync.WaitGroup
}

// runWorkers evaluates every symbol group and returns the null positions of
// each output.
func runWorkers(ctx context.Context, prog *program, src *source, out *sink, opts Options, opsFor [][]kernels.Op) ([][]int32, error) {
	s := &scheduler{
		prog: prog, src: src, out: out, rows: opts.ChunkRows,
		pool: opts.pool(), want: opts.Parallelism, opsFor: opsFor,
		// One worker needs one chunk in flight; more need the next chunks
		// to be loaded while the oldest ones finish.
		window: 1,
		todo:   groupsBySize(src.part),
		left:   src.part.groups(),
	}
	if s.want > 1 {
		s.window = s.want + 2
	}
	s.cond.L = &s.mu
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		s.mu.Lock()
		s.stopped = true
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	s.pool.enter()
	s.mu.Lock()
	w := s.addWorker()
	s.recruit()
	s.mu.Unlock()
	s.work(w, false)
	s.pool.leave()
	s.wg.Wait()
	if !stop() {
		<-fired // no goroutine of the call outlives it
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	nulls := make([][]int32, len(prog.outputs))
	for _, w := range s.workers {
		for o := range nulls {
			nulls[o] = append(nulls[o], w.nulls[o]...)
		}
	}
	return nulls, nil
}

// groupsBySize lists group indices, largest first, so that a big symbol
// does not start last.
func groupsBySize(p *partition) []int {
	gs := make([]int, p.groups())
	for i := range gs {
		gs[i] = i
	}
	slices.SortStableFunc(gs, func(a, b int) int {
		return (p.bounds[b+1] - p.bounds[b]) - (p.bounds[a+1] - p.bounds[a])
	})
	return gs
}

func (s *scheduler) addWorker() *worker {
	w := newWorker(s.prog, s.src, s.out, s.rows)
	s.workers = append(s.workers, w)
	return w
}

// recruit starts helpers, while the pool has room, up to the workers
// wanted and the work there is: one per group not started plus, for the
// started ones, whatever tasks wait unclaimed. Called with s.mu held.
func (s *scheduler) recruit() {
	for len(s.workers) < s.want && s.idle == 0 && !s.stopped && s.left > 0 && s.pool.tryHelper() {
		w := s.addWorker()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.pool.leave()
			s.work(w, true)
		}()
	}
}

// work runs tasks until none is left (or the computation is stopped, or,
// for a helper, the pool is crowded).
func (s *scheduler) work(w *worker, helper bool) {
	var g *group // the group w sticks to
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		t, ok := s.next(&g, helper)
		if !ok {
			return
		}
		s.run(w, t)
	}
}

// next picks w's next task, waiting while none is ready. Called with s.mu
// held; g is the group the worker sticks to.
func (s *scheduler) next(g **group, helper bool) (task, bool) {
	for {
		if s.stopped || s.left == 0 {
			return task{}, false
		}
		if helper && s.pool.crowded() {
			s.cond.Signal() // a wake-up meant for this worker goes on
			return task{}, false
		}
		if *g != nil && (*g).ready.Len() > 0 {
			return heap.Pop(&(*g).ready).(task), true
		}
		if len(s.todo) > 0 {
			*g = s.start(s.todo[0])
			s.todo = s.todo[1:]
			continue
		}
		if o := s.busiest(); o != nil {
			*g = o
			continue
		}
		s.idle++
		s.cond.Wait()
		s.idle--
	}
}

// busiest is the started group with the most ready tasks, nil if none has
// any.
func (s *scheduler) busiest() *group {
	var best *group
	for _, g := range s.active {
		if g.ready.Len() > 0 && (best == nil || g.ready.Len() > best.ready.Len()) {
			best = g
		}
	}
	return best
}

// start makes group gi active with its first chunks' loads ready.
func (s *scheduler) start(gi int) *group {
	idx, lo, hi := s.src.part.rows(gi)
	g := &group{idx: idx, lo: lo, hi: hi, chunks: (hi - lo + s.rows - 1) / s.rows}
	g.left = g.chunks
	if s.opsFor != nil {
		g.ops = s.opsFor[gi]
	} else {
		g.ops = make([]kernels.Op, len(s.prog.steps))
		for i, st := range s.prog.steps {
			g.ops[i] = st.factory()
		}
	}
	g.ran = make([]int, len(s.prog.steps))
	if k := len(s.spare); k > 0 {
		g.slots, s.spare = s.spare[k-1], s.spare[:k-1]
	} else {
		g.slots = make([]*chunk, s.window)
		for i := range g.slots {
			g.slots[i] = &chunk{
				cols:    make([]kernels.Col, len(s.prog.plan.Nodes)),
				owned:   make([]buffer, len(s.prog.plan.Nodes)),
				pending: make([]int, len(s.prog.steps)),
				uses:    make([]int, len(s.prog.plan.Nodes)),
			}
		}
	}
	if g.chunks == 0 {
		s.finish(g)
		return g
	}
	s.active = append(s.active, g)
	for c := range min(g.chunks, len(g.slots)) {
		s.open(g, c)
	}
	return g
}

// open places chunk c in its slot and makes its load ready.
func (s *scheduler) open(g *group, c int) {
	ch := g.slots[c%len(g.slots)]
	ch.c, ch.loaded = c, false
	ch.at = g.lo + c*s.rows
	ch.m = min(s.rows, g.hi-ch.at)
	ch.rows = nil
	if g.idx != nil {
		ch.rows = g.idx[ch.at-g.lo : ch.at-g.lo+ch.m]
	}
	s.push(g, task{g: g, c: c, s: -1})
}

func (s *scheduler) push(g *group, t task) {
	heap.Push(&g.ready, t)
	if s.idle > 0 {
		s.cond.Signal()
	} else {
		s.recruit()
	}
}

// get takes a free buffer. Called with s.mu held.
func (s *scheduler) get() buffer {
	if k := len(s.free); k > 0 {
		b := s.free[k-1]
		s.free = s.free[:k-1]
		return b
	}
	return newBuffer(s.rows)
}

// put frees node id's buffer of chunk ch. Called with s.mu held.
func (s *scheduler) put(ch *chunk, id int) {
	if ch.owned[id].v != nil {
		s.free = append(s.free, ch.owned[id])
		ch.owned[id] = buffer{}
	}
	ch.cols[id] = kernels.Col{}
}

// timeTask, when set (by BenchmarkOneSymbolModel), brackets every task:
// it is called before the task runs and the function it returns after.
// Pool.each's jobs are timed as chunk -1, step i.
var timeTask func(c, s int) func()

// run executes task t, with s.mu held on entry and on return but not while
// the task computes.
func (s *scheduler) run(w *worker, t task) {
	g := t.g
	ch := g.slots[t.c%len(g.slots)]
	if timeTask != nil {
		defer timeTask(t.c, t.s)()
	}
	if t.s < 0 {
		w.bufs = w.bufs[:0]
		for range w.sourceBuffers(ch) {
			w.bufs = append(w.bufs, s.get())
		}
		s.mu.Unlock()
		w.load(ch, w.bufs)
		s.mu.Lock()
		s.loaded(g, ch)
		return
	}
	b := s.get()
	s.mu.Unlock()
	used := w.step(ch, t.s, g.ops[t.s], b)
	s.mu.Lock()
	if !used {
		s.free = append(s.free, b)
	}
	s.stepped(g, ch, t.s)
}

// loaded makes the steps of a just loaded chunk that wait for nothing else
// ready. Called with s.mu held.
func (s *scheduler) loaded(g *group, ch *chunk) {
	p := s.prog
	ch.loaded = true
	ch.left = len(p.steps)
	for _, id := range p.sources {
		ch.uses[id] = len(p.readers[id])
		if ch.uses[id] == 0 {
			s.put(ch, int(id))
		}
	}
	for si := range p.steps {
		st := &p.steps[si]
		ch.uses[st.node.ID] = len(p.readers[st.node.ID])
		ch.pending[si] = st.argSteps
		if !st.elementwise && g.ran[si] < ch.c {
			ch.pending[si]++
		}
		if ch.pending[si] == 0 {
			s.push(g, task{g: g, c: ch.c, s: si})
		}
	}
	if ch.left == 0 {
		s.chunkDone(g, ch)
	}
}

// stepped records that step si ran over chunk ch: it frees the buffers no
// step will read any more and readies the steps that waited for it.
// Called with s.mu held.
func (s *scheduler) stepped(g *group, ch *chunk, si int) {
	p := s.prog
	st := &p.steps[si]
	id := st.node.ID
	for _, a := range st.reads {
		if ch.uses[a]--; ch.uses[a] == 0 {
			s.put(ch, int(a))
		}
	}
	if ch.uses[id] == 0 {
		s.put(ch, int(id))
	}
	for _, r := range p.readers[id] {
		if ch.pending[r]--; ch.pending[r] == 0 {
			s.push(g, task{g: g, c: ch.c, s: r})
		}
	}
	if !st.elementwise {
		g.ran[si] = ch.c + 1
		if next := g.slots[(ch.c+1)%len(g.slots)]; next.c == ch.c+1 && next.loaded {
			if next.pending[si]--; next.pending[si] == 0 {
				s.push(g, task{g: g, c: next.c, s: si})
			}
		}
	}
	if ch.left--; ch.left == 0 {
		s.chunkDone(g, ch)
	}
}

// chunkDone frees a finished chunk's slot for the next chunk, and finishes
// the group after its last chunk. Called with s.mu held.
func (s *scheduler) chunkDone(g *group, ch *chunk) {
	for id := range ch.owned {
		s.put(ch, id) // a failed step's readers left theirs
	}
	ch.loaded = false
	if next := ch.c + len(g.slots); next < g.chunks {
		s.open(g, next)
	}
	if g.left--; g.left == 0 {
		s.finish(g)
	}
}

// finish retires a group whose chunks are all done.
func (s *scheduler) finish(g *group) {
	for i, a := range s.active {
		if a == g {
			s.active = slices.Delete(s.active, i, i+1)
			break
		}
	}
	s.spare = append(s.spare, g.slots)
	g.slots = nil
	if s.left--; s.left == 0 {
		s.cond.Broadcast()
	}
}
