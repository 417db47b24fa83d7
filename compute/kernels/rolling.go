package kernels

import (
	"fmt"
	"math"

	"github.com/featuredag/fdag/formula"
)

// Rolling windows over one symbol.
//
// Window membership. A row window ending at row i holds the last `rows` rows
// including i; null rows occupy slots but are not counted. A duration window
// holds the rows j <= i of the symbol with t_j in (t_i - dur, t_i]: rows after
// i that share its timestamp are never seen (no look-ahead; Polars'
// rolling_*_by would include them, see DESIGN.md). The output is null unless
// the window holds at least minSamples non-null values (minSamples < 1 counts
// as 1). Every kernel keeps the window's rows in a ring buffer (window, below)
// and processes row by row: evict what leaves, push the new row, read the
// aggregate. No decision depends on where a chunk starts or ends, so any
// chunking gives bit-identical output.
//
// NaN and ±Inf are values, counted apart from the finite ones as Polars does:
// any NaN in the window makes sum, mean, std, min and max NaN; +Inf and -Inf
// together make sum and mean NaN, one of them alone makes them ±Inf; any
// infinity makes std NaN.
//
// Numerics of sum, mean and std (and corr, rolling_corr.go). The textbook
// running sums of x and x*x lose every digit for prices near 1e5 moving by
// 1e-6: x*x ~ 1e10 while the variance is ~1e-12, so the subtraction
// S2 - S1^2/n cancels 22 digits of a 16-digit number (pandas and Polars both
// shipped negative-variance bugs of this kind). Instead:
//
//  1. Shift (std). Accumulate d = x - K for a reference K taken from the window.
//     For prices, x - K is exact (Sterbenz) and d*d is ~1e-12, so the sums
//     carry the information and not the offset.
//  2. Compensate. S1 = sum d and S2 = sum d*d are kept as two-term
//     (TwoSum) compensated sums, and a removal subtracts exactly the d that
//     was added (K only changes at a rebase), so add/remove round-off stays
//     at the level of one rounding of the total rather than growing with
//     the number of updates.
//  3. Rebase. Once the window has been fully replaced since the last rebase
//     (rows evicted >= rows in the window), S1 and S2 are recomputed from the
//     ring with a fresh K = the window mean (two passes: a first mean about
//     the first finite value, then the sums about it). The error therefore
//     never accumulates beyond about two windows' worth of updates, K stays
//     close to the data, and the cost is amortised O(1) per row: a rebase
//     over n rows is paid for by the n evictions before it. When the
//     window's finite count drops to 0 the sums are reset to exact zeros and
//     K becomes the next value, so a constant window has S1 = S2 = 0 and
//     std exactly 0 (corr NaN).
//  4. Guard against cancellation. var = (S2 - S1^2/n)/(n-1). Its relative
//     error is about 3*eps/r with r = (S2 - S1^2/n)/S2, the share of S2 that
//     survives the subtraction; r is near 1 when K is near the mean. If the
//     mean has drifted far from K within one window (a level shift, a stale
//     price after a jump) r falls; below 2^-10 the kernel rebases on the
//     spot, so std keeps ~1e-12 relative accuracy (tests require 1e-9
//     against a big.Float two-pass reference). A rebased window has r ~ 1,
//     so this cannot fire row after row. A tiny negative numerator left after
//     that is clamped to 0.
//
// Sum and mean do not shift (K = 0): a compensated sum of the raw values
// captures every addition's rounding error exactly, so S1 stays within about
// an ulp of the exact window sum (shifting would add the rounding of x - K).
// They still rebase, which drops the residue a huge value leaves in the
// compensation term after it has left the window. Sum is returned as
// n*K + S1 with n*K split exactly by FMA, mean as K + S1/n.

// Agg selects a rolling aggregate.
type Agg uint8

// Rolling aggregates. AggStd is the sample standard deviation (ddof = 1).
const (
	AggSum Agg = iota
	AggMean
	AggStd
	AggMin
	AggMax
	AggVar  // sample variance (ddof = 1)
	AggSkew // sample skewness, bias-corrected (pandas' skew; Polars bias=False)
	AggKurt // sample excess kurtosis, bias-corrected (pandas' kurt; Polars fisher=True, bias=False)
)

