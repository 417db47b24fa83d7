package kernels

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/featuredag/fdag/fmath"
)

// Exact references for rolling_var, rolling_cov and the regressions
// (slope, rsquare, resi): every window recomputed from scratch in big.Rat
// (two-pass: exact means, then exact centred sums), sharing nothing with
// the kernels but the window definition. The data include prices near 1e5
// moving by 1e-6 (price1e5) and an offset of 1e9 (offset1e9), where raw
// moments lose every digit.

func rat(v float64) *big.Rat { return new(big.Rat).SetFloat64(v) }

// centredSums returns the exact mean of xs and ys and Sxx, Syy, Sxy.
func centredSums(xs, ys []float64) (mx, my, sxx, syy, sxy *big.Rat) {
	n := new(big.Rat).SetInt64(int64(len(xs)))
	mx, my = new(big.Rat), new(big.Rat)
	for i := range xs {
		mx.Add(mx, rat(xs[i]))
		my.Add(my, rat(ys[i]))
	}
	mx.Quo(mx, n)
	my.Quo(my, n)
	sxx, syy, sxy = new(big.Rat), new(big.Rat), new(big.Rat)
	for i := range xs {
		dx := new(big.Rat).Sub(rat(xs[i]), mx)
		dy := new(big.Rat).Sub(rat(ys[i]), my)
		sxx.Add(sxx, new(big.Rat).Mul(dx, dx))
		syy.Add(syy, new(big.Rat).Mul(dy, dy))
		sxy.Add(sxy, new(big.Rat).Mul(dx, dy))
	}
	return
}

func f64(r *big.Rat) float64 { v, _ := r.Float64(); return v }

type statCase struct {
	name  string
	kind  pairKind // for pair kinds; var uses AggVar
	isVar bool
}

func TestRollingStatsAgainstExactReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cases := []statCase{{name: "var", isVar: true}, {name: "cov", kind: pairCov},
		{name: "slope", kind: regSlope}, {name: "rsquare", kind: regRsquare}, {name: "resi", kind: regResi}}
	maxErr := map[string]float64{}
	for _, d := range genData(rng, 150) {
		for _, wc := range winCases {
			for _, sc := range cases {
				name := fmt.Sprintf("%s/%s/%s", d.name, sc.name, wc)
				var ts []int64
				if wc.dur > 0 {
					ts = d.t
				}
				var f Factory
				in := []Col{d.x}
				switch {
				case sc.isVar:
					f = NewRolling(AggVar, wc.rows, wc.dur, wc.minS)
				case sc.kind == pairCov:
					f, in = newPair(sc.kind, wc.rows, wc.dur, wc.minS), []Col{d.x, d.y}
				default:
					f = newPair(sc.kind, wc.rows, wc.dur, wc.minS)
				}
				out, valid := checkSplits(t, name, rng, f, in, ts)
				t0, hasT0 := int64(0), false
				for i := range out {
					if !hasT0 && d.x.Valid[i] {
						t0, hasT0 = d.t[i], true
					}
					lo := windowRows(wc.rows, wc.dur, d.t, i)
					var xs, ys []float64
					bad := false
					for j := lo; j <= i; j++ {
						var a, b float64
						switch {
						case sc.isVar:
							if !d.x.Valid[j] {
								continue
							}
							a, b = d.x.V[j], d.x.V[j]
						case sc.kind == pairCov:
							if !d.x.Valid[j] || !d.y.Valid[j] {
								continue
							}
							a, b = d.x.V[j], d.y.V[j]
						default:
							if !d.x.Valid[j] {
								continue
							}
							a, b = float64(j), d.x.V[j]
							if wc.dur > 0 {
								a = float64(d.t[j]-t0) / 1e9
							}
						}
						if !isFinite(a) || !isFinite(b) {
							bad = true
						}
						xs, ys = append(xs, a), append(ys, b)
					}
					wantOK := len(xs) >= max(wc.minS, 1) && len(xs) >= 2
					if sc.kind == regResi && !sc.isVar && !d.x.Valid[i] {
						wantOK = false
					}
					if wantOK != valid[i] {
						t.Fatalf("%s: row %d: valid %v, want %v", name, i, valid[i], wantOK)
					}
					if !wantOK {
						continue
					}
					got := out[i]
					if bad {
						if got == got {
							t.Fatalf("%s: row %d: %v, want NaN (a NaN or Inf in the window)", name, i, got)
						}
						continue
					}
					mx, my, sxx, syy, sxy := centredSums(xs, ys)
					n1 := new(big.Rat).SetInt64(int64(len(xs) - 1))
					var want, tol float64
					nan := false
					switch {
					case sc.isVar:
						want = f64(new(big.Rat).Quo(sxx, n1))
						tol = 1e-9 * want
					case sc.kind == pairCov:
						want = f64(new(big.Rat).Quo(sxy, n1))
						tol = 1e-9 * math.Sqrt(f64(sxx)*f64(syy)) / float64(len(xs)-1)
					case sxx.Sign() == 0:
						nan = true
					case sc.kind == regSlope:
						want = f64(new(big.Rat).Quo(sxy, sxx))
						tol = 1e-9 * math.Sqrt(f64(syy)/f64(sxx))
					case sc.kind == regRsquare:
						if syy.Sign() == 0 {
							nan = true
							break
						}
						num := new(big.Rat).Mul(sxy, sxy)
						want = f64(num.Quo(num, new(big.Rat).Mul(sxx, syy)))
						tol = 1e-9
					case sc.kind == regResi:
						slope := new(big.Rat).Quo(sxy, sxx)
						k := len(xs) - 1 // the current row is the last
						dx := new(big.Rat).Sub(rat(xs[k]), mx)
						r := new(big.Rat).Sub(rat(ys[k]), my)
						r.Sub(r, dx.Mul(dx, slope))
						want = f64(r)
						tol = 1e-9 * math.Sqrt(f64(syy)/float64(len(xs)))
					}
					if nan {
						if got == got {
							t.Fatalf("%s: row %d: %v, want NaN", name, i, got)
						}
						continue
					}
					e := math.Abs(got - want)
					if tol > 0 {
						maxErr[sc.name+"/"+d.name] = max(maxErr[sc.name+"/"+d.name], e/tol*1e-9)
					}
					if e > tol && !(tol == 0 && e == 0) {
						t.Fatalf("%s: row %d: %v, want %v (err %g > %g)", name, i, got, want, e, tol)
					}
				}
			}
		}
	}
	for k, v := range maxErr {
		t.Logf("max error on %s: %.3g of scale", k, v)
	}
}

