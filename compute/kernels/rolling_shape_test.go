package kernels

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/featuredag/fdag/fmath"
)

// References for rolling_skew, rolling_kurt and rolling_wma (every window
// recomputed from scratch in big.Rat: exact mean, exact central moments)
// and rolling_rank (a count over the window), on the generated series of
// genData: prices near 1e5 moving by 1e-6, an offset of 1e9, nulls,
// NaN/Inf, constant runs; every window kind of winCases; every chunking.

// windowValues returns the non-null values of the window ending at row i
// and the weights (position in the window, from 1) of their rows.
func windowValues(d data, wc winCase, i int) (vals, weights []float64) {
	lo := windowRows(wc.rows, wc.dur, d.t, i)
	for j := lo; j <= i; j++ {
		if d.x.Valid[j] {
			vals, weights = append(vals, d.x.V[j]), append(weights, float64(j-lo+1))
		}
	}
	return vals, weights
}

func allFinite(vs []float64) bool {
	for _, v := range vs {
		if !isFinite(v) {
			return false
		}
	}
	return true
}

// exactShape returns G1 (p = 3) or G2 (p = 4) of vs, exactly but for the
// final square roots; nan when the values are all equal.
func exactShape(vs []float64, p int) (v float64, nan bool) {
	n := int64(len(vs))
	mean := new(big.Rat)
	for _, x := range vs {
		mean.Add(mean, rat(x))
	}
	mean.Quo(mean, new(big.Rat).SetInt64(n))
	m := [5]*big.Rat{nil, nil, new(big.Rat), new(big.Rat), new(big.Rat)}
	for _, x := range vs {
		d := new(big.Rat).Sub(rat(x), mean)
		d2 := new(big.Rat).Mul(d, d)
		m[2].Add(m[2], d2)
		m[3].Add(m[3], new(big.Rat).Mul(d2, d))
		m[4].Add(m[4], new(big.Rat).Mul(d2, d2))
	}
	if m[2].Sign() == 0 {
		return 0, true
	}
	fn := float64(n)
	if p == 3 {
		// G1 = sqrt(n (n-1)) / (n-2) * m3 / m2^1.5, m_k = sum d^k / n:
		// m3 / m2^1.5 = sqrt(n) * S3 / S2^1.5.
		r := new(big.Rat).Quo(new(big.Rat).Mul(m[3], m[3]), new(big.Rat).Mul(m[2], new(big.Rat).Mul(m[2], m[2])))
		g := math.Sqrt(f64(r)) * float64(m[3].Sign())
		return math.Sqrt(fn*(fn-1)) / (fn - 2) * math.Sqrt(fn) * g, false
	}
	// m4 / m2^2 = n * S4 / S2^2.
	k := new(big.Rat).Quo(new(big.Rat).Mul(m[4], new(big.Rat).SetInt64(n)), new(big.Rat).Mul(m[2], m[2]))
	g := new(big.Rat).Mul(k, new(big.Rat).SetInt64(n+1))
	g.Sub(g, new(big.Rat).SetInt64(3*(n-1)))
	g.Mul(g, new(big.Rat).SetFrac64(n-1, (n-2)*(n-3)))
	return f64(g), false
}

func TestRollingShapeAgainstExactReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	maxErr := map[string]float64{}
	for _, d := range genData(rng, 150) {
		for _, wc := range winCases {
			var ts []int64
			if wc.dur > 0 {
				ts = d.t
			}
			for _, agg := range []Agg{AggSkew, AggKurt} {
				p := map[Agg]int{AggSkew: 3, AggKurt: 4}[agg]
				name := fmt.Sprintf("%s/m%d/%s", d.name, p, wc)
				out, valid := checkSplits(t, name, rng, NewRolling(agg, wc.rows, wc.dur, wc.minS), []Col{d.x}, ts)
				for i := range out {
					vals, _ := windowValues(d, wc, i)
					wantOK := len(vals) >= max(wc.minS, 1) && len(vals) >= p
					if wantOK != valid[i] {
						t.Fatalf("%s: row %d: valid %v, want %v", name, i, valid[i], wantOK)
					}
					if !wantOK {
						continue
					}
					want, nan := 0.0, !allFinite(vals)
					if !nan {
						want, nan = exactShape(vals, p)
					}
					if nan {
						if out[i] == out[i] {
							t.Fatalf("%s: row %d: %v, want NaN (window %v)", name, i, out[i], vals)
						}
						continue
					}
					e := math.Abs(out[i]-want) / (1 + math.Abs(want))
					maxErr[name[:len(d.name)+3]] = max(maxErr[name[:len(d.name)+3]], e)
					if e > 1e-9 {
						t.Fatalf("%s: row %d: %v, want %v (err %g)", name, i, out[i], want, e)
					}
				}
			}
			name := fmt.Sprintf("%s/wma/%s", d.name, wc)
			out, valid := checkSplits(t, name, rng, NewRollingWMA(wc.rows, wc.dur, wc.minS), []Col{d.x}, ts)
			for i := range out {
				vals, ws := windowValues(d, wc, i)
				wantOK := len(vals) >= max(wc.minS, 1)
				if wantOK != valid[i] {
					t.Fatalf("%s: row %d: valid %v, want %v", name, i, valid[i], wantOK)
				}
				if !wantOK {
					continue
				}
				if !allFinite(vals) {
					var nan, pinf, ninf bool
					for _, v := range vals {
						nan, pinf, ninf = nan || v != v, pinf || math.IsInf(v, 1), ninf || math.IsInf(v, -1)
					}
					want := math.Inf(1)
					switch {
					case nan || pinf && ninf:
						want = math.NaN()
					case ninf:
						want = math.Inf(-1)
					}
					if !(out[i] == want || out[i] != out[i] && want != want) {
						t.Fatalf("%s: row %d: %v, want %v", name, i, out[i], want)
					}
					continue
				}
				num, den := new(big.Rat), new(big.Rat)
				scale := 0.0
				for k, v := range vals {
					num.Add(num, new(big.Rat).Mul(rat(v), rat(ws[k])))
					den.Add(den, rat(ws[k]))
					scale = max(scale, math.Abs(v))
				}
				want := f64(num.Quo(num, den))
				e := math.Abs(out[i] - want)
				maxErr["wma/"+d.name] = max(maxErr["wma/"+d.name], e/scale)
				if e > 1e-13*scale {
					t.Fatalf("%s: row %d: %v, want %v (err %g of scale %g)", name, i, out[i], want, e, scale)
				}
			}
		}
	}
	for k, v := range maxErr {
		t.Logf("max error on %s: %.3g", k, v)
	}
}

// rolling_rank against counting the window: exact.
func TestRollingRankAgainstCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, d := range genData(rng, 400) {
		for _, wc := range winCases {
			var ts []int64
			if wc.dur > 0 {
				ts = d.t
			}
			name := fmt.Sprintf("%s/rank/%s", d.name, wc)
			out, valid := checkSplits(t, name, rng, NewRollingRank(wc.rows, wc.dur, wc.minS), []Col{d.x}, ts)
			for i := range out {
				vals, _ := windowValues(d, wc, i)
				wantOK := len(vals) >= max(wc.minS, 1) && d.x.Valid[i]
				if wantOK != valid[i] {
					t.Fatalf("%s: row %d: valid %v, want %v", name, i, valid[i], wantOK)
				}
				if !wantOK {
					continue
				}
				cur := d.x.V[i]
				lt, eq := 0, 0
				for _, v := range vals {
					switch {
					case fmath.EqTotal(v, cur):
						eq++
					case fmath.LessTotal(v, cur):
						lt++
					}
				}
				want := (float64(lt) + float64(eq+1)/2) / float64(len(vals))
				if !(out[i] == want || out[i] != out[i] && want != want) {
					t.Fatalf("%s: row %d: %v, want %v (window %v)", name, i, out[i], want, vals)
				}
			}
		}
	}
}