// cancelTol is the r below which a variance is recomputed (see above).
const cancelTol = 1.0 / 1024

// NewRolling returns the kernel for rolling_<agg>(x) over a row window
// (rows > 0) or a duration window (dur > 0 nanoseconds); exactly one of them
// is positive. in[0] is x; t is required for duration windows.
func NewRolling(agg Agg, rows int, dur int64, minSamples int) Factory {
	checkWindow(rows, dur)
	minSamples = max(minSamples, 1)
	switch agg {
	case AggSum, AggMean, AggStd, AggVar, AggSkew, AggKurt:
		return driven(rows, dur, false, minSamples, func(w *window) windowAgg {
			return &momentsAgg{win: w, agg: agg}
		})
	case AggMin, AggMax:
		return driven(rows, dur, false, minSamples, func(w *window) windowAgg {
			return &minMaxAgg{win: w, isMax: agg == AggMax, dq: newDeque(len(w.v))}
		})
	}
	panic("kernels: unknown rolling aggregate")
}

func checkWindow(rows int, dur int64) {
	if (rows > 0) == (dur > 0) || rows < 0 || dur < 0 {
		panic("kernels: exactly one of rows and dur must be positive")
	}
}

// window is the ring buffer of the rows currently in a window. Its capacity
// is a power of two, at most 64 to start with and doubling when full, so it
// grows with the rows actually seen and never with the parameter: a
// rolling_mean(x, 3000000000) over a thousand rows holds a thousand slots,
// not three billion (issue 8: the up-front ring for the requested window
// ended the server with "out of memory"). A row window stops growing at
// `rows` rounded up; Step allocates nothing once the largest window has
// been seen.
type window struct {
	rows  int
	dur   int64
	v, y  []float64 // values; y only for pair kernels (corr)
	ok    []bool    // row is non-null (both values for pairs)
	t     []int64   // only for duration windows
	mask  int
	head  int   // slot of the oldest row
	n     int   // rows in the window, nulls included
	first int64 // sequence number of the oldest row
	// evictions counts the rows popped since an aggregate last reset it
	// (the moments' rebase schedule).
	evictions int
}

// initialRing is the starting capacity of windows, deques and lag lines.
const initialRing = 64

func newWindow(rows int, dur int64, pair bool) window {
	c := initialRing
	if rows > 0 {
		c = 1
		for c < rows && c < initialRing {
			c <<= 1
		}
	}
	w := window{rows: rows, dur: dur, v: make([]float64, c), ok: make([]bool, c), mask: c - 1}
	if pair {
		w.y = make([]float64, c)
	}
	if dur > 0 {
		w.t = make([]int64, c)
	}
	return w
}

// bytes is the memory the ring holds (its capacity, not its rows).
func (w *window) bytes() int64 {
	return 8*int64(cap(w.v)+cap(w.y)+cap(w.t)) + int64(cap(w.ok))
}

// leaves reports whether the oldest row must go before the row at time ti
// is pushed.
func (w *window) leaves(ti int64) bool {
	if w.n == 0 {
		return false
	}
	if w.rows > 0 {
		return w.n >= w.rows
	}
	return w.t[w.head] <= ti-w.dur
}

// pop removes the oldest row and returns its slot.
func (w *window) pop() int {
	s := w.head
	w.head = (w.head + 1) & w.mask
	w.n--
	w.first++
	w.evictions++
	return s
}

// push appends a row and returns its slot.
func (w *window) push(ti int64) int {
	if w.n == len(w.v) {
		w.grow()
	}
	s := (w.head + w.n) & w.mask
	if w.t != nil {
		w.t[s] = ti
	}
	w.n++
	return s
}

