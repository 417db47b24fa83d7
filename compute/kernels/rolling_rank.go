package kernels

import "math"

// Rolling rank in O(log w) per row: the percentile of the current value
// among the non-null values of its window, kept in the order-statistic
// treap of the quantile kernels (rolling_quantile.go). With n values in
// the window, `lt` of them below the current value and `eq` equal to it
// (itself included), the result is the average rank of the tie group over
// n: (lt + (eq + 1) / 2) / n, in (0, 1]. That is pandas'
// rolling(w).rank(pct=True) with method "average", which Qlib's Rank
// calls, and Polars' rolling_rank(w, "average") divided by the window's
// non-null count. Values are ordered as Polars sorts floats: NaN is a
// value, larger than every other and equal to NaN, so a NaN current value
// ranks with the NaNs at the top, as in Polars (pandas and Qlib skip NaN,
// their missing value, and give NaN there). A null current value gives
// null.

// NewRollingRank returns the kernel of rolling_rank(x, w).
func NewRollingRank(rows int, dur int64, minSamples int) Factory {
	return driven(rows, dur, false, minSamples, func(w *window) windowAgg {
		return &rankAgg{win: w, t: treap{root: -1, rng: 0x9e3779b97f4a7c15}}
	})
}

type rankAgg struct {
	win     *window
	t       treap
	lastSeq int64 // sequence number of the last non-null row that entered
	any     bool
}

func (a *rankAgg) enter(s int, seq int64) {
	a.t.insert(a.win.v[s], seq)
	a.lastSeq, a.any = seq, true
}
func (a *rankAgg) bytes() int64 { return a.t.bytes() }

func (a *rankAgg) leave(s int, seq int64) { a.t.remove(a.win.v[s], seq) }
func (a *rankAgg) settle()                {}

func (a *rankAgg) result() (float64, bool) {
	w := a.win
	newest := w.first + int64(w.n) - 1
	if !a.any || a.lastSeq != newest {
		return 0, false // the current row is null: it has no rank
	}
	v := w.v[(w.head+w.n-1)&w.mask]
	lt := a.t.below(v, math.MinInt64)
	le := a.t.below(v, math.MaxInt64)
	n := a.t.size(a.t.root)
	return (float64(lt) + float64(le-lt+1)/2) / float64(n), true
}

// below counts the keys ordered before (v, s).
func (t *treap) below(v float64, s int64) int {
	c := 0
	for i := t.root; i >= 0; {
		if less(t.val[i], t.seq[i], v, s) {
			c += t.size(t.left[i]) + 1
			i = t.right[i]
		} else {
			i = t.left[i]
		}
	}
	return c
}
