package kernels

import (
	"math"

	"github.com/featuredag/fdag/fmath"
)

// Rolling median and quantile in O(log w) per row: the window's non-null
// values live in an order-statistic treap (a binary search tree balanced
// by random priorities, each node counting its subtree), so inserting,
// deleting and finding the k-th smallest value are O(log w) expected, not a
// sort per row. Values are ordered as Polars sorts floats (NaN largest);
// ties are broken by the row's sequence number, which makes every key
// unique. The quantile interpolates linearly between the two nearest ranks
// (numpy's, pandas' and Qlib's default; Polars' rolling_quantile defaults to
// "nearest", its interpolation="linear" is this), so a NaN among them gives
// NaN; the median is the quantile 0.5.

// NewRollingQuantile returns the kernel of rolling_quantile(x, w, q), q in
// [0, 1] (rolling_median: q = 0.5).
func NewRollingQuantile(q float64, rows int, dur int64, minSamples int) Factory {
	return driven(rows, dur, false, minSamples, func(w *window) windowAgg {
		return &quantileAgg{win: w, q: q, t: treap{root: -1, rng: 0x9e3779b97f4a7c15}}
	})
}

type quantileAgg struct {
	win *window
	q   float64
	t   treap
}

func (a *quantileAgg) enter(s int, seq int64) { a.t.insert(a.win.v[s], seq) }
func (a *quantileAgg) leave(s int, seq int64) { a.t.remove(a.win.v[s], seq) }
func (a *quantileAgg) settle()                {}

func (a *quantileAgg) result() (float64, bool) {
	n := a.t.size(a.t.root)
	pos := a.q * float64(n-1)
	lo := math.Floor(pos)
	vlo := a.t.kth(int(lo))
	if pos == lo {
		return vlo, true
	}
	vhi := a.t.kth(int(lo) + 1)
	return vlo + (vhi-vlo)*(pos-lo), true
}

// treap is an order-statistic treap over (value, seq) keys, its nodes in
// slices (a free list reuses deleted ones, so a full window allocates
// nothing).
type treap struct {
	val         []float64
	seq         []int64
	pri         []uint64
	left, right []int32
	cnt         []int32
	free        []int32
	root        int32
	rng         uint64
}

// bytes is the memory of the node slices (with the free list's).
func (t *treap) bytes() int64 {
	return 8*int64(cap(t.val)+cap(t.seq)+cap(t.pri)) + 4*int64(cap(t.left)+cap(t.right)+cap(t.cnt)+cap(t.free))
}

func (a *quantileAgg) bytes() int64 { return a.t.bytes() }

func (t *treap) size(i int32) int {
	if i < 0 {
		return 0
	}
	return int(t.cnt[i])
}

// less orders keys: value under the total order, then sequence number.
func less(v float64, s int64, w float64, u int64) bool {
	if fmath.EqTotal(v, w) {
		return s < u
	}
	return fmath.LessTotal(v, w)
}

func (t *treap) newNode(v float64, s int64) int32 {
	t.rng ^= t.rng << 13
	t.rng ^= t.rng >> 7
	t.rng ^= t.rng << 17
	if k := len(t.free); k > 0 {
		i := t.free[k-1]
		t.free = t.free[:k-1]
		t.val[i], t.seq[i], t.pri[i], t.left[i], t.right[i], t.cnt[i] = v, s, t.rng, -1, -1, 1
		return i
	}
	t.val, t.seq, t.pri = append(t.val, v), append(t.seq, s), append(t.pri, t.rng)
	t.left, t.right, t.cnt = append(t.left, -1), append(t.right, -1), append(t.cnt, 1)
	return int32(len(t.val) - 1)
}

func (t *treap) fix(i int32) { t.cnt[i] = int32(1 + t.size(t.left[i]) + t.size(t.right[i])) }

// split divides the tree at key (v, s): keys below it left, the rest right.
func (t *treap) split(i int32, v float64, s int64) (int32, int32) {
	if i < 0 {
		return -1, -1
	}
	if less(t.val[i], t.seq[i], v, s) {
		l, r := t.split(t.right[i], v, s)
		t.right[i] = l
		t.fix(i)
		return i, r
	}
	l, r := t.split(t.left[i], v, s)
	t.left[i] = r
	t.fix(i)
	return l, i
}

// merge joins two trees whose keys are all ordered a < b.
func (t *treap) merge(a, b int32) int32 {
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	case t.pri[a] > t.pri[b]:
		t.right[a] = t.merge(t.right[a], b)
		t.fix(a)
		return a
	}
	t.left[b] = t.merge(a, t.left[b])
	t.fix(b)
	return b
}

func (t *treap) insert(v float64, s int64) {
	l, r := t.split(t.root, v, s)
	t.root = t.merge(t.merge(l, t.newNode(v, s)), r)
}

func (t *treap) remove(v float64, s int64) {
	l, r := t.split(t.root, v, s) // r starts with (v, s)
	m, r2 := t.split(r, v, s+1)   // m is that one node
	if m >= 0 {
		t.free = append(t.free, m)
	}
	t.root = t.merge(l, r2)
}

// kth returns the k-th smallest value (k from 0).
func (t *treap) kth(k int) float64 {
	i := t.root
	for {
		ls := t.size(t.left[i])
		switch {
		case k < ls:
			i = t.left[i]
		case k == ls:
			return t.val[i]
		default:
			k -= ls + 1
			i = t.right[i]
		}
	}
}
