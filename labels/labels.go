// Package labels computes the forward-looking labels of López de Prado,
// Advances in Financial Machine Learning (AFML), chapters 3-5 and the
// cross-sectional labels of mlfinlab, over one symbol's series of prices
// (trades or bars) in time order:
//
//   - FixedHorizon: the return h rows ahead, labelled -1/0/1 by a threshold.
//   - TripleBarrier: the first touch of a profit-take or stop-loss barrier,
//     multiples of a rolling volatility, or of a vertical barrier in time.
//   - Meta: TripleBarrier over a given side, labelled 1 when the side's bet
//     made money, else 0 (AFML 3.6).
//   - TrendScan: the t-value of the best-fit slope over a range of forward
//     horizons, the horizon with the largest |t| chosen (AFML 5.4 of
//     Machine Learning for Asset Managers).
//   - ExcessOverMedian: a return minus the median return of every symbol
//     at the same key (time bucket).
//   - TailSets: the symbols in the top and bottom quantile of the
//     cross-section at each key, labelled 1 and -1, the rest 0.
//
// Labels look forward by definition: they belong in their own table,
// never among features.
package labels

import (
	"fmt"
	"math"
	"slices"
)

// FixedHorizon returns ret[i] = close[i+h]/close[i] - 1 and label[i] = 1
// when ret > threshold, -1 when ret < -threshold, else 0; both NaN for the
// last h rows (no future). mlfinpy's fixed_time_horizon(lag=True) for h=1.
func FixedHorizon(close []float64, h int, threshold float64) (ret, label []float64, err error) {
	if h < 1 {
		return nil, nil, fmt.Errorf("fixed horizon: h=%d: want h >= 1 rows", h)
	}
	if threshold < 0 || math.IsNaN(threshold) {
		return nil, nil, fmt.Errorf("fixed horizon: threshold %v: want >= 0", threshold)
	}
	n := len(close)
	ret, label = make([]float64, n), make([]float64, n)
	for i := range n {
		if i+h >= n {
			ret[i], label[i] = math.NaN(), math.NaN()
			continue
		}
		r := close[i+h]/close[i] - 1
		ret[i], label[i] = r, sign3(r, threshold)
	}
	return ret, label, nil
}

func sign3(r, threshold float64) float64 {
	switch {
	case r > threshold:
		return 1
	case r < -threshold:
		return -1
	case math.IsNaN(r):
		return math.NaN()
	}
	return 0
}

// RollingVol is the sample standard deviation (ddof 1) of the last w
// one-row simple returns ending at each row, NaN until w returns exist;
// two-pass per window, so prices near 1e5 with tiny moves keep their
// digits.
func RollingVol(close []float64, w int) ([]float64, error) {
	if w < 2 {
		return nil, fmt.Errorf("rolling volatility: window %d: want >= 2 returns", w)
	}
	n := len(close)
	out := make([]float64, n)
	r := make([]float64, n)
	for i := range n {
		out[i] = math.NaN()
		if i > 0 {
			r[i] = close[i]/close[i-1] - 1
		}
	}
	// Welford's update over a sliding window: add the new return, remove
	// the oldest (stable; exact two-pass is in the tests).
	var mean, m2 float64
	cnt := 0
	for i := 1; i < n; i++ {
		x := r[i]
		cnt++
		d := x - mean
		mean += d / float64(cnt)
		m2 += d * (x - mean)
		if cnt > w {
			y := r[i-w]
			d := y - mean
			mean -= d / float64(cnt-1)
			m2 -= d * (y - mean)
			cnt--
		}
		if cnt == w {
			out[i] = math.Sqrt(math.Max(m2, 0) / float64(w-1))
		}
	}
	return out, nil
}

// Barriers are the triple barrier's parameters. The horizontal barriers
// of the event at row i are at returns +PT*vol[i] and -SL*vol[i], touched
// when the return passes them strictly (a zero multiple disables that
// barrier); the vertical barrier is the first row with time >=
// time[i] + Horizon (microseconds), or the last row (Horizon 0: always).
type Barriers struct {
	PT, SL  float64
	Horizon int64
}

// Touch is the outcome of one event: the time of the first barrier
// touched (T1), the return from the event to it (side-adjusted when a side
// is given), the label (the sign of that return; meta-labels: 1 if it is
// positive, else 0) and which barrier: 1 profit-take, -1 stop-loss, 0
// vertical. An event without volatility (NaN) or without a later row has
// NaN Ret and Label.
type Touch struct {
	T1      int64
	Ret     float64
	Label   float64
	Barrier int8
}

