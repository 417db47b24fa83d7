package kernels

// Rolling linearly weighted mean, O(1) amortised per row. The rows of the
// window, nulls included, are weighted 1, 2, ..., n from the oldest to the
// current one (Qlib's WMA weights, np.arange(n) + 1; for a full row
// window 1..w); null rows are left out of both the weighted sum and the sum
// of weights, so they neither count nor shift the others' weights. For a
// duration window the weights follow the rows' order in the window, not
// their times. NaN and infinities as for the mean: a NaN, or +Inf with
// -Inf, gives NaN; one infinity alone gives it (the weights are positive).
//
// Numerics as rolling_mean's, plus the weights: with the shift K (rebased
// to the window mean) and d = x - K, the kernel keeps compensated sums
// S = sum d and W = sum (seq - b) d over the finite rows, and the integer
// sum of (seq - b), where seq is the row's sequence number and b a base
// set at the last rebase. A row's weight is seq - first + 1 with first
// the oldest row's sequence, so the weighted sum is W - (first - 1 - b) S
// and the sum of weights is exact. Rebasing once the window has been
// replaced keeps seq - b below two windows and K near the data, so
// neither the weights nor the offset of prices near 1e5 cost digits.

// NewRollingWMA returns the kernel of rolling_wma(x, w).
func NewRollingWMA(rows int, dur int64, minSamples int) Factory {
	return driven(rows, dur, false, minSamples, func(w *window) windowAgg {
		return &wmaAgg{win: w}
	})
}

type wmaAgg struct {
	win *window

	k     float64 // shift K
	b     int64   // base sequence number of the weights
	s, ws csum    // sum d, sum (seq - b) d over finite rows
	wsum  int64   // sum (seq - b) over finite rows
	nf    int     // finite rows
	specials
}

func (a *wmaAgg) enter(s int, seq int64) {
	v := a.win.v[s]
	if !isFinite(v) {
		a.count(v, 1)
		return
	}
	if a.nf == 0 {
		a.k, a.b = v, seq
		a.s, a.ws, a.wsum = csum{}, csum{}, 0
	}
	a.nf++
	d, r := v-a.k, seq-a.b
	a.s.add(d)
	a.ws.add(float64(r) * d)
	a.wsum += r
}

func (a *wmaAgg) leave(s int, seq int64) {
	v := a.win.v[s]
	if !isFinite(v) {
		a.count(v, -1)
		return
	}
	a.nf--
	if a.nf == 0 {
		a.s, a.ws, a.wsum = csum{}, csum{}, 0
		return
	}
	d, r := v-a.k, seq-a.b
	a.s.add(-d)
	a.ws.add(-(float64(r) * d))
	a.wsum -= r
}

func (a *wmaAgg) settle() {
	if w := a.win; w.evictions > 0 && w.evictions >= w.n {
		a.rebase()
	}
}

// rebase recomputes K (the window's mean), b (the oldest row) and the sums
// from the ring.
func (a *wmaAgg) rebase() {
	w := a.win
	w.evictions = 0
	if a.nf == 0 {
		return
	}
	a.k, a.b = w.finiteMean(a.nf), w.first
	a.s, a.ws, a.wsum = csum{}, csum{}, 0
	for j := 0; j < w.n; j++ {
		s := (w.head + j) & w.mask
		if v := w.v[s]; w.ok[s] && isFinite(v) {
			d := v - a.k
			a.s.add(d)
			a.ws.add(float64(j) * d)
			a.wsum += int64(j)
		}
	}
}

func (a *wmaAgg) result() (float64, bool) {
	if v, ok := a.sumRule(); ok {
		return v, true
	}
	c := a.win.first - 1 - a.b // weight = (seq - b) - c
	num := a.ws.val() - float64(c)*a.s.val()
	den := float64(a.wsum - c*int64(a.nf))
	return a.k + num/den, true
}
