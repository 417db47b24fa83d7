package labels

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// walk is a random walk near base with ties (unchanged prices) and
// irregular times in microseconds.
func walk(seed uint64, n int, base float64) ([]int64, []float64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	t := make([]int64, n)
	p := make([]float64, n)
	x, now := base, int64(1_700_000_000_000_000)
	for i := range n {
		if rng.IntN(3) > 0 {
			x *= 1 + rng.NormFloat64()*1e-3
		}
		if rng.IntN(4) > 0 {
			now += rng.Int64N(5_000_000)
		}
		t[i], p[i] = now, x
	}
	return t, p
}

func same(a, b float64) bool {
	return a == b || math.IsNaN(a) && math.IsNaN(b)
}

func near(a, b, tol float64) bool {
	return same(a, b) || math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}

func TestFixedHorizon(t *testing.T) {
	_, p := walk(1, 500, 1e5)
	for _, h := range []int{1, 7} {
		for _, thr := range []float64{0, 1e-3} {
			ret, lab, err := FixedHorizon(p, h, thr)
			if err != nil {
				t.Fatal(err)
			}
			for i := range p {
				wantR, wantL := math.NaN(), math.NaN()
				if i+h < len(p) {
					wantR = p[i+h]/p[i] - 1
					wantL = 0
					if wantR > thr {
						wantL = 1
					} else if wantR < -thr {
						wantL = -1
					}
				}
				if !same(ret[i], wantR) || !same(lab[i], wantL) {
					t.Fatalf("h=%d thr=%v row %d: %v %v, want %v %v", h, thr, i, ret[i], lab[i], wantR, wantL)
				}
			}
		}
	}
	if _, _, err := FixedHorizon(p, 0, 0); err == nil {
		t.Error("h=0 accepted")
	}
}

func TestRollingVolTwoPass(t *testing.T) {
	_, p := walk(2, 2000, 1e5)
	const w = 50
	vol, err := RollingVol(p, w)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p {
		want := math.NaN()
		if i >= w {
			r := make([]float64, 0, w)
			for j := i - w + 1; j <= i; j++ {
				r = append(r, p[j]/p[j-1]-1)
			}
			m := 0.0
			for _, x := range r {
				m += x
			}
			m /= w
			ss := 0.0
			for _, x := range r {
				ss += (x - m) * (x - m)
			}
			want = math.Sqrt(ss / (w - 1))
		}
		if !near(vol[i], want, 1e-9) {
			t.Fatalf("row %d: vol %v, two-pass %v", i, vol[i], want)
		}
	}
}

// refTouch is the triple barrier by brute force for one event.
func refTouch(tm []int64, p, vol []float64, side float64, i int, b Barriers) Touch {
	if math.IsNaN(vol[i]) || i+1 >= len(p) {
		return Touch{T1: tm[i], Ret: math.NaN(), Label: math.NaN()}
	}
	end := len(p) - 1
	if b.Horizon > 0 {
		for j := i + 1; j < len(p); j++ {
			if tm[j] >= tm[i]+b.Horizon {
				end = j
				break
			}
		}
	}
	for j := i + 1; j <= end; j++ {
		r := (p[j]/p[i] - 1) * side
		if b.PT > 0 && r > b.PT*vol[i] {
			return Touch{tm[j], r, 1, 1}
		}
		if b.SL > 0 && r < -b.SL*vol[i] {
			return Touch{tm[j], r, -1, -1}
		}
	}
	r := (p[end]/p[i] - 1) * side
	l := 0.0
	if r > 0 {
		l = 1
	} else if r < 0 {
		l = -1
	}
	return Touch{tm[end], r, l, 0}
}

