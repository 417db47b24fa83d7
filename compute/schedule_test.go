package compute

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/formula"
	"github.com/featuredag/fdag/ir"
)

// everyFunction calls every built-in function, in rows and duration
// windows, on a source column, a feature and a second source, in one
// request: its DAG has many independent nodes of every kind.
func everyFunction() []ir.Spec {
	specs := append([]ir.Spec(nil), allBuiltins...)
	for _, f := range formula.Functions {
		for _, variant := range []string{"rows", "duration"} {
			src, hasTime := callOf(f, variant, "close", "ret", "volume")
			if variant == "duration" && !hasTime {
				continue
			}
			specs = append(specs, ir.Spec{Name: fmt.Sprintf("%s_%s", f.Name, variant), Formula: src})
		}
	}
	return specs
}

// oneSymbol keeps the rows of one symbol.
func oneSymbol(rows []trade, sym string) []trade {
	var out []trade
	for _, r := range rows {
		if r.symbol == sym {
			out = append(out, r)
		}
	}
	return out
}

// TestParallelEqualsSequential computes every function with several
// workers on one symbol and on several, in small chunks so that many
// chunks and DAG nodes are in flight at once, and compares every bit
// (nulls included) with one worker. Run it under -race too.
func TestParallelEqualsSequential(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	specs := everyFunction()
	all := genTrades(21, 3000)
	type variant struct{ workers, chunk int }
	for _, data := range []struct {
		name     string
		rows     []trade
		variants []variant
	}{
		{"one symbol", oneSymbol(all, "BTC"), []variant{{2, 0}, {2, 5}, {3, 64}, {8, 1}, {8, 7}}},
		{"four symbols", all, []variant{{2, 0}, {3, 64}, {8, 7}}},
	} {
		tbl := tradeTable(t, mem, data.rows, 1000)
		want := compute(t, tbl, specs, Options{Mem: mem, Parallelism: 1})
		for _, v := range data.variants {
			t.Run(fmt.Sprintf("%s/%d workers/chunks of %d", data.name, v.workers, v.chunk), func(t *testing.T) {
				pool := NewPool(v.workers)
				got := compute(t, tbl, specs, Options{Mem: mem, Parallelism: v.workers, Pool: pool, ChunkRows: v.chunk})
				defer got.Release()
				for _, s := range specs {
					w, g := column(t, want, s.Name), column(t, got, s.Name)
					for i := range w {
						if g[i] != w[i] {
							t.Fatalf("%s row %d: %d workers give %x, one worker %x", s.Name, i, v.workers, g[i], w[i])
						}
					}
				}
				if n := pool.busy.Load(); n != 0 {
					t.Errorf("pool still counts %d goroutines", n)
				}
			})
		}
		want.Release()
		tbl.Release()
	}
}

// TestStreamParallel streams one symbol in batches with several workers:
// each batch's chunks run in parallel with the stream's carried state.
func TestStreamParallel(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rows := oneSymbol(genTrades(3, 8000), "ETH")
	tbl := tradeTable(t, mem, rows, 1<<20)
	defer tbl.Release()
	want := compute(t, tbl, allBuiltins, Options{Mem: mem, Parallelism: 1})
	defer want.Release()
	s, err := NewStream(allBuiltins, tbl.Schema(), Options{Mem: mem, Parallelism: 4, Pool: NewPool(4), ChunkRows: 16})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]uint64{}
	for lo := 0; lo < len(rows); lo += 500 {
		in := tradeTable(t, mem, rows[lo:min(lo+500, len(rows))], 1<<20)
		rec := tableRecord(t, in)
		out, err := s.Process(context.Background(), rec)
		rec.Release()
		in.Release()
		if err != nil {
			t.Fatal(err)
		}
		res := &Result{Table: arrowTable(out)}
		for _, spec := range allBuiltins {
			got[spec.Name] = append(got[spec.Name], column(t, res, spec.Name)...)
		}
		res.Release()
		out.Release()
	}
	for _, spec := range allBuiltins {
		w := column(t, want, spec.Name)
		for i := range w {
			if got[spec.Name][i] != w[i] {
				t.Fatalf("%s row %d: stream with 4 workers %x, one-shot %x", spec.Name, i, got[spec.Name][i], w[i])
			}
		}
	}
}

// TestParallelCancel cancels computations at random moments: each returns
// the context's error, frees everything and leaves no goroutine behind.
func TestParallelCancel(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	tbl := tradeTable(t, mem, oneSymbol(genTrades(5, 30000), "XRP"), 1<<20)
	defer tbl.Release()
	before := runtime.NumGoroutine()
	pool := NewPool(4)
	for i := range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		if i%2 == 0 {
			time.AfterFunc(time.Duration(i)*200*time.Microsecond, cancel)
		} else {
			cancel()
		}
		res, err := ComputeFeatures(ctx, allBuiltins, []Frame{{Name: "t", Table: tbl}}, Options{Mem: mem, Parallelism: 4, Pool: pool, ChunkRows: 64})
		if err == nil {
			res.Release() // finished before the cancel
		} else if !errors.Is(err, context.Canceled) {
			t.Fatalf("run %d: %v, want context.Canceled", i, err)
		}
		cancel()
		if n := pool.busy.Load(); n != 0 {
			t.Fatalf("run %d: pool still counts %d goroutines", i, n)
		}
	}
	// AfterFunc timers may still be finishing; the engine's own goroutines
	// are gone when ComputeFeatures returns.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines before, %d after", before, n)
	}
}

// TestPoolBoundsWorkers runs calls side by side on one pool: together they
// never compute on more goroutines than the pool's size plus the callers'
// own (each call computes on its own goroutine, whatever the pool), and
// one call alone takes helpers up to the pool's size.
func TestPoolBoundsWorkers(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	tbl := tradeTable(t, mem, oneSymbol(genTrades(9, 20000), "BTC"), 1<<20)
	defer tbl.Release()

	pool := NewPool(3)
	peak := watchPool(t, pool, func() {
		compute(t, tbl, allBuiltins, Options{Mem: mem, Parallelism: 8, Pool: pool, ChunkRows: 32}).Release()
	})
	if peak != 3 {
		t.Errorf("one call alone on a pool of 3 with Parallelism 8: peak %d goroutines, want 3", peak)
	}

	pool = NewPool(2)
	const calls = 4
	peak = watchPool(t, pool, func() {
		var wg sync.WaitGroup
		for range calls {
			wg.Go(func() {
				compute(t, tbl, allBuiltins, Options{Mem: mem, Parallelism: 8, Pool: pool, ChunkRows: 32}).Release()
			})
		}
		wg.Wait()
	})
	// A helper leaves at its next task once the pool is crowded, so a
	// late caller can briefly overlap the helpers of an earlier one.
	if peak > calls+2 {
		t.Errorf("%d calls on a pool of 2: peak %d goroutines, want at most %d", calls, peak, calls+2)
	}
	if n := pool.busy.Load(); n != 0 {
		t.Errorf("pool still counts %d goroutines", n)
	}
}

// watchPool runs f and returns the most goroutines pool counted meanwhile.
func watchPool(t *testing.T, pool *Pool, f func()) int64 {
	t.Helper()
	done := make(chan struct{})
	var peak int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			peak = max(peak, pool.busy.Load())
			select {
			case <-done:
				return
			default:
				runtime.Gosched()
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	return peak
}

func arrowTable(rec arrow.RecordBatch) arrow.Table {
	return array.NewTableFromRecords(rec.Schema(), []arrow.RecordBatch{rec})
}