// TripleBarrier labels every row i with vol[i] defined as an event (AFML
// 3.4, mlfinpy get_events + get_bins without min_ret). side nil means no
// side: the return itself decides. With side (+1 long / -1 short per row)
// returns are multiplied by it, so the profit-take is the side's profit.
func TripleBarrier(time []int64, close, vol []float64, side []float64, b Barriers) ([]Touch, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	n := len(close)
	if len(time) != n || len(vol) != n || (side != nil && len(side) != n) {
		return nil, fmt.Errorf("triple barrier: columns of different lengths (time %d, close %d, vol %d, side %d)", len(time), n, len(vol), len(side))
	}
	out := make([]Touch, n)
	end := 0 // the vertical barrier's row: moves forward only
	for i := range n {
		out[i] = Touch{T1: time[i], Ret: math.NaN(), Label: math.NaN()}
		s := 1.0
		if side != nil {
			s = side[i]
			if s != 1 && s != -1 {
				if math.IsNaN(s) {
					continue
				}
				return nil, fmt.Errorf("triple barrier: side %v at row %d: want 1 or -1", s, i)
			}
		}
		if math.IsNaN(vol[i]) || i+1 >= n {
			continue
		}
		// mlfinpy's add_vertical_barrier: the first row at or after
		// time[i] + Horizon, or the last row.
		end = max(end, i+1)
		if b.Horizon > 0 {
			for end < n-1 && time[end] < time[i]+b.Horizon {
				end++
			}
		} else {
			end = n - 1
		}
		up, down := b.PT*vol[i], -b.SL*vol[i]
		t := Touch{}
		for j := i + 1; j <= end; j++ {
			r := (close[j]/close[i] - 1) * s
			t = Touch{T1: time[j], Ret: r}
			if b.PT > 0 && r > up {
				t.Barrier = 1
				break
			}
			if b.SL > 0 && r < down {
				t.Barrier = -1
				break
			}
		}
		t.Label = sign3(t.Ret, 0)
		out[i] = t
	}
	return out, nil
}

func (b Barriers) check() error {
	if b.PT < 0 || b.SL < 0 || math.IsNaN(b.PT) || math.IsNaN(b.SL) {
		return fmt.Errorf("triple barrier: pt=%v sl=%v: want multiples >= 0", b.PT, b.SL)
	}
	if b.Horizon < 0 {
		return fmt.Errorf("triple barrier: horizon %d: want >= 0 (0: the end of the data)", b.Horizon)
	}
	return nil
}

// Meta is AFML's meta-labelling: the triple barrier over the given side,
// labelled 1 when the side-adjusted return at the first touch is positive
// (take the bet), else 0.
func Meta(time []int64, close, vol, side []float64, b Barriers) ([]Touch, error) {
	if side == nil {
		return nil, fmt.Errorf("meta-labels: a side is required")
	}
	out, err := TripleBarrier(time, close, vol, side, b)
	for i := range out {
		if !math.IsNaN(out[i].Label) {
			out[i].Label = 0
			if out[i].Ret > 0 {
				out[i].Label = 1
			}
		}
	}
	return out, err
}

// Trend is one trend-scanning label: the end of the chosen horizon (T1),
// the t-value of its slope, the return to T1 and the label sign(t).
type Trend struct {
	T1     int64
	TValue float64
	Ret    float64
	Label  float64
}

// TrendScan is mlfinpy's trend_scanning_labels(look_forward_window=window,
// min_sample_length=minLen, step): for each row i with window rows from i
// on, fit close[i..i+L-1] on 0..L-1 by least squares for L = minLen,
// minLen+step, ... < window, and keep the L whose slope has the largest
// |t| (the first on ties). Rows without window rows ahead get NaN. The
// sums are centred on close[i] and accumulated as L grows: O(window) per
// row and stable at prices near 1e5.
func TrendScan(time []int64, close []float64, window, minLen, step int) ([]Trend, error) {
	if minLen < 3 || window <= minLen || step < 1 {
		return nil, fmt.Errorf("trend scanning: window=%d min=%d step=%d: want 3 <= min < window and step >= 1", window, minLen, step)
	}
	n := len(close)
	if len(time) != n {
		return nil, fmt.Errorf("trend scanning: columns of different lengths (time %d, close %d)", len(time), n)
	}
	out := make([]Trend, n)
	for i := range n {
		out[i] = Trend{T1: time[i], TValue: math.NaN(), Ret: math.NaN(), Label: math.NaN()}
		if i+window > n {
			continue
		}
		// Centred running sums over k = 0..L-1 of x = k and y = close[i+k]-close[i].
		var sy, sxy, syy float64
		best, bestT, bestL := -1.0, math.NaN(), 0
		for l := 1; l < window; l++ {
			k := float64(l - 1)
			y := close[i+l-1] - close[i]
			sy += y
			sxy += k * y
			syy += y * y
			if l < minLen || (l-minLen)%step != 0 {
				continue
			}
			L := float64(l)
			sx := L * (L - 1) / 2
			sxx := L * (L*L - 1) / 12 // sum (k - mean k)^2
			cxy := sxy - sx*sy/L
			cyy := syy - sy*sy/L
			slope := cxy / sxx
			sse := math.Max(cyy-slope*cxy, 0)
			t := slope / math.Sqrt(sse/(L-2)/sxx)
			if math.Abs(t) > best { // NaN never wins, as in mlfinpy
				best, bestT, bestL = math.Abs(t), t, l
			}
		}
		if bestL == 0 {
			continue
		}
		j := i + bestL - 1
		out[i] = Trend{T1: time[j], TValue: bestT, Ret: close[j]/close[i] - 1, Label: sign3(bestT, 0)}
	}
	return out, nil
}

