package compute

import (
	"container/heap"
	"context"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/ir"
)

// BenchmarkOneSymbolModel explains BenchmarkOneSymbol's scaling without
// needing an idle machine: it computes the demo set over one symbol on one
// worker, timing every task (a step over a chunk, or a chunk's load) in
// thread CPU time, which other processes on a shared machine do not
// inflate, and then replays the scheduler's rules (dependencies, chunks in
// order per stateful step, the window, oldest chunk first) on 2, 4 and 8
// simulated cores. It reports the CPU time outside the tasks (reading the
// input columns, partitioning, building the output: serial), the
// critical path (the longest chain of dependent tasks, unlimited cores) and
// the modelled speed-up of the whole call at each core count (the input
// columns and output buffers, Pool.each's jobs, spread over the cores too).
//
//	FDAG_BENCH_ROWS=10000000 go test ./compute -run '^$' -bench OneSymbolModel -benchtime 1x
func BenchmarkOneSymbolModel(b *testing.B) {
	specs, tbl := demoInput(b, demodata.DefaultSymbols[:1])
	defer tbl.Release()
	frames := []Frame{{Name: "trades", Table: tbl}}
	plan := ir.Compile(specs, ir.Options{SourceColumns: []string{"event_time", "symbol", "trade_price", "trade_size"}})
	if err := plan.Err(); err != nil {
		b.Fatal(err)
	}

	type timed struct {
		c, s int
		cpu  time.Duration
	}
	var tasks []timed
	timeTask = func(c, s int) func() {
		t0 := threadCPU()
		return func() { tasks = append(tasks, timed{c, s, threadCPU() - t0}) }
	}
	defer func() { timeTask = nil }()
	runtime.LockOSThread() // one worker: the benchmark's goroutine, on this thread
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	var total time.Duration
	for range b.N {
		tasks = tasks[:0]
		t0 := threadCPU()
		res, err := ComputePlan(context.Background(), plan, frames, Options{Parallelism: 1})
		if err != nil {
			b.Fatal(err)
		}
		total = threadCPU() - t0
		res.Release()
	}
	b.StopTimer()

	prog := newProgram(plan, inputInfo{columnErr: func(string, bool) error { return nil }})
	chunks := 0
	cost := map[[2]int]time.Duration{}
	var inTasks, inJobs time.Duration
	var phases [][]time.Duration // Pool.each's batches of jobs
	for _, t := range tasks {
		if t.c < 0 {
			if t.s == 0 {
				phases = append(phases, nil)
			}
			phases[len(phases)-1] = append(phases[len(phases)-1], t.cpu)
			inJobs += t.cpu
			continue
		}
		cost[[2]int{t.c, t.s}] = t.cpu
		chunks = max(chunks, t.c+1)
		inTasks += t.cpu
	}
	serial := total - inTasks - inJobs
	b.ReportMetric(total.Seconds(), "cpu-s")
	b.ReportMetric(serial.Seconds()/total.Seconds()*100, "serial-%")
	b.ReportMetric(inJobs.Seconds()/total.Seconds()*100, "io-jobs-%")
	b.ReportMetric(criticalPath(prog, chunks, cost).Seconds()/inTasks.Seconds()*100, "critical-path-%")
	perStep := map[int]time.Duration{}
	for k, d := range cost {
		perStep[k[1]] += d
	}
	heaviest := -1
	for st, d := range perStep {
		if heaviest < 0 || d > perStep[heaviest] {
			heaviest = st
		}
	}
	if heaviest >= 0 {
		b.Logf("heaviest task kind: %s, %.1f%% of the task time", stepName(prog, heaviest), 100*perStep[heaviest].Seconds()/inTasks.Seconds())
	}
	for _, cores := range []int{2, 4, 8} {
		span := serial + simulate(prog, chunks, cost, cores, cores+2)
		for _, jobs := range phases {
			span += spread(jobs, cores)
		}
		b.ReportMetric(total.Seconds()/span.Seconds(), "speedup-"+string(rune('0'+cores)))
	}
}

// spread is how long jobs take on cores workers, each taking the next job
// when it is free (as Pool.each does).
func spread(jobs []time.Duration, cores int) time.Duration {
	free := make([]time.Duration, cores)
	for _, j := range jobs {
		i := 0
		for k := range free {
			if free[k] < free[i] {
				i = k
			}
		}
		free[i] += j
	}
	return slices.Max(free)
}

// threadCPU is the CPU time of the calling thread.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3 // CLOCK_THREAD_CPUTIME_ID
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// deps lists what task (c, s) waits for, by the scheduler's rules.
func deps(p *program, c, s int) [][2]int {
	if s < 0 {
		return nil
	}
	d := [][2]int{{c, -1}}
	for _, a := range p.steps[s].reads {
		if as := p.stepOf[a]; as >= 0 {
			d = append(d, [2]int{c, as})
		}
	}
	if !p.steps[s].elementwise && c > 0 {
		d = append(d, [2]int{c - 1, s})
	}
	return d
}

// criticalPath is the longest chain of dependent tasks.
func criticalPath(p *program, chunks int, cost map[[2]int]time.Duration) time.Duration {
	finish := map[[2]int]time.Duration{}
	var longest time.Duration
	for c := range chunks {
		for s := -1; s < len(p.steps); s++ {
			var start time.Duration
			for _, d := range deps(p, c, s) {
				start = max(start, finish[d])
			}
			k := [2]int{c, s}
			finish[k] = start + cost[k]
			longest = max(longest, finish[k])
		}
	}
	return longest
}

// simulate replays one group's tasks on cores workers with window chunks
// in flight, each idle worker taking the oldest ready task, and returns
// the time the last one ends.
func simulate(p *program, chunks int, cost map[[2]int]time.Duration, cores, window int) time.Duration {
	waits := map[[2]int]int{}
	readers := map[[2]int][][2]int{}
	left := make([]int, chunks)
	ready := &taskHeap{}
	opened := 0
	done := map[[2]int]bool{}
	open := func(c int) {
		*ready = append(*ready, task{c: c, s: -1})
		heap.Init(ready)
		for s := range p.steps {
			k := [2]int{c, s}
			for _, d := range deps(p, c, s) {
				if done[d] {
					continue
				}
				waits[k]++
				readers[d] = append(readers[d], k)
			}
		}
		left[c] = len(p.steps) + 1
	}
	for ; opened < min(window, chunks); opened++ {
		open(opened)
	}
	type running struct {
		k   [2]int
		end time.Duration
	}
	var now time.Duration
	var busy []running
	ran := 0
	for ready.Len() > 0 || len(busy) > 0 {
		for len(busy) < cores && ready.Len() > 0 {
			t := heap.Pop(ready).(task)
			k := [2]int{t.c, t.s}
			busy = append(busy, running{k, now + cost[k]})
		}
		// The earliest to end ends.
		i := 0
		for j := range busy {
			if busy[j].end < busy[i].end {
				i = j
			}
		}
		r := busy[i]
		busy = append(busy[:i], busy[i+1:]...)
		now = r.end
		done[r.k] = true
		ran++
		for _, k := range readers[r.k] {
			if waits[k]--; waits[k] == 0 {
				heap.Push(ready, task{c: k[0], s: k[1]})
			}
		}
		if left[r.k[0]]--; left[r.k[0]] == 0 && opened < chunks {
			open(opened)
			opened++
		}
	}
	if ran != chunks*(len(p.steps)+1) {
		panic("simulate: tasks left waiting")
	}
	return now
}

func stepName(p *program, s int) string {
	if s < 0 {
		return "chunk loads"
	}
	return describe(p.steps[s].node)
}