func (w *window) grow() {
	c := 2 * len(w.v)
	unroll := func(f []float64) []float64 {
		if f == nil {
			return nil
		}
		g := make([]float64, c)
		k := copy(g, f[w.head:])
		copy(g[k:], f[:w.head])
		return g
	}
	w.v, w.y = unroll(w.v), unroll(w.y)
	ok := make([]bool, c)
	k := copy(ok, w.ok[w.head:])
	copy(ok[k:], w.ok[:w.head])
	w.ok = ok
	if w.t != nil {
		t := make([]int64, c)
		k := copy(t, w.t[w.head:])
		copy(t[k:], w.t[:w.head])
		w.t = t
	}
	w.head, w.mask = 0, c-1
}

// timeAt returns t[i] for duration windows (t may be nil for row windows).
func timeAt(t []int64, i int) int64 {
	if t == nil {
		return 0
	}
	return t[i]
}

// csum is a compensated sum: the value is s + c (TwoSum, branch-free).
type csum struct{ s, c float64 }

func (a *csum) add(v float64) {
	s := a.s + v
	bb := s - a.s
	a.c += (a.s - (s - bb)) + (v - bb)
	a.s = s
}

func (a *csum) val() float64 { return a.s + a.c }

// isFinite reports whether x is neither NaN nor ±Inf.
func isFinite(x float64) bool { return x-x == 0 }

// momentsAgg computes rolling sum, mean, std, var, skew and kurt.
type momentsAgg struct {
	win *window
	agg Agg

	k      float64 // shift K
	s1, s2 csum    // sum of d and d*d, d = x - K, over finite values
	s3, s4 csum    // sum of d^3 and d^4 (skew and kurt only)
	nf     int     // finite values in the window
	specials
}

// specials counts the NaNs and infinities of a window, which the moment
// sums leave out.
type specials struct {
	nan        int // NaNs in the window
	pinf, ninf int // +Inf and -Inf in the window
}

// count adds by (+1 or -1) for the non-finite value v.
func (c *specials) count(v float64, by int) {
	switch {
	case v != v:
		c.nan += by
	case v > 0:
		c.pinf += by
	default:
		c.ninf += by
	}
}

func (c *specials) any() bool { return c.nan+c.pinf+c.ninf > 0 }

// sumRule is the sum or mean of a window holding specials (positive
// weights): NaN for a NaN or both infinities, else the infinity; ok is
// false when there are none.
func (c *specials) sumRule() (v float64, ok bool) {
	switch {
	case c.nan > 0 || (c.pinf > 0 && c.ninf > 0):
		return math.NaN(), true
	case c.pinf > 0:
		return math.Inf(1), true
	case c.ninf > 0:
		return math.Inf(-1), true
	}
	return 0, false
}

// finiteMean is the mean of the window's nf > 0 finite non-null values, in
// two passes (about the first of them, then the mean of the differences),
// so it keeps the digits of prices near 1e5: the K of a rebase.
func (w *window) finiteMean(nf int) float64 {
	k0, seen := 0.0, false
	var a csum
	for j := 0; j < w.n; j++ {
		s := (w.head + j) & w.mask
		if v := w.v[s]; w.ok[s] && isFinite(v) {
			if !seen {
				k0, seen = v, true
			}
			a.add(v - k0)
		}
	}
	return k0 + a.val()/float64(nf)
}

func (m *momentsAgg) enter(s int, _ int64) { m.add(m.win.v[s], m.squares()) }
func (m *momentsAgg) leave(s int, _ int64) { m.remove(m.win.v[s], m.squares()) }

// squares reports whether the aggregate needs the sum of squares (and so
// the shift K).
func (m *momentsAgg) squares() bool { return m.agg != AggSum && m.agg != AggMean }

// higher reports whether the aggregate needs the third and fourth powers.
func (m *momentsAgg) higher() bool { return m.agg == AggSkew || m.agg == AggKurt }

// resetSums sets every sum to an exact zero.
func (m *momentsAgg) resetSums() { m.s1, m.s2, m.s3, m.s4 = csum{}, csum{}, csum{}, csum{} }

// addPowers adds sign*d to S1 and, as needed, sign*d^p to the others.
func (m *momentsAgg) addPowers(d, sign float64, sq bool) {
	m.s1.add(sign * d)
	if !sq {
		return
	}
	d2 := d * d
	m.s2.add(sign * d2)
	if m.higher() {
		m.s3.add(sign * d2 * d)
		m.s4.add(sign * d2 * d2)
	}
}