// CrossSection is one symbol's labelled returns keyed for the cross
// section: Key[i] (a time bucket, e.g. a time bar's interval) and Ret[i]
// (NaN: no return). Keys within a symbol are distinct.
type CrossSection struct {
	Key []int64
	Ret []float64
}

// ExcessOverMedian returns, for every symbol and row, its return minus
// the median of the returns of all symbols with a return at the same key;
// NaN where the return is NaN or fewer than two symbols have one (an
// excess over oneself says nothing).
func ExcessOverMedian(syms []CrossSection) [][]float64 {
	out := make([][]float64, len(syms))
	groups := crossGroups(syms)
	for s, c := range syms {
		out[s] = make([]float64, len(c.Ret))
		for i := range out[s] {
			out[s][i] = math.NaN()
		}
	}
	var vals []float64
	for _, g := range groups {
		if len(g) < 2 {
			continue
		}
		vals = vals[:0]
		for _, m := range g {
			vals = append(vals, syms[m.sym].Ret[m.row])
		}
		slices.Sort(vals)
		med := vals[len(vals)/2]
		if len(vals)%2 == 0 {
			med = (vals[len(vals)/2-1] + vals[len(vals)/2]) / 2
		}
		for _, m := range g {
			out[m.sym][m.row] = syms[m.sym].Ret[m.row] - med
		}
	}
	return out
}

// TailSets labels, at every key with at least two symbols, the
// ceil(q*n) symbols with the highest returns 1 and the ceil(q*n) with the
// lowest -1 (fewer when they would overlap: never more than n/2 each), the
// rest 0 (mlfinlab's TailSetLabels with n_bins = 1/q, without its
// volatility adjustment: divide Ret by a volatility first for that). Ties
// keep the symbols' order. NaN where the return is NaN or the key has one
// symbol.
func TailSets(syms []CrossSection, q float64) ([][]float64, error) {
	if !(q > 0 && q <= 0.5) {
		return nil, fmt.Errorf("tail sets: quantile %v: want 0 < q <= 0.5", q)
	}
	out := make([][]float64, len(syms))
	for s, c := range syms {
		out[s] = make([]float64, len(c.Ret))
		for i := range out[s] {
			out[s][i] = math.NaN()
		}
	}
	for _, g := range crossGroups(syms) {
		n := len(g)
		if n < 2 {
			continue
		}
		slices.SortStableFunc(g, func(a, b member) int {
			ra, rb := syms[a.sym].Ret[a.row], syms[b.sym].Ret[b.row]
			switch {
			case ra < rb:
				return -1
			case ra > rb:
				return 1
			}
			return 0
		})
		k := min(int(math.Ceil(q*float64(n)-1e-9)), n/2)
		for r, m := range g {
			lab := 0.0
			if r < k {
				lab = -1
			} else if r >= n-k {
				lab = 1
			}
			out[m.sym][m.row] = lab
		}
	}
	return out, nil
}

type member struct{ sym, row int }

// crossGroups groups the rows with a return by key, symbols in order.
func crossGroups(syms []CrossSection) [][]member {
	byKey := map[int64][]member{}
	var keys []int64
	for s, c := range syms {
		for i, k := range c.Key {
			if math.IsNaN(c.Ret[i]) {
				continue
			}
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], member{s, i})
		}
	}
	slices.Sort(keys)
	out := make([][]member, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out
}
