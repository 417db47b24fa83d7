package kernels

import "math"

// Rolling Pearson correlation (ddof = 1, which cancels) over the pairs of a
// window where both x and y are non-null; the pair count is what minSamples
// and the "fewer than two" rule see. A pair holding a NaN or ±Inf makes the
// result NaN while it is in the window; a window where x or y is constant
// over its pairs (zero variance) gives NaN.
//
// Numerics as for rolling std (rolling.go): shifted values dx = x - Kx,
// dy = y - Ky, compensated sums of dx, dy, dx*dx, dy*dy, dx*dy, a rebase from
// the ring once the window has been replaced and whenever either variance
// numerator keeps less than 2^-10 of its raw sum. The covariance numerator's
// error is bounded by eps*sqrt(Sxx*Syy) (Cauchy-Schwarz), so the guards on
// both variances also keep the correlation accurate. Unlike Polars' raw
// moments (polars issue 21491) the result cannot leave [-1, 1] by more than
// rounding, and that rounding is clamped.

// NewRollingCorr returns the kernel for rolling_corr(x, y) over a row window
// (rows > 0) or a duration window (dur > 0 nanoseconds). in[0] is x, in[1]
// is y.
func NewRollingCorr(rows int, dur int64, minSamples int) Factory {
	return newPair(pairCorr, rows, dur, minSamples)
}

// pairKind selects what a pair window computes.
type pairKind uint8

const (
	pairCorr pairKind = iota // Pearson correlation of x and y
	pairCov                  // sample covariance (ddof = 1) of x and y
	// The regressions take one series and regress it on the row index
	// (row windows) or on the time in seconds (duration windows): x is
	// then the regressor and y the series.
	regSlope   // least-squares slope
	regRsquare // r^2 of the fit (corr^2)
	regResi    // the current row's residual, y - fitted y
)

func (k pairKind) regression() bool { return k >= regSlope }

// newPair returns the kernel of a pair window. For the regressions in[0]
// is the series; otherwise in[0] is x and in[1] is y.
func newPair(kind pairKind, rows int, dur int64, minSamples int) Factory {
	return driven(rows, dur, !kind.regression(), minSamples, func(w *window) windowAgg {
		return &corrAgg{win: w, kind: kind}
	})
}

type corrAgg struct {
	win  *window
	kind pairKind
	// t0 is the time of the symbol's first row: regressor times are
	// seconds since it, exact in float64 for about 104 days of ns.
	t0      int64
	hasT0   bool
	lastSeq int64 // sequence number of the last row that entered

	kx, ky           float64
	sx, sy, sxx, syy csum
	sxy              csum
	nf               int // finite pairs
	bad              int // pairs with a NaN or an infinity
}

// pair returns the (x, y) of the row in slot s with sequence seq: the two
// values, or for a regression the regressor and the value.
func (c *corrAgg) pair(s int, seq int64) (float64, float64) {
	w := c.win
	if !c.kind.regression() {
		return w.v[s], w.y[s]
	}
	if w.t == nil {
		return float64(seq), w.v[s]
	}
	return float64(w.t[s]-c.t0) / 1e9, w.v[s]
}

func (c *corrAgg) enter(s int, seq int64) {
	if !c.hasT0 && c.win.t != nil {
		c.t0, c.hasT0 = c.win.t[s], true
	}
	c.add(c.pair(s, seq))
	c.lastSeq = seq
}

func (c *corrAgg) leave(s int, seq int64) { c.remove(c.pair(s, seq)) }

func (c *corrAgg) settle() {
	if w := c.win; w.evictions > 0 && w.evictions >= w.n {
		c.rebase()
	}
}

func (c *corrAgg) add(a, b float64) {
	if !isFinite(a) || !isFinite(b) {
		c.bad++
		return
	}
	if c.nf == 0 {
		c.kx, c.ky = a, b
		c.sx, c.sy, c.sxx, c.syy, c.sxy = csum{}, csum{}, csum{}, csum{}, csum{}
	}
	c.nf++
	dx, dy := a-c.kx, b-c.ky
	c.sx.add(dx)
	c.sy.add(dy)
	c.sxx.add(dx * dx)
	c.syy.add(dy * dy)
	c.sxy.add(dx * dy)
}