// settle rebases once the window has been fully replaced since the last
// rebase (see the file comment).
func (m *momentsAgg) settle() {
	if w := m.win; w.evictions > 0 && w.evictions >= w.n {
		m.rebase(m.squares())
	}
}

func (m *momentsAgg) add(v float64, sq bool) {
	if !isFinite(v) {
		m.count(v, 1)
		return
	}
	if m.nf == 0 {
		m.resetSums()
		if sq {
			m.k = v
		}
	}
	m.nf++
	m.addPowers(v-m.k, 1, sq)
}

func (m *momentsAgg) remove(v float64, sq bool) {
	if !isFinite(v) {
		m.count(v, -1)
		return
	}
	m.nf--
	if m.nf == 0 {
		m.resetSums()
		return
	}
	m.addPowers(v-m.k, -1, sq)
}

// rebase recomputes K, S1 and S2 from the ring (see the file comment).
func (m *momentsAgg) rebase(sq bool) {
	m.win.evictions = 0
	if m.nf == 0 {
		return
	}
	w := m.win
	m.k = 0
	if sq {
		m.k = w.finiteMean(m.nf)
	}
	m.resetSums()
	for j := 0; j < w.n; j++ {
		s := (w.head + j) & w.mask
		if v := w.v[s]; w.ok[s] && isFinite(v) {
			m.addPowers(v-m.k, 1, sq)
		}
	}
}

func (m *momentsAgg) result() (float64, bool) {
	// The driver has checked min_samples against the non-null count.
	cnt := m.nf + m.nan + m.pinf + m.ninf
	switch m.agg {
	case AggSum, AggMean:
		if v, ok := m.sumRule(); ok {
			return v, true
		}
		fn := float64(m.nf)
		if m.agg == AggMean {
			return m.k + m.s1.val()/fn, true
		}
		p := fn * m.k
		pe := math.FMA(fn, m.k, -p)
		return p + (pe + m.s1.val()), true
	}
	// AggStd, AggVar, AggSkew, AggKurt: null below 2, 3 and 4 values.
	if cnt < m.fewest() {
		return 0, false
	}
	if m.any() {
		return math.NaN(), true
	}
	switch m.agg {
	case AggVar:
		return m.variance(), true
	case AggSkew, AggKurt:
		return m.shape(), true
	}
	return math.Sqrt(m.variance()), true
}

// fewest is the number of values below which std/var, skew and kurt are
// null.
func (m *momentsAgg) fewest() int {
	switch m.agg {
	case AggSkew:
		return 3
	case AggKurt:
		return 4
	}
	return 2
}

// skewTol is the share of S2 that must survive the centring for skew and
// kurt: below it (the window's mean more than about 4 standard deviations
// from K) the sums are rebased. The fourth moment centres four terms of
// size up to mu^4, so its relative error grows as (mu/sigma)^4 * eps; this
// bound keeps that under about 250 eps (6e-14). A tighter bound rebased
// every few rows of a trending series at w = 20. A rebased window has
// mu ~ 0, so the guard cannot fire row after row.
const skewTol = 1.0 / 16

