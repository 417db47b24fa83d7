package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// run feeds one symbol's rows to a fresh Op, cut into chunks at the given
// cut points (sorted, within (0, n)), and returns the whole output.
func run(f Factory, in []Col, t []int64, cuts []int) ([]float64, []bool) {
	n := len(in[0].V)
	for _, c := range in {
		if !c.Scalar {
			n = len(c.V)
		}
	}
	out, valid := make([]float64, n), make([]bool, n)
	op := f()
	lo := 0
	for k := 0; k <= len(cuts); k++ {
		hi := n
		if k < len(cuts) {
			hi = cuts[k]
		}
		chunk := make([]Col, len(in))
		for j, c := range in {
			if c.Scalar {
				chunk[j] = c
				continue
			}
			chunk[j] = Col{V: c.V[lo:hi]}
			if c.Valid != nil {
				chunk[j].Valid = c.Valid[lo:hi]
			}
		}
		var tc []int64
		if t != nil {
			tc = t[lo:hi]
		}
		nulls := op.Step(chunk, tc, out[lo:hi], valid[lo:hi])
		want := 0
		for _, ok := range valid[lo:hi] {
			if !ok {
				want++
			}
		}
		if nulls != want {
			panic("Step returned a wrong null count")
		}
		lo = hi
	}
	return out, valid
}

// randomCuts returns sorted chunk boundaries: sometimes none, sometimes many
// tiny chunks (including empty ones), sometimes a few big ones.
func randomCuts(rng *rand.Rand, n int) []int {
	if n == 0 {
		return nil
	}
	var cuts []int
	switch rng.IntN(3) {
	case 0:
		for p := 0; p < n; {
			p += rng.IntN(4) // 0 gives an empty chunk
			if p < n {
				cuts = append(cuts, p)
			}
		}
	case 1:
		for p := 0; p < n; {
			p += 1 + rng.IntN(n/3+1)
			if p < n {
				cuts = append(cuts, p)
			}
		}
	default:
		cuts = append(cuts, rng.IntN(n+1))
	}
	return cuts
}

// sameOutput compares validity and the bits of every valid value.
func sameOutput(t *testing.T, name string, a []float64, av []bool, b []float64, bv []bool) {
	t.Helper()
	for i := range a {
		if av[i] != bv[i] {
			t.Fatalf("%s: row %d: valid %v vs %v", name, i, av[i], bv[i])
		}
		if av[i] && math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			t.Fatalf("%s: row %d: %v (%#x) vs %v (%#x)", name, i, a[i], math.Float64bits(a[i]), b[i], math.Float64bits(b[i]))
		}
	}
}

// checkSplits runs f on one chunk and on several random chunkings and
// requires bit-identical results; it returns the one-chunk output.
func checkSplits(t *testing.T, name string, rng *rand.Rand, f Factory, in []Col, ts []int64) ([]float64, []bool) {
	t.Helper()
	out, valid := run(f, in, ts, nil)
	for range 4 {
		o2, v2 := run(f, in, ts, randomCuts(rng, len(out)))
		sameOutput(t, name+" (split)", out, valid, o2, v2)
	}
	return out, valid
}

// data is one generated test series.
type data struct {
	name string
	x, y Col
	t    []int64
}

// genData builds the series the window tests run over.
func genData(rng *rand.Rand, n int) []data {
	var ds []data
	mk := func(name string, f func(i int) (float64, bool)) {
		x := Col{V: make([]float64, n), Valid: make([]bool, n)}
		y := Col{V: make([]float64, n), Valid: make([]bool, n)}
		for i := range n {
			x.V[i], x.Valid[i] = f(i)
			y.V[i], y.Valid[i] = 0.3*x.V[i]+rng.NormFloat64()*math.Max(1e-6, 0.01*math.Abs(x.V[i]-1e5)), rng.IntN(10) != 0
		}
		ds = append(ds, data{name: name, x: x, y: y, t: genTimes(rng, n)})
	}
	mk("gauss", func(int) (float64, bool) { return rng.NormFloat64() * 10, rng.IntN(8) != 0 })
	p := 1e5
	mk("price1e5", func(int) (float64, bool) {
		p += float64(rng.IntN(5)-2) * 1e-6
		return p, rng.IntN(20) != 0
	})
	mk("offset1e9", func(int) (float64, bool) { return 1e9 + rng.NormFloat64(), true })
	q := 0.0
	mk("walk", func(int) (float64, bool) { q += rng.NormFloat64(); return q, true })
	nullRun := 0
	mk("nullruns", func(int) (float64, bool) {
		if nullRun > 0 {
			nullRun--
			return math.NaN(), false // garbage under a null
		}
		if rng.IntN(30) == 0 {
			nullRun = rng.IntN(60)
		}
		return rng.Float64(), true
	})
	mk("special", func(int) (float64, bool) {
		switch rng.IntN(40) {
		case 0:
			return math.NaN(), true
		case 1:
			return math.Inf(1), true
		case 2:
			return math.Inf(-1), true
		}
		return 50 + rng.NormFloat64(), rng.IntN(10) != 0
	})
	c := 0
	mk("constant-runs", func(i int) (float64, bool) {
		if i%150 == 0 {
			c = rng.IntN(3)
		}
		return 1e5 + float64(c)*0.1, true
	})
	return ds
}

// genTimes makes non-decreasing times with many ties and some long gaps.
func genTimes(rng *rand.Rand, n int) []int64 {
	t := make([]int64, n)
	cur := int64(1_700_000_000_000_000_000)
	for i := range t {
		switch r := rng.IntN(10); {
		case r < 4: // tie
		case r < 9:
			cur += int64(rng.IntN(2_000_000_000))
		default:
			cur += int64(rng.IntN(60_000_000_000))
		}
		t[i] = cur
	}
	return t
}
