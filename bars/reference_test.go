package bars

import (
	"math"
)

// The references below are plain loops written for the tests, one trade at
// a time over one day's trades with fresh state, keeping whole histories
// in growing slices and recomputing every EWMA from scratch as mlfinpy
// does. They share no code with the kernels.

type refBar struct {
	start, end             int64
	open, high, low, close float64
	volume, dollar, buy    float64
	n                      int64
	complete               bool
}

type refTrade struct {
	t    int64
	p, v float64
	side int8
}

// refEWMA is mlfinpy.util.fast_ewma.ewma(x, span)[-1].
func refEWMA(x []float64, span int) float64 {
	alpha := 2 / (float64(span) + 1)
	w := 1.0
	y := x[0]
	for i := 1; i < len(x); i++ {
		w += math.Pow(1-alpha, float64(i))
		y = y*(1-alpha) + x[i]
	}
	return y / w
}

func lastN(x []float64, n int) []float64 {
	if len(x) > n {
		return x[len(x)-n:]
	}
	return x
}

type refBuilder struct {
	bars []refBar
	cur  *refBar
}

func (r *refBuilder) add(tr refTrade) {
	if r.cur == nil {
		r.cur = &refBar{start: tr.t, open: tr.p, high: tr.p, low: tr.p}
	}
	c := r.cur
	c.end, c.close = tr.t, tr.p
	c.high = math.Max(c.high, tr.p)
	c.low = math.Min(c.low, tr.p)
	c.volume += tr.v
	c.dollar += tr.p * tr.v
	if tr.side == 1 {
		c.buy += tr.v
	}
	c.n++
}

func (r *refBuilder) close(complete bool) {
	if r.cur != nil {
		r.cur.complete = complete
		r.bars = append(r.bars, *r.cur)
		r.cur = nil
	}
}

func refMeasure(k Kind, tr refTrade) float64 {
	switch k.info().measure {
	case measureVolume:
		return tr.v
	case measureDollar:
		return tr.p * tr.v
	}
	return 1
}

// refTickSigns is the tick rule over one day.
func refTickSigns(day []refTrade) []float64 {
	out := make([]float64, len(day))
	prev, sign := math.NaN(), 0.0
	for i, tr := range day {
		if !math.IsNaN(prev) && tr.p != prev {
			sign = math.Copysign(1, tr.p-prev)
		}
		out[i] = sign
		prev = tr.p
	}
	return out
}

func refClamp(spec Spec, e float64) float64 {
	if e < spec.MinExpTicks {
		e = spec.MinExpTicks
	}
	if spec.MaxExpTicks > 0 && e > spec.MaxExpTicks {
		e = spec.MaxExpTicks
	}
	return e
}

// refBars computes spec's bars over trades (time-ordered), day by day;
// end is the first time the data does not cover.
func refBars(spec Spec, trades []refTrade, end int64) []refBar {
	var out []refBar
	for lo := 0; lo < len(trades); {
		d := trades[lo].t / day
		if trades[lo].t < 0 && trades[lo].t%day != 0 {
			d--
		}
		hi := lo
		for hi < len(trades) && trades[hi].t < (d+1)*day {
			hi++
		}
		dayEnd := (d + 1) * day
		if hi == len(trades) {
			dayEnd = min(dayEnd, end)
		}
		out = append(out, refDay(spec, trades[lo:hi], dayEnd)...)
		lo = hi
	}
	return out
}

func refDay(spec Spec, day []refTrade, dataEnd int64) []refBar {
	var r refBuilder
	signs := make([]float64, len(day))
	if spec.Sign == SignTick {
		signs = refTickSigns(day)
	} else {
		for i, tr := range day {
			signs[i] = float64(tr.side)
		}
	}
	switch spec.Kind.info().family {
	case familyTime:
		d := spec.Duration / 1000
		slot := int64(math.MinInt64)
		for _, tr := range day {
			s := int64(math.Floor(float64(tr.t) / float64(d)))
			if s != slot {
				r.close(true)
			}
			slot = s
			r.add(tr)
		}
		if r.cur != nil {
			midnight := (int64(math.Floor(float64(r.cur.start)/float64(86_400_000_000))) + 1) * 86_400_000_000
			r.close(min((slot+1)*d, midnight) <= dataEnd)
		}
	case familyStandard:
		cum := 0.0
		for _, tr := range day {
			r.add(tr)
			cum += refMeasure(spec.Kind, tr)
			if cum >= spec.Threshold {
				r.close(true)
				cum = 0
			}
		}
		r.close(false)
	case familyImbalance:
		var hist, counts []float64
		theta, expT, expImb := 0.0, spec.ExpTicksInit, math.NaN()
		expected := func() float64 {
			if float64(len(hist)) < expT {
				return math.NaN()
			}
			w := min(len(hist), spec.Window)
			return refEWMA(hist[len(hist)-w:], w)
		}
		for i, tr := range day {
			r.add(tr)
			imb := signs[i] * refMeasure(spec.Kind, tr)
			hist = append(hist, imb)
			theta += imb
			if len(r.bars) == 0 && math.IsNaN(expImb) {
				expImb = expected()
			}
			if !math.IsNaN(expImb) && math.Abs(theta) > expT*math.Abs(expImb) {
				counts = append(counts, float64(r.cur.n))
				r.close(true)
				expT = refClamp(spec, refEWMA(lastN(counts, spec.PrevBars), spec.PrevBars))
				expImb = expected()
				theta = 0
			}
		}
		r.close(false)
	case familyRun:
		var buys, sells, counts, props []float64
		thetaB, thetaS, nBuy := 0.0, 0.0, 0.0
		expT, expB, expS, expP := spec.ExpTicksInit, math.NaN(), math.NaN(), math.NaN()
		expected := func(a []float64, warm bool) float64 {
			if warm && float64(len(a)) < expT {
				return math.NaN()
			}
			w := min(len(a), spec.Window)
			return refEWMA(a[len(a)-w:], w)
		}
		pymax := func(a, b float64) float64 {
			if b > a {
				return b
			}
			return a
		}
		for i, tr := range day {
			r.add(tr)
			imb := signs[i] * refMeasure(spec.Kind, tr)
			if imb > 0 {
				buys = append(buys, imb)
				thetaB += imb
				nBuy++
			} else if imb < 0 {
				sells = append(sells, -imb)
				thetaS -= imb
			}
			if len(r.bars) == 0 && (math.IsNaN(expB) || math.IsNaN(expS)) {
				expB, expS = expected(buys, true), expected(sells, true)
				if !math.IsNaN(expB) && !math.IsNaN(expS) {
					expP = nBuy / float64(r.cur.n)
				}
			}
			maxProp := pymax(expB*expP, expS*(1-expP))
			if pymax(thetaB, thetaS) > expT*maxProp && !math.IsNaN(maxProp) {
				counts = append(counts, float64(r.cur.n))
				props = append(props, nBuy/float64(r.cur.n))
				r.close(true)
				expT = refClamp(spec, refEWMA(lastN(counts, spec.PrevBars), spec.PrevBars))
				expP = refEWMA(lastN(props, spec.PrevBars), spec.PrevBars)
				expB, expS = expected(buys, false), expected(sells, false)
				thetaB, thetaS, nBuy = 0, 0, 0
			}
		}
		r.close(false)
	}
	return r.bars
}