func (c *corrAgg) remove(a, b float64) {
	if !isFinite(a) || !isFinite(b) {
		c.bad--
		return
	}
	c.nf--
	if c.nf == 0 {
		c.sx, c.sy, c.sxx, c.syy, c.sxy = csum{}, csum{}, csum{}, csum{}, csum{}
		return
	}
	dx, dy := a-c.kx, b-c.ky
	c.sx.add(-dx)
	c.sy.add(-dy)
	c.sxx.add(-(dx * dx))
	c.syy.add(-(dy * dy))
	c.sxy.add(-(dx * dy))
}

func (c *corrAgg) rebase() {
	c.win.evictions = 0
	if c.nf == 0 {
		return
	}
	w := c.win
	var kx0, ky0 float64
	seen := false
	var ax, ay csum
	for j := 0; j < w.n; j++ {
		s := (w.head + j) & w.mask
		a, b := c.pair(s, w.first+int64(j))
		if w.ok[s] && isFinite(a) && isFinite(b) {
			if !seen {
				kx0, ky0, seen = a, b, true
			}
			ax.add(a - kx0)
			ay.add(b - ky0)
		}
	}
	fn := float64(c.nf)
	c.kx, c.ky = kx0+ax.val()/fn, ky0+ay.val()/fn
	c.sx, c.sy, c.sxx, c.syy, c.sxy = csum{}, csum{}, csum{}, csum{}, csum{}
	for j := 0; j < w.n; j++ {
		s := (w.head + j) & w.mask
		a, b := c.pair(s, w.first+int64(j))
		if w.ok[s] && isFinite(a) && isFinite(b) {
			dx, dy := a-c.kx, b-c.ky
			c.sx.add(dx)
			c.sy.add(dy)
			c.sxx.add(dx * dx)
			c.syy.add(dy * dy)
			c.sxy.add(dx * dy)
		}
	}
}

// centred returns the centred sums of squares and cross products.
func (c *corrAgg) centred() (vx, vy, cxy, rawx, rawy float64) {
	fn := float64(c.nf)
	sx, sy := c.sx.val(), c.sy.val()
	rawx, rawy = c.sxx.val(), c.syy.val()
	vx = rawx - sx*sx/fn
	vy = rawy - sy*sy/fn
	cxy = c.sxy.val() - sx*sy/fn
	return
}

func (c *corrAgg) result() (float64, bool) {
	if c.nf+c.bad < 2 {
		return 0, false
	}
	w := c.win
	newest := w.first + int64(w.n) - 1
	if c.kind == regResi && c.lastSeq != newest {
		return 0, false // the current row is null: it has no residual
	}
	if c.bad > 0 {
		return math.NaN(), true
	}
	vx, vy, cxy, rawx, rawy := c.centred()
	if (rawx > 0 && vx < cancelTol*rawx) || (rawy > 0 && vy < cancelTol*rawy) {
		c.rebase()
		vx, vy, cxy, _, _ = c.centred()
	}
	fn := float64(c.nf)
	switch c.kind {
	case pairCov:
		return cxy / (fn - 1), true
	case regSlope:
		if vx <= 0 {
			return math.NaN(), true
		}
		return cxy / vx, true
	case regResi:
		if vx <= 0 {
			return math.NaN(), true
		}
		xl, yl := c.pair((w.head+w.n-1)&w.mask, newest)
		dx := (xl - c.kx) - c.sx.val()/fn
		dy := (yl - c.ky) - c.sy.val()/fn
		return dy - cxy/vx*dx, true
	}
	if vx <= 0 || vy <= 0 {
		return math.NaN(), true
	}
	r := cxy / (math.Sqrt(vx) * math.Sqrt(vy))
	r = max(-1, min(1, r))
	if c.kind == regRsquare {
		return r * r, true
	}
	return r, true
}
