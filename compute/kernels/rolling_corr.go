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
	checkWindow(rows, dur)
	minSamples = max(minSamples, 1)
	return driven(rows, dur, true, minSamples, func(w *window) windowAgg { return &corrAgg{win: w} })
}

type corrAgg struct {
	win *window

	kx, ky           float64
	sx, sy, sxx, syy csum
	sxy              csum
	nf               int // finite pairs
	bad              int // pairs with a NaN or an infinity
}

func (c *corrAgg) enter(s int, _ int64) { c.add(c.win.v[s], c.win.y[s]) }
func (c *corrAgg) leave(s int, _ int64) { c.remove(c.win.v[s], c.win.y[s]) }

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
		a, b := w.v[s], w.y[s]
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
		a, b := w.v[s], w.y[s]
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
	if c.bad > 0 {
		return math.NaN(), true
	}
	vx, vy, cxy, rawx, rawy := c.centred()
	if (rawx > 0 && vx < cancelTol*rawx) || (rawy > 0 && vy < cancelTol*rawy) {
		c.rebase()
		vx, vy, cxy, _, _ = c.centred()
	}
	if vx <= 0 || vy <= 0 {
		return math.NaN(), true
	}
	r := cxy / (math.Sqrt(vx) * math.Sqrt(vy))
	return max(-1, min(1, r)), true
}
