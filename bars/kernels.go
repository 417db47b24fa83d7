package bars

import (
	"math"
	"sync"
)

// batch is one day's slice of decoded trades that every kernel scans.
type batch struct {
	t         []int64   // microseconds since the epoch, UTC
	p, v, dv  []float64 // price, size, price*size
	side      []int8    // taker side: +1 buy, -1 sell, 0 unknown
	tick      []int8    // AFML tick rule sign (only when a kind asks for it)
	dayEndExc int64     // first microsecond of the next UTC day
}

// kernel is one bar kind's state machine. scan sees trades of one UTC day
// in time order; endDay closes the open bar when the day (or the data,
// with end the first time not covered) is over and resets the state.
type kernel interface {
	scan(b *batch, out *barCols)
	endDay(out *barCols, end int64)
}

func newKernel(s Spec) kernel {
	info := s.Kind.info()
	switch info.family {
	case familyTime:
		return &timeKernel{d: s.Duration / 1000}
	case familyStandard:
		return &standardKernel{m: info.measure, threshold: s.Threshold}
	case familyImbalance:
		k := &imbalanceKernel{spec: s, m: info.measure}
		k.reset()
		return k
	default:
		k := &runKernel{spec: s, m: info.measure}
		k.reset()
		return k
	}
}

func (m measure) of(b *batch, i int) float64 {
	switch m {
	case measureVolume:
		return b.v[i]
	case measureDollar:
		return b.dv[i]
	}
	return 1
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// timeKernel: bars over [k*d, (k+1)*d) on the epoch grid.
type timeKernel struct {
	d    int64
	k    int64
	open acc
}

func (k *timeKernel) scan(b *batch, out *barCols) {
	for i, t := range b.t {
		slot := floorDiv(t, k.d)
		if k.open.n > 0 && slot != k.k {
			out.emit(&k.open, true)
		}
		k.k = slot
		k.open.add(t, b.p[i], b.v[i], b.dv[i], b.side[i])
	}
}

func (k *timeKernel) endDay(out *barCols, end int64) {
	if k.open.n > 0 {
		dayEnd := (floorDiv(k.open.start, day) + 1) * day
		out.emit(&k.open, min((k.k+1)*k.d, dayEnd) <= end)
	}
}

// standardKernel: tick, volume and dollar bars. A bar closes on the trade
// at which its running measure reaches the threshold, that trade included.
type standardKernel struct {
	m         measure
	threshold float64
	cum       float64
	open      acc
}

func (k *standardKernel) scan(b *batch, out *barCols) {
	for i, t := range b.t {
		k.open.add(t, b.p[i], b.v[i], b.dv[i], b.side[i])
		k.cum += k.m.of(b, i)
		if k.cum >= k.threshold {
			out.emit(&k.open, true)
			k.cum = 0
		}
	}
}

func (k *standardKernel) endDay(out *barCols, _ int64) {
	if k.open.n > 0 {
		out.emit(&k.open, false)
	}
	k.cum = 0
}

// ring keeps the last size values pushed and how many were pushed.
type ring struct {
	buf   []float64
	size  int
	total int
	// the EWMA denominator for (q, k), cached: once PrevBars bars are
	// seen every bar asks for the same one.
	wq float64
	wk int
	w  float64
}

func newRing(size int) ring { return ring{size: size} }

func (r *ring) push(x float64) {
	if len(r.buf) < r.size {
		r.buf = append(r.buf, x)
	} else {
		r.buf[r.total%r.size] = x
	}
	r.total++
}

func (r *ring) reset() { r.buf, r.total = r.buf[:0], 0 }

// ewma is mlfinpy's util.fast_ewma.ewma(last k values, span)[-1]: the mean
// of the last k values (k = min(pushed, kmax)) weighted (1-a)^age with
// a = 2/(span+1), summed in the same order. Used for the short histories
// of bars (PrevBars); the long trade histories use window.
func (r *ring) ewma(kmax, span int) float64 {
	k := min(r.total, kmax, len(r.buf))
	if k == 0 {
		return math.NaN()
	}
	if span == 0 {
		span = k
	}
	q := 1 - 2/(float64(span)+1)
	if q != r.wq || k != r.wk || r.w == 0 {
		w := 1.0
		for i := 1; i < k; i++ {
			w += math.Pow(q, float64(i))
		}
		r.wq, r.wk, r.w = q, k, w
	}
	return r.numerator(k, q) / r.w
}

// spanWeights caches mlfinpy's EWMA denominator for span = k values,
// sum of (1-2/(k+1))^i for i < k, summed term by term as mlfinpy does
// (the closed form differs in the last bits, and those decide ties such
// as a tick run of exactly E[T]*P). Shared by every kernel: it depends on
// k alone, and an imbalance window asks for every k up to Window while it
// fills each day.
//
// Up to exactSpans the sum is mlfinpy's; beyond, where a tie on the last
// bit is improbable and the term-by-term sums of every k would cost
// O(Window^2) Pow calls, the closed form (1-q^k)/(1-q).
var spanWeights struct {
	sync.Mutex
	w map[int]float64
}

const exactSpans = 2048

func spanWeight(k int) float64 {
	spanWeights.Lock()
	defer spanWeights.Unlock()
	if w, ok := spanWeights.w[k]; ok {
		return w
	}
	if spanWeights.w == nil {
		spanWeights.w = map[int]float64{}
	}
	q := 1 - 2/(float64(k)+1)
	w := 1.0
	if k <= exactSpans {
		for i := 1; i < k; i++ {
			w += math.Pow(q, float64(i))
		}
	} else {
		w = (1 - math.Pow(q, float64(k))) / (1 - q)
	}
	spanWeights.w[k] = w
	return w
}

// window is the expected imbalance of the information-driven bars:
// mlfinpy's ewma(last min(n, size) values, span = min(n, size))[-1].
// While the window fills (n < size) the span changes with n and the value
// is summed afresh, O(n); once it is full the numerator is updated per
// push in O(1), S = q*S + x_new - q^size*x_dropped, and summed afresh every
// size pushes so rounding cannot build up.
type window struct {
	r        ring
	q, qSize float64
	s        float64
	since    int
}

func newWindow(size int) window {
	q := 1 - 2/(float64(size)+1)
	return window{r: newRing(size), q: q, qSize: math.Pow(q, float64(size))}
}

func (w *window) reset() { w.r.reset(); w.s, w.since = 0, 0 }

func (w *window) push(x float64) {
	r := &w.r
	full := len(r.buf) == r.size
	var dropped float64
	if full {
		dropped = r.buf[r.total%r.size]
	}
	r.push(x)
	switch {
	case r.total < r.size:
	case !full || w.since >= r.size:
		w.s, w.since = r.numerator(r.size, w.q), 0
	default:
		w.s = w.s*w.q + x - w.qSize*dropped
		w.since++
	}
}

func (w *window) total() int { return w.r.total }

func (w *window) value() float64 {
	r := &w.r
	if r.total == 0 {
		return math.NaN()
	}
	if r.total < r.size {
		k := r.total
		return r.numerator(k, 1-2/(float64(k)+1)) / spanWeight(k)
	}
	return w.s / spanWeight(r.size)
}

// numerator is the EWMA numerator over the last k values, oldest first.
func (r *ring) numerator(k int, q float64) float64 {
	first := (r.total - k) % r.size
	var head, tail []float64
	if first+k <= len(r.buf) {
		head = r.buf[first : first+k]
	} else {
		head, tail = r.buf[first:], r.buf[:k-(len(r.buf)-first)]
	}
	y := head[0]
	for _, x := range head[1:] {
		y = y*q + x
	}
	for _, x := range tail {
		y = y*q + x
	}
	return y
}

// pyMax is Python's max(a, b): a unless b > a (so a NaN a wins).
func pyMax(a, b float64) float64 {
	if b > a {
		return b
	}
	return a
}

func clampTicks(s Spec, e float64) float64 {
	e = math.Max(e, s.MinExpTicks)
	if s.MaxExpTicks > 0 {
		e = math.Min(e, s.MaxExpTicks)
	}
	return e
}

func (s Spec) sign(b *batch, i int) float64 {
	if s.Sign == SignTick {
		return float64(b.tick[i])
	}
	return float64(b.side[i])
}

// imbalanceKernel: AFML 2.3.2.1-2 with mlfinpy's EMA updates. A bar closes
// when |theta| > E[T]*|E[imbalance]|, theta the running sum of
// sign*measure; the first expectation of a day waits for ExpTicksInit
// trades.
type imbalanceKernel struct {
	spec    Spec
	m       measure
	theta   float64
	expImb  float64
	expT    float64
	hist    window // signed measures of the day's trades
	counts  ring   // trade counts of the day's bars
	haveBar bool
	open    acc
}

func (k *imbalanceKernel) reset() {
	k.theta, k.expImb, k.expT, k.haveBar = 0, math.NaN(), k.spec.ExpTicksInit, false
	if k.counts.size == 0 {
		k.hist, k.counts = newWindow(k.spec.Window), newRing(k.spec.PrevBars)
	}
	k.hist.reset()
	k.counts.reset()
	k.open = acc{}
}

func (k *imbalanceKernel) expected() float64 {
	if float64(k.hist.total()) < k.expT {
		return math.NaN()
	}
	return k.hist.value()
}

func (k *imbalanceKernel) scan(b *batch, out *barCols) {
	for i, t := range b.t {
		k.open.add(t, b.p[i], b.v[i], b.dv[i], b.side[i])
		imb := k.spec.sign(b, i) * k.m.of(b, i)
		k.hist.push(imb)
		k.theta += imb
		if !k.haveBar && math.IsNaN(k.expImb) {
			k.expImb = k.expected()
		}
		if !math.IsNaN(k.expImb) && math.Abs(k.theta) > k.expT*math.Abs(k.expImb) {
			k.counts.push(float64(k.open.n))
			out.emit(&k.open, true)
			k.haveBar = true
			k.expT = clampTicks(k.spec, k.counts.ewma(k.spec.PrevBars, k.spec.PrevBars))
			k.expImb = k.expected()
			k.theta = 0
		}
	}
}

func (k *imbalanceKernel) endDay(out *barCols, _ int64) {
	if k.open.n > 0 {
		out.emit(&k.open, false)
	}
	k.reset()
}

// runKernel: AFML 2.3.2.3-4 with mlfinpy's EMA updates. A bar closes when
// max(theta_buy, theta_sell) > E[T]*max(P*E[buy], (1-P)*E[sell]), the
// thetas summing the measure of the bar's buy and sell trades separately,
// P the expected share of buy trades.
type runKernel struct {
	spec                  Spec
	m                     measure
	thetaBuy, thetaSell   float64
	buyTicks              int64
	expBuy, expSell, expP float64
	expT                  float64
	buys, sells           window
	counts, props         ring
	haveBar               bool
	open                  acc
}

func (k *runKernel) reset() {
	k.thetaBuy, k.thetaSell, k.buyTicks = 0, 0, 0
	k.expBuy, k.expSell, k.expP, k.expT = math.NaN(), math.NaN(), math.NaN(), k.spec.ExpTicksInit
	k.haveBar = false
	if k.counts.size == 0 {
		k.buys, k.sells = newWindow(k.spec.Window), newWindow(k.spec.Window)
		k.counts, k.props = newRing(k.spec.PrevBars), newRing(k.spec.PrevBars)
	}
	k.buys.reset()
	k.sells.reset()
	k.counts.reset()
	k.props.reset()
	k.open = acc{}
}

func (k *runKernel) scan(b *batch, out *barCols) {
	for i, t := range b.t {
		k.open.add(t, b.p[i], b.v[i], b.dv[i], b.side[i])
		imb := k.spec.sign(b, i) * k.m.of(b, i)
		if imb > 0 {
			k.buys.push(imb)
			k.thetaBuy += imb
			k.buyTicks++
		} else if imb < 0 {
			k.sells.push(-imb)
			k.thetaSell += -imb
		}
		if !k.haveBar && (math.IsNaN(k.expBuy) || math.IsNaN(k.expSell)) &&
			float64(k.buys.total()) >= k.expT && float64(k.sells.total()) >= k.expT {
			// mlfinpy recomputes both during warm-up at every trade; only
			// the values at the first trade where both are defined are used.
			k.expBuy = k.buys.value()
			k.expSell = k.sells.value()
			k.expP = float64(k.buyTicks) / float64(k.open.n)
		}
		maxProp := pyMax(k.expBuy*k.expP, k.expSell*(1-k.expP))
		if !math.IsNaN(maxProp) && pyMax(k.thetaBuy, k.thetaSell) > k.expT*maxProp {
			k.counts.push(float64(k.open.n))
			k.props.push(float64(k.buyTicks) / float64(k.open.n))
			out.emit(&k.open, true)
			k.haveBar = true
			k.expT = clampTicks(k.spec, k.counts.ewma(k.spec.PrevBars, k.spec.PrevBars))
			k.expP = k.props.ewma(k.spec.PrevBars, k.spec.PrevBars)
			k.expBuy = k.buys.value()
			k.expSell = k.sells.value()
			k.thetaBuy, k.thetaSell, k.buyTicks = 0, 0, 0
		}
	}
}

func (k *runKernel) endDay(out *barCols, _ int64) {
	if k.open.n > 0 {
		out.emit(&k.open, false)
	}
	k.reset()
}
