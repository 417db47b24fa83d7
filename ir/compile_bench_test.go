package ir

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
)

// chainSpecs is a chain of n features, each using the one before it:
// f0 = log(close), f1 = f0 + lag(f0, 1), ...
func chainSpecs(n int) []Spec {
	specs := make([]Spec, n)
	specs[0] = Spec{Name: "f0", Formula: "log(close)"}
	for i := 1; i < n; i++ {
		specs[i] = Spec{Name: fmt.Sprintf("f%d", i), Formula: fmt.Sprintf("f%d + lag(f%d, 1)", i-1, i-1)}
	}
	return specs
}

// loopSpecs is n features referring to each other in one loop.
func loopSpecs(n int) []Spec {
	specs := make([]Spec, n)
	for i := range specs {
		specs[i] = Spec{Name: fmt.Sprintf("f%d", i), Formula: fmt.Sprintf("f%d * 2", (i+1)%n)}
	}
	return specs
}

// BenchmarkCompileChain compiles chains of feature references and counts
// their shared nodes as explain does (issue 8: 8k features took 4.8 s and
// 16k 22 s end to end); ns/feature stays flat when both are near-linear.
func BenchmarkCompileChain(b *testing.B) {
	for _, n := range []int{1000, 4000, 16000} {
		specs := chainSpecs(n)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for range b.N {
				p := Compile(specs, Options{})
				if !p.OK() || p.SharedNodes() != 2*n-2 {
					b.Fatal(p.Err(), p.SharedNodes())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/feature")
		})
	}
}

// BenchmarkCompileLoop compiles n features that refer to each other in one
// loop, all failed with a cycle error.
func BenchmarkCompileLoop(b *testing.B) {
	for _, n := range []int{1000, 16000} {
		specs := loopSpecs(n)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for range b.N {
				if p := Compile(specs, Options{}); len(p.Failed()) != n {
					b.Fatal(len(p.Failed()))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/feature")
		})
	}
}

// cancelAfter is a context whose Err turns to Canceled after `after` calls;
// it counts the calls, so a test can see that compile stops at the first
// sign of cancellation without depending on timing.
type cancelAfter struct {
	context.Context
	after int64
	calls atomic.Int64
}

func (c *cancelAfter) Err() error {
	if c.calls.Add(1) > c.after {
		return context.Canceled
	}
	return nil
}

func TestCompileContextStops(t *testing.T) {
	specs := chainSpecs(5000)
	for _, after := range []int64{0, 10, 4999, 5003, 9000} {
		ctx := &cancelAfter{Context: context.Background(), after: after}
		p, err := CompileContext(ctx, specs, Options{})
		if !errors.Is(err, context.Canceled) || p != nil {
			t.Fatalf("after %d checks: plan %v, err %v; want no plan and context.Canceled", after, p != nil, err)
		}
		if got := ctx.calls.Load(); got != after+1 {
			t.Errorf("after %d checks: compile checked ctx %d times; want it to stop at the first cancelled check", after, got)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := CompileContext(ctx, specs, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err %v", err)
	}
	if p, err := CompileContext(context.Background(), specs, Options{}); err != nil || !p.OK() {
		t.Errorf("live context: err %v", err)
	}
}

// A large loop of references fails every member with a short message at
// its first edge into the loop (the per-member shortest-cycle search and
// the full path are kept for small loops).
func TestLongCycle(t *testing.T) {
	p := Compile(append(loopSpecs(1000), Spec{Name: "ok", Formula: "close"}), Options{})
	if f := p.Feature("ok"); !f.OK() {
		t.Fatalf("ok: %v", f.Err)
	}
	for _, f := range p.Failed() {
		want := "cycle: " + f.Spec.Name + " -> "
		if !strings.Contains(f.Err.Error(), want) || !strings.Contains(f.Err.Error(), "(1000 features refer to each other in a loop)") || len(f.Err.Error()) > 200 {
			t.Fatalf("%s: %v", f.Spec.Name, f.Err)
		}
	}
	if got := p.Feature("f7").Err.Error(); got != "f7: 1:1: cycle: f7 -> f8 -> ... -> f7 (1000 features refer to each other in a loop)" {
		t.Errorf("f7: %s", got)
	}
}

// SharedNodes agrees with counting, feature by feature, the features that
// reach each node (the definition, quadratic).
func TestSharedNodesAgainstDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fns := []string{"log(%s)", "lag(%s, 2)", "rolling_mean(%s, 3)", "%s + close", "abs(%s)"}
	for round := range 50 {
		var specs []Spec
		for i := range 3 + rng.IntN(30) {
			x := "close"
			if i > 0 && rng.IntN(3) > 0 {
				x = fmt.Sprintf("f%d", rng.IntN(i))
			}
			f := fmt.Sprintf(fns[rng.IntN(len(fns))], x)
			if rng.IntN(4) == 0 {
				f = fmt.Sprintf("%s * f%d", f, rng.IntN(i+1)) // may be a self-reference: an error
			}
			specs = append(specs, Spec{Name: fmt.Sprintf("f%d", i), Formula: f})
		}
		p := Compile(specs, Options{})
		users := make([]map[int]bool, len(p.Nodes))
		for i := range users {
			users[i] = map[int]bool{}
		}
		for fi, f := range p.Features {
			if f.Err != nil {
				continue
			}
			var walk func(id NodeID)
			walk = func(id NodeID) {
				users[id][fi] = true
				for _, a := range p.Nodes[id].Args {
					walk(a)
				}
			}
			walk(f.Root)
		}
		want := 0
		for _, u := range users {
			if len(u) > 1 {
				want++
			}
		}
		if got := p.SharedNodes(); got != want {
			t.Fatalf("round %d: SharedNodes %d, want %d", round, got, want)
		}
	}
}