// shape returns the bias-corrected sample skewness G1 or excess kurtosis
// G2 of the nf >= 3 (4) finite values, from the central moments
// m_p = sum (x - mean)^p / n:
//
//	G1 = sqrt(n (n-1)) / (n-2) * m3 / m2^1.5
//	G2 = (n-1) / ((n-2) (n-3)) * ((n+1) m4 / m2^2 - 3 (n-1))
//
// as pandas' rolling skew/kurt and Polars' with bias=False. A window of
// equal values (m2 = 0) gives NaN (pandas returns 0 and -3 there).
func (m *momentsAgg) shape() float64 {
	fn := float64(m.nf)
	s2 := m.s2.val()
	if s2 > 0 && s2-m.s1.val()*m.s1.val()/fn < skewTol*s2 {
		m.rebase(true)
	}
	mu := m.s1.val() / fn
	p2, p3, p4 := m.s2.val()/fn, m.s3.val()/fn, m.s4.val()/fn
	mu2 := mu * mu
	m2 := p2 - mu2
	if !(m2 > 0) {
		return math.NaN()
	}
	if m.agg == AggSkew {
		m3 := p3 - 3*mu*p2 + 2*mu2*mu
		return math.Sqrt(fn*(fn-1)) / (fn - 2) * m3 / (m2 * math.Sqrt(m2))
	}
	m4 := p4 - 4*mu*p3 + 6*mu2*p2 - 3*mu2*mu2
	return (fn - 1) / ((fn - 2) * (fn - 3)) * ((fn+1)*m4/(m2*m2) - 3*(fn-1))
}

// variance returns the sample variance of the nf >= 2 finite values.
func (m *momentsAgg) variance() float64 {
	fn := float64(m.nf)
	s1, s2 := m.s1.val(), m.s2.val()
	num := s2 - s1*s1/fn
	if s2 > 0 && num < cancelTol*s2 {
		m.rebase(true)
		s1, s2 = m.s1.val(), m.s2.val()
		num = s2 - s1*s1/fn
	}
	return max(num, 0) / (fn - 1)
}

// RegisterRolling adds the rolling window kernels.
func RegisterRolling(r *Registry) {
	for name, agg := range map[string]Agg{"rolling_sum": AggSum, "rolling_mean": AggMean, "rolling_std": AggStd,
		"rolling_var": AggVar, "rolling_min": AggMin, "rolling_max": AggMax, "rolling_skew": AggSkew, "rolling_kurt": AggKurt} {
		r.Add(name, windowed(func(p formula.Params) Factory {
			return NewRolling(agg, p.Window.Rows, p.Window.Dur, p.MinSamples)
		}))
	}
	for name, kind := range map[string]pairKind{"rolling_corr": pairCorr, "rolling_cov": pairCov} {
		r.Add(name, windowed(func(p formula.Params) Factory {
			return newPair(kind, p.Window.Rows, p.Window.Dur, p.MinSamples)
		}))
	}
	for name, kind := range map[string]pairKind{"rolling_slope": regSlope, "rolling_rsquare": regRsquare, "rolling_resi": regResi} {
		r.Add(name, windowed(func(p formula.Params) Factory {
			return newPair(kind, p.Window.Rows, p.Window.Dur, p.MinSamples)
		}))
	}
	for name, isMax := range map[string]bool{"rolling_argmax": true, "rolling_argmin": false} {
		r.Add(name, windowed(func(p formula.Params) Factory {
			return NewRollingArgExtreme(isMax, p.Window.Rows, p.Window.Dur, p.MinSamples)
		}))
	}
	r.Add("rolling_median", windowed(func(p formula.Params) Factory {
		return NewRollingQuantile(0.5, p.Window.Rows, p.Window.Dur, p.MinSamples)
	}))
	quantile := windowed(func(p formula.Params) Factory {
		return NewRollingQuantile(p.Q, p.Window.Rows, p.Window.Dur, p.MinSamples)
	})
	r.Add("rolling_quantile", func(p formula.Params) (Factory, error) {
		// The checker bounds q; a q outside [0, 1] would index outside
		// the window (TestBuildersNeverPanic).
		if !(p.Q >= 0 && p.Q <= 1) {
			return nil, fmt.Errorf("rolling_quantile: q must be in [0, 1], got %v", p.Q)
		}
		return quantile(p)
	})
	r.Add("rolling_rank", windowed(func(p formula.Params) Factory {
		return NewRollingRank(p.Window.Rows, p.Window.Dur, p.MinSamples)
	}))
	r.Add("rolling_wma", windowed(func(p formula.Params) Factory {
		return NewRollingWMA(p.Window.Rows, p.Window.Dur, p.MinSamples)
	}))
	r.Add("rolling_count", windowed(func(p formula.Params) Factory {
		return NewRollingCount(p.Window.Rows, p.Window.Dur)
	}))
}
