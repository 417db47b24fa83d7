package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

var nan, inf = math.NaN(), math.Inf(1)

func TestUnaryIEEE(t *testing.T) {
	cases := []struct {
		fn      UnaryFn
		in, out float64
	}{
		{UnaryLog, 0, -inf}, {UnaryLog, -1, nan}, {UnaryLog, 1, 0}, {UnaryLog, inf, inf},
		{UnarySqrt, -1, nan}, {UnarySqrt, 4, 2}, {UnaryExp, 0, 1}, {UnaryExp, -inf, 0}, {UnaryExp, 1000, inf},
		{UnaryAbs, math.Copysign(0, -1), 0}, {UnaryAbs, -inf, inf}, {UnaryNeg, 2, -2}, {UnaryNeg, nan, nan},
	}
	for _, c := range cases {
		for _, scalar := range []bool{false, true} {
			out, valid := run(Shared(NewUnary(c.fn)), []Col{{V: []float64{c.in}, Scalar: scalar}}, nil, nil)
			if !valid[0] || !(math.Float64bits(out[0]) == math.Float64bits(c.out) || (out[0] != out[0] && c.out != c.out)) {
				t.Errorf("unary %d(%v) = %v, want %v", c.fn, c.in, out[0], c.out)
			}
		}
	}
}

func TestBinaryTable(t *testing.T) {
	cases := []struct {
		fn         BinaryFn
		a, b, want float64
	}{
		{BinAdd, 1, 2, 3}, {BinSub, 1, 2, -1}, {BinMul, 3, 2, 6}, {BinDiv, 1, 0, inf}, {BinDiv, -1, 0, -inf},
		{BinDiv, 0, 0, nan}, {BinPow, 2, 10, 1024}, {BinPow, -1, 0.5, nan},
		{BinEQ, nan, nan, 1}, {BinNE, nan, nan, 0}, {BinEQ, 0, math.Copysign(0, -1), 1}, {BinEQ, nan, 1, 0},
		{BinLT, 1, nan, 1}, {BinLT, nan, 1, 0}, {BinLT, nan, nan, 0}, {BinLE, nan, nan, 1}, {BinLE, inf, nan, 1},
		{BinGT, nan, inf, 1}, {BinGE, nan, nan, 1}, {BinGE, 1, nan, 0}, {BinGT, 2, 1, 1}, {BinLT, 2, 1, 0},
		{BinLE, 1, 1, 1}, {BinNE, 1, 2, 1},
	}
	for _, c := range cases {
		for k := range 4 {
			a := Col{V: []float64{c.a, c.a}, Scalar: k&1 != 0}
			b := Col{V: []float64{c.b, c.b}, Scalar: k&2 != 0}
			if a.Scalar {
				a.V = a.V[:1]
			}
			if b.Scalar {
				b.V = b.V[:1]
			}
			n := 2
			if a.Scalar && b.Scalar {
				n = 1
			}
			out := make([]float64, n)
			valid := make([]bool, n)
			if nulls := NewBinary(c.fn).Step([]Col{a, b}, nil, out, valid); nulls != 0 {
				t.Fatalf("nulls %d", nulls)
			}
			if !(out[0] == c.want || (out[0] != out[0] && c.want != c.want)) {
				t.Errorf("binary %d(%v, %v) scalars %d = %v, want %v", c.fn, c.a, c.b, k, out[0], c.want)
			}
		}
	}
}