// rolling_count and rolling_argmax/argmin against plain loops: exact.
func TestRollingCountAndArgExtremes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, d := range genData(rng, 500) {
		for _, wc := range winCases {
			var ts []int64
			if wc.dur > 0 {
				ts = d.t
			}
			name := fmt.Sprintf("%s/count/%s", d.name, wc)
			out, valid := checkSplits(t, name, rng, NewRollingCount(wc.rows, wc.dur), []Col{d.x}, ts)
			for i := range out {
				lo := windowRows(wc.rows, wc.dur, d.t, i)
				n := 0
				for j := lo; j <= i; j++ {
					if d.x.Valid[j] {
						n++
					}
				}
				if !valid[i] || out[i] != float64(n) {
					t.Fatalf("%s: row %d: %v %v, want %d", name, i, out[i], valid[i], n)
				}
			}
			for _, isMax := range []bool{true, false} {
				name := fmt.Sprintf("%s/arg%v/%s", d.name, isMax, wc)
				out, valid := checkSplits(t, name, rng, NewRollingArgExtreme(isMax, wc.rows, wc.dur, wc.minS), []Col{d.x}, ts)
				for i := range out {
					lo := windowRows(wc.rows, wc.dur, d.t, i)
					n, best, nan := 0, -1, false
					for j := lo; j <= i; j++ {
						if !d.x.Valid[j] {
							continue
						}
						n++
						v := d.x.V[j]
						switch {
						case v != v:
							nan = true
						case best < 0 || isMax && v > d.x.V[best] || !isMax && v < d.x.V[best]:
							best = j
						}
					}
					wantOK := n >= max(wc.minS, 1)
					if wantOK != valid[i] {
						t.Fatalf("%s: row %d: valid %v, want %v", name, i, valid[i], wantOK)
					}
					if !wantOK {
						continue
					}
					want := float64(i - best)
					if nan {
						want = math.NaN()
					}
					if !(out[i] == want || out[i] != out[i] && want != want) {
						t.Fatalf("%s: row %d: %v, want %v", name, i, out[i], want)
					}
				}
			}
		}
	}
}

// rolling_median/quantile against a sort of every window (NaN largest,
// linear interpolation): the same arithmetic, so the results are exact.
func TestRollingQuantileAgainstSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, d := range genData(rng, 400) {
		for _, wc := range winCases {
			for _, q := range []float64{0, 0.1, 0.5, 0.75, 1} {
				var ts []int64
				if wc.dur > 0 {
					ts = d.t
				}
				name := fmt.Sprintf("%s/q%v/%s", d.name, q, wc)
				out, valid := checkSplits(t, name, rng, NewRollingQuantile(q, wc.rows, wc.dur, wc.minS), []Col{d.x}, ts)
				for i := range out {
					lo := windowRows(wc.rows, wc.dur, d.t, i)
					var vals []float64
					for j := lo; j <= i; j++ {
						if d.x.Valid[j] {
							vals = append(vals, d.x.V[j])
						}
					}
					wantOK := len(vals) >= max(wc.minS, 1)
					if wantOK != valid[i] {
						t.Fatalf("%s: row %d: valid %v, want %v", name, i, valid[i], wantOK)
					}
					if !wantOK {
						continue
					}
					slices.SortFunc(vals, func(a, b float64) int {
						switch {
						case fmath.LessTotal(a, b):
							return -1
						case fmath.LessTotal(b, a):
							return 1
						}
						return 0
					})
					pos := q * float64(len(vals)-1)
					k := int(math.Floor(pos))
					want := vals[k]
					if pos != float64(k) {
						want = vals[k] + (vals[k+1]-vals[k])*(pos-float64(k))
					}
					if !(out[i] == want || out[i] != out[i] && want != want) {
						t.Fatalf("%s: row %d: %v, want %v (window %v)", name, i, out[i], want, vals)
					}
				}
			}
		}
	}
}
