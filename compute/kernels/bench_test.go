package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/featuredag/fdag/fmath"
)

const benchRows, benchChunk = 1 << 20, 8192

type benchInput struct {
	x, y Col
	t    []int64
}

var benchData = func() benchInput {
	rng := rand.New(rand.NewPCG(1, 1))
	x, y := make([]float64, benchRows), make([]float64, benchRows)
	p := 1e5
	for i := range x {
		p += float64(rng.IntN(5)-2) * 1e-2
		x[i], y[i] = p, rng.NormFloat64()
	}
	return benchInput{x: Col{V: x}, y: Col{V: y}, t: genTimes(rng, benchRows)}
}()

// benchOp feeds 1M rows of one symbol in chunks of 8192 and reports ns/row.
func benchOp(b *testing.B, f Factory, in []Col, useT bool) {
	out, valid := make([]float64, benchChunk), make([]bool, benchChunk)
	chunk := make([]Col, len(in))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		op := f()
		for lo := 0; lo < benchRows; lo += benchChunk {
			for j, c := range in {
				chunk[j] = c
				if !c.Scalar {
					chunk[j] = Col{V: c.V[lo : lo+benchChunk]}
				}
			}
			var t []int64
			if useT {
				t = benchData.t[lo : lo+benchChunk]
			}
			op.Step(chunk, t, out, valid)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/row")
}

func BenchmarkElementwise(b *testing.B) {
	x, y := benchData.x, benchData.y
	s := Col{V: []float64{3}, Scalar: true}
	for _, c := range []struct {
		name string
		op   Op
		in   []Col
	}{
		{"add", NewBinary(BinAdd), []Col{x, y}},
		{"div_scalar", NewBinary(BinDiv), []Col{x, s}},
		{"lt", NewBinary(BinLT), []Col{x, y}},
		{"log", NewUnary(UnaryLog), []Col{x}},
		// The generic loop over a table function's float rule (NewMap),
		// against the dedicated loops above.
		{"log_generic", mustMap(fmath.Log), []Col{x}},
		{"add_generic", mustMap(fmath.Add), []Col{x, y}},
		{"exp", NewUnary(UnaryExp), []Col{y}},
		{"sqrt", NewUnary(UnarySqrt), []Col{x}},
	} {
		b.Run(c.name, func(b *testing.B) { benchOp(b, Shared(c.op), c.in, false) })
	}
}

func mustMap(eval any) Op {
	op, err := NewMap(eval)
	if err != nil {
		panic(err)
	}
	return op
}

// BenchmarkCumulative: O(1) per row.
func BenchmarkCumulative(b *testing.B) {
	for name, fn := range map[string]CumFn{"sum": CumSum, "max": CumMax} {
		b.Run(name, func(b *testing.B) { benchOp(b, NewCumulative(fn), []Col{benchData.x}, false) })
	}
}

func BenchmarkLag(b *testing.B) {
	benchOp(b, NewLag(5), []Col{benchData.x}, false)
}

func BenchmarkRolling(b *testing.B) {
	names := []string{"sum", "mean", "std", "min", "max"}
	for agg := AggSum; agg <= AggMax; agg++ {
		for _, w := range []int{20, 1000} {
			b.Run(fmt.Sprintf("%s/rows=%d", names[agg], w), func(b *testing.B) {
				benchOp(b, NewRolling(agg, w, 0, w), []Col{benchData.x}, false)
			})
		}
		b.Run(names[agg]+"/dur=60s", func(b *testing.B) {
			benchOp(b, NewRolling(agg, 0, 60e9, 1), []Col{benchData.x}, true)
		})
	}
}

func BenchmarkRollingCorr(b *testing.B) {
	in := []Col{benchData.x, benchData.y}
	b.Run("rows=20", func(b *testing.B) { benchOp(b, NewRollingCorr(20, 0, 20), in, false) })
	b.Run("rows=1000", func(b *testing.B) { benchOp(b, NewRollingCorr(1000, 0, 1000), in, false) })
	b.Run("dur=60s", func(b *testing.B) { benchOp(b, NewRollingCorr(0, 60e9, 1), in, true) })
}

func BenchmarkDecay(b *testing.B) {
	b.Run("rows", func(b *testing.B) { benchOp(b, NewDecayAccum(20, 0), []Col{benchData.x}, false) })
	b.Run("dur", func(b *testing.B) { benchOp(b, NewDecayAccum(0, 10e9), []Col{benchData.x}, true) })
}

func BenchmarkEwm(b *testing.B) {
	b.Run("rows", func(b *testing.B) { benchOp(b, NewEwmMean(20, 0), []Col{benchData.x}, false) })
	b.Run("dur", func(b *testing.B) { benchOp(b, NewEwmMean(0, 10e9), []Col{benchData.x}, true) })
}

// BenchmarkRollingFamilies measures the newer rolling aggregates at
// w = 20, 1000 and 10000 rows: O(1) amortised per row means ns/row does
// not grow with w; median and rank (O(log w)) grow with log w.
func BenchmarkRollingFamilies(b *testing.B) {
	x, xy := []Col{benchData.x}, []Col{benchData.x, benchData.y}
	for _, w := range []int{20, 1000, 10000} {
		for _, c := range []struct {
			name string
			f    Factory
			in   []Col
		}{
			{"var", NewRolling(AggVar, w, 0, w), x},
			{"cov", newPair(pairCov, w, 0, w), xy},
			{"slope", newPair(regSlope, w, 0, w), x},
			{"resi", newPair(regResi, w, 0, w), x},
			{"argmax", NewRollingArgExtreme(true, w, 0, w), x},
			{"count", NewRollingCount(w, 0), x},
			{"median", NewRollingQuantile(0.5, w, 0, w), x},
			{"skew", NewRolling(AggSkew, w, 0, w), x},
			{"kurt", NewRolling(AggKurt, w, 0, w), x},
			{"wma", NewRollingWMA(w, 0, w), x},
			{"rank", NewRollingRank(w, 0, w), x},
		} {
			b.Run(fmt.Sprintf("%s/rows=%d", c.name, w), func(b *testing.B) { benchOp(b, c.f, c.in, false) })
		}
	}
}