func TestTripleBarrierAndMeta(t *testing.T) {
	tm, p := walk(3, 3000, 1e5)
	vol, _ := RollingVol(p, 20)
	rng := rand.New(rand.NewPCG(4, 4))
	side := make([]float64, len(p))
	for i := range side {
		side[i] = float64(1 - 2*rng.IntN(2))
	}
	hits := map[int8]int{}
	for _, b := range []Barriers{{PT: 1, SL: 1, Horizon: 60_000_000}, {PT: 2, SL: 0.5, Horizon: 600_000_000}, {PT: 1, SL: 0}, {PT: 0, SL: 0, Horizon: 30_000_000}} {
		got, err := TripleBarrier(tm, p, vol, nil, b)
		if err != nil {
			t.Fatal(err)
		}
		meta, err := Meta(tm, p, vol, side, b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range p {
			want := refTouch(tm, p, vol, 1, i, b)
			if got[i].T1 != want.T1 || !same(got[i].Ret, want.Ret) || !same(got[i].Label, want.Label) || got[i].Barrier != want.Barrier {
				t.Fatalf("%+v row %d: %+v, want %+v", b, i, got[i], want)
			}
			hits[got[i].Barrier]++
			wm := refTouch(tm, p, vol, side[i], i, b)
			if !math.IsNaN(wm.Label) {
				wm.Label = 0
				if wm.Ret > 0 {
					wm.Label = 1
				}
			}
			if meta[i] != wm && !(math.IsNaN(meta[i].Ret) && math.IsNaN(wm.Ret)) {
				t.Fatalf("meta %+v row %d: %+v, want %+v", b, i, meta[i], wm)
			}
		}
	}
	if hits[1] == 0 || hits[-1] == 0 || hits[0] == 0 {
		t.Fatalf("barriers touched %v: the test does not exercise all three", hits)
	}
	if _, err := Meta(tm, p, vol, nil, Barriers{PT: 1}); err == nil {
		t.Error("meta without a side accepted")
	}
}

// refTrend fits each horizon afresh: two-pass means, then slope and
// residuals, as an OLS textbook would.
func refTrend(tm []int64, p []float64, window, minLen, step int) []Trend {
	out := make([]Trend, len(p))
	for i := range p {
		out[i] = Trend{T1: tm[i], TValue: math.NaN(), Ret: math.NaN(), Label: math.NaN()}
		if i+window > len(p) {
			continue
		}
		best, bestT, bestL := math.Inf(-1), 0.0, 0
		for l := minLen; l < window; l += step {
			y := p[i : i+l]
			mx, my := float64(l-1)/2, 0.0
			for _, v := range y {
				my += v
			}
			my /= float64(l)
			sxx, sxy := 0.0, 0.0
			for k, v := range y {
				sxx += (float64(k) - mx) * (float64(k) - mx)
				sxy += (float64(k) - mx) * (v - my)
			}
			b := sxy / sxx
			a := my - b*mx
			sse := 0.0
			for k, v := range y {
				e := v - a - b*float64(k)
				sse += e * e
			}
			tv := b / math.Sqrt(sse/float64(l-2)/sxx)
			if math.Abs(tv) > best {
				best, bestT, bestL = math.Abs(tv), tv, l
			}
		}
		if bestL == 0 {
			continue // a flat window: every slope 0/0, no trend (real prices do this)
		}
		j := i + bestL - 1
		out[i] = Trend{tm[j], bestT, p[j]/p[i] - 1, math.Copysign(1, bestT)}
	}
	return out
}

func TestTrendScan(t *testing.T) {
	tm, p := walk(5, 1500, 1e5)
	ties := 0
	for _, c := range [][3]int{{20, 5, 1}, {40, 3, 4}} {
		got, err := TrendScan(tm, p, c[0], c[1], c[2])
		if err != nil {
			t.Fatal(err)
		}
		want := refTrend(tm, p, c[0], c[1], c[2])
		for i := range p {
			g, w := got[i], want[i]
			if g.T1 != w.T1 && near(g.TValue, w.TValue, 1e-9) {
				ties++ // two horizons with the same |t| to the last bits (flat runs)
				continue
			}
			if g.T1 != w.T1 || !near(g.TValue, w.TValue, 1e-7) || !same(g.Ret, w.Ret) || !same(g.Label, w.Label) {
				t.Fatalf("%v row %d: %+v, want %+v", c, i, g, w)
			}
		}
	}
	if ties > 10 {
		t.Errorf("%d near-ties: more than flat runs explain", ties)
	}
	if _, err := TrendScan(tm, p, 5, 5, 1); err == nil {
		t.Error("window <= min accepted")
	}
}

func crossSample(seed uint64) []CrossSection {
	rng := rand.New(rand.NewPCG(seed, 9))
	syms := make([]CrossSection, 7)
	for s := range syms {
		for k := int64(0); k < 300; k++ {
			if rng.IntN(5) == 0 {
				continue // this symbol has no bar in that bucket
			}
			r := math.Round(rng.NormFloat64()*100) / 1e4 // ties
			if rng.IntN(40) == 0 {
				r = math.NaN()
			}
			syms[s].Key = append(syms[s].Key, k*60_000_000)
			syms[s].Ret = append(syms[s].Ret, r)
		}
	}
	return syms
}

// checkCrossSections compares ExcessOverMedian and TailSets with a brute
// force over every key: every symbol's return there, sorted for the
// median, ranked (smaller, or equal and an earlier symbol) for the tails.
func checkCrossSections(t *testing.T, what string, syms []CrossSection, q float64) {
	t.Helper()
	ex := ExcessOverMedian(syms)
	tails, err := TailSets(syms, q)
	if err != nil {
		t.Fatal(err)
	}
	for s, c := range syms {
		for i, k := range c.Key {
			// Brute force: every symbol's return at key k, in symbol order.
			type entry struct {
				sym int
				r   float64
			}
			var at []entry
			for s2, c2 := range syms {
				if j := slices.Index(c2.Key, k); j >= 0 && !math.IsNaN(c2.Ret[j]) {
					at = append(at, entry{s2, c2.Ret[j]})
				}
			}
			wantEx, wantTail := math.NaN(), math.NaN()
			if len(at) >= 2 && !math.IsNaN(c.Ret[i]) {
				rs := make([]float64, len(at))
				for n, e := range at {
					rs[n] = e.r
				}
				slices.Sort(rs)
				m := len(rs)
				med := rs[m/2]
				if m%2 == 0 {
					med = (rs[m/2-1] + rs[m/2]) / 2
				}
				wantEx = c.Ret[i] - med
				// rank: how many come before (smaller, or equal and earlier symbol)
				rank := 0
				for _, e := range at {
					if e.r < c.Ret[i] || e.r == c.Ret[i] && e.sym < s {
						rank++
					}
				}
				kq := min(int(math.Ceil(q*float64(m)-1e-9)), m/2)
				wantTail = 0
				if rank < kq {
					wantTail = -1
				} else if rank >= m-kq {
					wantTail = 1
				}
			}
			if !same(ex[s][i], wantEx) || !same(tails[s][i], wantTail) {
				t.Fatalf("%s: symbol %d key %d: excess %v tail %v, want %v %v", what, s, k, ex[s][i], tails[s][i], wantEx, wantTail)
			}
		}
	}
}

func TestExcessOverMedianAndTailSets(t *testing.T) {
	syms := crossSample(1)
	checkCrossSections(t, "synthetic", syms, 0.2)
	if _, err := TailSets(syms, 0.7); err == nil {
		t.Error("q=0.7 accepted")
	}
}