func TestBinaryNulls(t *testing.T) {
	a := Col{V: []float64{1, 2, 3, 4}, Valid: []bool{true, false, true, true}}
	b := Col{V: []float64{1, 1, 1, 1}, Valid: []bool{true, true, false, true}}
	out, valid := run(Shared(NewBinary(BinAdd)), []Col{a, b}, nil, nil)
	if want := []bool{true, false, false, true}; !equalBools(valid, want) || out[0] != 2 || out[3] != 5 {
		t.Fatalf("got %v %v", out, valid)
	}
	_, valid = run(Shared(NewBinary(BinMul)), []Col{a, {V: []float64{2}, Valid: []bool{false}, Scalar: true}}, nil, nil)
	if !equalBools(valid, []bool{false, false, false, false}) {
		t.Fatalf("null scalar: %v", valid)
	}
	_, valid = run(Shared(NewUnary(UnaryLog)), []Col{a}, nil, nil)
	if !equalBools(valid, a.Valid) {
		t.Fatalf("unary validity %v", valid)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLag(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 5, 300} {
		x := Col{V: make([]float64, n), Valid: make([]bool, n)}
		for i := range n {
			x.V[i], x.Valid[i] = rng.Float64(), rng.IntN(5) != 0
		}
		for _, k := range []int{0, 1, 2, 7, 299, 300, 1000} {
			for _, c := range []Col{x, {V: x.V}} {
				out, valid := checkSplits(t, "lag", rng, NewLag(k), []Col{c}, nil)
				for i := range out {
					wantOK := i >= k && c.IsValid(i-k)
					if valid[i] != wantOK || (wantOK && out[i] != c.V[i-k]) {
						t.Fatalf("lag %d n %d row %d: %v %v", k, n, i, out[i], valid[i])
					}
				}
			}
		}
	}
}

// Explicit windows the property tests might miss.
func TestRollingEdges(t *testing.T) {
	// No look-ahead: rows sharing a timestamp see only the rows before them.
	ts := []int64{10, 10, 10, 20, 20}
	x := Col{V: []float64{1, 2, 3, 4, 5}}
	out, _ := run(NewRolling(AggSum, 0, 5, 1), []Col{x}, ts, nil)
	if want := []float64{1, 3, 6, 4, 9}; !equalFloats(out, want) {
		t.Fatalf("tied sums %v, want %v", out, want)
	}
	// NaN and infinities entering and leaving a 2-row window.
	x = Col{V: []float64{1, nan, 2, inf, 3, -inf, inf, 4, 5}}
	for _, c := range []struct {
		agg  Agg
		want []float64
	}{
		{AggSum, []float64{nan, nan, nan, inf, inf, -inf, nan, inf, 9}},
		{AggStd, []float64{nan, nan, nan, nan, nan, nan, nan, nan, math.Sqrt(0.5)}},
		{AggMax, []float64{nan, nan, nan, inf, inf, 3, inf, inf, 5}},
		{AggMin, []float64{nan, nan, nan, 2, 3, -inf, -inf, 4, 4}},
	} {
		out, valid := run(NewRolling(c.agg, 2, 0, 2), []Col{x}, nil, nil)
		if valid[0] || !equalFloats(out[1:], c.want[1:]) {
			t.Errorf("agg %d: %v, want %v", c.agg, out, c.want)
		}
	}
	// Constant windows: std exactly 0, corr NaN; one row: std null.
	cst := Col{V: []float64{1e5 + 0.1, 1e5 + 0.1, 1e5 + 0.1, 1e5 + 0.1}}
	out, _ = run(NewRolling(AggStd, 3, 0, 2), []Col{cst}, nil, nil)
	if out[1] != 0 || out[3] != 0 {
		t.Fatalf("constant std %v", out)
	}
	out, valid := run(NewRollingCorr(3, 0, 2), []Col{cst, {V: []float64{1, 2, 3, 4}}}, nil, nil)
	if valid[0] || !math.IsNaN(out[2]) {
		t.Fatalf("constant corr %v %v", out, valid)
	}
	_, valid = run(NewRolling(AggStd, 0, 1e9, 1), []Col{{V: []float64{5}}}, []int64{0}, nil)
	if valid[0] {
		t.Fatal("std of one row is not null")
	}
}

func equalFloats(a, b []float64) bool {
	for i := range a {
		if !(a[i] == b[i] || (a[i] != a[i] && b[i] != b[i])) {
			return false
		}
	}
	return true
}

func TestDecayAccum(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	n := 2000
	x := Col{V: make([]float64, n), Valid: make([]bool, n)}
	for i := range n {
		x.V[i], x.Valid[i] = rng.NormFloat64(), i > 3 && rng.IntN(4) != 0
	}
	ts := genTimes(rng, n)
	for _, h := range []float64{1, 2.5, 50} {
		out, valid := checkSplits(t, "decay rows", rng, NewDecayAccum(h, 0), []Col{x}, nil)
		checkDecay(t, x, out, valid, func(i int) float64 { return math.Pow(2, -1/h) })
	}
	for _, h := range []int64{1e6, 3e9} {
		out, valid := checkSplits(t, "decay dur", rng, NewDecayAccum(0, h), []Col{x}, ts)
		checkDecay(t, x, out, valid, func(i int) float64 { return math.Pow(2, -float64(ts[i]-ts[i-1])/float64(h)) })
	}
}

func checkDecay(t *testing.T, x Col, out []float64, valid []bool, f func(i int) float64) {
	t.Helper()
	acc, started := 0.0, false
	for i := range out {
		switch {
		case x.Valid[i] && started:
			acc = x.V[i] + acc*f(i)
		case x.Valid[i]:
			acc, started = x.V[i], true
		case started:
			acc *= f(i)
		}
		if valid[i] != started || (started && math.Abs(out[i]-acc) > 1e-12*(1+math.Abs(acc))) {
			t.Fatalf("decay row %d: %v %v, want %v %v", i, out[i], valid[i], acc, started)
		}
	}
}
