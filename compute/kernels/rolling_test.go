package kernels

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// The references below recompute every window from scratch. Finite values are
// summed in math/big at 256 bits, and std and corr
// are two-pass in big.Float: mean first, then the centred sums. They share
// nothing with the kernels but the window definition, written here again.

func windowRows(rows int, dur int64, t []int64, i int) (lo int) {
	if rows > 0 {
		return max(0, i-rows+1)
	}
	lo = i
	for lo > 0 && t[lo-1] > t[i]-dur {
		lo--
	}
	return lo
}

func bf(v float64) *big.Float { return new(big.Float).SetPrec(256).SetFloat64(v) }

type refOut struct {
	v  float64
	ok bool
	// bound is the allowed absolute error for sum/mean; 0 means use the
	// kernel-specific rule.
	bound float64
}

func refMoments(agg Agg, vals []float64, minS int) refOut {
	var fin []float64
	nan, pinf, ninf := 0, 0, 0
	for _, v := range vals {
		switch {
		case v != v:
			nan++
		case math.IsInf(v, 1):
			pinf++
		case math.IsInf(v, -1):
			ninf++
		default:
			fin = append(fin, v)
		}
	}
	cnt := len(vals)
	if cnt < max(minS, 1) {
		return refOut{}
	}
	switch agg {
	case AggMin, AggMax:
		if nan > 0 {
			return refOut{v: math.NaN(), ok: true}
		}
		r := vals[0]
		for _, v := range vals[1:] {
			if (agg == AggMax && v > r) || (agg == AggMin && v < r) {
				r = v
			}
		}
		return refOut{v: r, ok: true}
	case AggSum, AggMean:
		switch {
		case nan > 0 || (pinf > 0 && ninf > 0):
			return refOut{v: math.NaN(), ok: true}
		case pinf > 0:
			return refOut{v: math.Inf(1), ok: true}
		case ninf > 0:
			return refOut{v: math.Inf(-1), ok: true}
		}
		s, abs := bf(0), 0.0
		for _, v := range fin {
			s.Add(s, bf(v))
			abs += math.Abs(v)
		}
		if agg == AggMean {
			s.Quo(s, bf(float64(len(fin))))
			abs /= float64(len(fin))
		}
		r, _ := s.Float64()
		return refOut{v: r, ok: true, bound: 4 * 0x1p-52 * abs}
	}
	// std
	if cnt < 2 {
		return refOut{}
	}
	if nan+pinf+ninf > 0 {
		return refOut{v: math.NaN(), ok: true}
	}
	return refOut{v: bigStd(fin), ok: true}
}

func bigMean(xs []float64) *big.Float {
	s := bf(0)
	for _, v := range xs {
		s.Add(s, bf(v))
	}
	return s.Quo(s, bf(float64(len(xs))))
}

func bigStd(xs []float64) float64 {
	m := bigMean(xs)
	ss := bf(0)
	for _, v := range xs {
		d := bf(v)
		d.Sub(d, m)
		ss.Add(ss, d.Mul(d, d))
	}
	ss.Quo(ss, bf(float64(len(xs)-1)))
	r, _ := ss.Sqrt(ss).Float64()
	return r
}

func bigCorr(xs, ys []float64) float64 {
	mx, my := bigMean(xs), bigMean(ys)
	sxx, syy, sxy := bf(0), bf(0), bf(0)
	for i := range xs {
		dx, dy := bf(xs[i]), bf(ys[i])
		dx.Sub(dx, mx)
		dy.Sub(dy, my)
		sxx.Add(sxx, new(big.Float).SetPrec(256).Mul(dx, dx))
		syy.Add(syy, new(big.Float).SetPrec(256).Mul(dy, dy))
		sxy.Add(sxy, new(big.Float).SetPrec(256).Mul(dx, dy))
	}
	if sxx.Sign() == 0 || syy.Sign() == 0 {
		return math.NaN()
	}
	d := new(big.Float).SetPrec(256).Mul(sxx, syy)
	d.Sqrt(d)
	r, _ := sxy.Quo(sxy, d).Float64()
	return r
}

type winCase struct {
	rows int
	dur  int64
	minS int
}

func (w winCase) String() string {
	if w.rows > 0 {
		return fmt.Sprintf("rows=%d/min=%d", w.rows, w.minS)
	}
	return fmt.Sprintf("dur=%dms/min=%d", w.dur/1e6, w.minS)
}

var winCases = []winCase{
	{rows: 1, minS: 1}, {rows: 2, minS: 2}, {rows: 5, minS: 5}, {rows: 20, minS: 20}, {rows: 20, minS: 3},
	{rows: 100, minS: 100}, {rows: 64, minS: 1},
	{dur: 1, minS: 1}, {dur: 1e9, minS: 1}, {dur: 10e9, minS: 1}, {dur: 60e9, minS: 5},
}

func TestRollingMomentsAndMinMaxAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	aggs := []Agg{AggSum, AggMean, AggStd, AggMin, AggMax}
	aggName := []string{"sum", "mean", "std", "min", "max"}
	maxStdErr := map[string]float64{}
	for _, d := range genData(rng, 1000) {
		for _, wc := range winCases {
			for _, agg := range aggs {
				name := fmt.Sprintf("%s/%s/%s", d.name, aggName[agg], wc)
				f := NewRolling(agg, wc.rows, wc.dur, wc.minS)
				var ts []int64
				if wc.dur > 0 {
					ts = d.t
				}
				out, valid := checkSplits(t, name, rng, f, []Col{d.x}, ts)
				for i := range out {
					lo := windowRows(wc.rows, wc.dur, d.t, i)
					var vals []float64
					for j := lo; j <= i; j++ {
						if d.x.Valid[j] {
							vals = append(vals, d.x.V[j])
						}
					}
					want := refMoments(agg, vals, wc.minS)
					if want.ok != valid[i] {
						t.Fatalf("%s: row %d: valid %v, want %v (window %v)", name, i, valid[i], want.ok, vals)
					}
					if !want.ok {
						continue
					}
					got := out[i]
					switch {
					case math.IsNaN(want.v) || math.IsInf(want.v, 0) || agg == AggMin || agg == AggMax:
						if math.Float64bits(got) != math.Float64bits(want.v) && !(got != got && want.v != want.v) {
							t.Fatalf("%s: row %d: got %v, want %v", name, i, got, want.v)
						}
					case agg == AggStd:
						var rel float64
						if want.v == 0 {
							rel = math.Abs(got) // a constant window must give exactly 0
							if got != 0 {
								t.Fatalf("%s: row %d: std of a constant window = %v, want exactly 0", name, i, got)
							}
						} else {
							rel = math.Abs(got-want.v) / want.v
						}
						maxStdErr[d.name] = max(maxStdErr[d.name], rel)
						if rel > 1e-9 {
							t.Fatalf("%s: row %d: std %v, want %v (rel err %g)", name, i, got, want.v, rel)
						}
					default:
						if math.Abs(got-want.v) > want.bound {
							t.Fatalf("%s: row %d: got %v, want %v (err %g > %g)", name, i, got, want.v, math.Abs(got-want.v), want.bound)
						}
					}
				}
			}
		}
	}
	for k, v := range maxStdErr {
		t.Logf("max relative std error on %s: %.3g", k, v)
	}
}

func TestRollingCorrAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	maxErr := map[string]float64{}
	for _, d := range genData(rng, 600) {
		for _, wc := range winCases {
			name := fmt.Sprintf("%s/corr/%s", d.name, wc)
			var ts []int64
			if wc.dur > 0 {
				ts = d.t
			}
			out, valid := checkSplits(t, name, rng, NewRollingCorr(wc.rows, wc.dur, wc.minS), []Col{d.x, d.y}, ts)
			for i := range out {
				lo := windowRows(wc.rows, wc.dur, d.t, i)
				var xs, ys []float64
				bad := false
				for j := lo; j <= i; j++ {
					if d.x.Valid[j] && d.y.Valid[j] {
						a, b := d.x.V[j], d.y.V[j]
						if !isFinite(a) || !isFinite(b) {
							bad = true
						}
						xs, ys = append(xs, a), append(ys, b)
					}
				}
				wantOK := len(xs) >= max(wc.minS, 1) && len(xs) >= 2
				if wantOK != valid[i] {
					t.Fatalf("%s: row %d: valid %v, want %v", name, i, valid[i], wantOK)
				}
				if !wantOK {
					continue
				}
				got := out[i]
				if got < -1 || got > 1 {
					t.Fatalf("%s: row %d: corr %v outside [-1, 1]", name, i, got)
				}
				var want float64
				if bad {
					want = math.NaN()
				} else {
					want = bigCorr(xs, ys)
				}
				if want != want || got != got {
					if !(want != want && got != got) {
						t.Fatalf("%s: row %d: corr %v, want %v (x %v y %v)", name, i, got, want, xs, ys)
					}
					continue
				}
				e := math.Abs(got - want)
				maxErr[d.name] = max(maxErr[d.name], e)
				if e > 1e-9 {
					t.Fatalf("%s: row %d: corr %v, want %v (err %g)", name, i, got, want, e)
				}
			}
		}
	}
	for k, v := range maxErr {
		t.Logf("max abs corr error on %s: %.3g", k, v)
	}
}
