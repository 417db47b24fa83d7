package kernels

import "math"

// Rolling min and max with a monotonic deque: O(1) amortised per row for row
// and duration windows alike. The deque holds (sequence number, value) of the
// non-NaN values that can still become the extreme, newest at the back; the
// front is the answer. NaNs are only counted: while one is in the window the
// result is NaN (Polars' rule), and they never enter the deque, so ±Inf
// compare like any value.

type deque struct {
	seq  []int64
	val  []float64
	mask int
	head int
	n    int
}

func newDeque(c int) deque {
	return deque{seq: make([]int64, c), val: make([]float64, c), mask: c - 1}
}

func (d *deque) bytes() int64 { return 8 * int64(cap(d.seq)+cap(d.val)) }

func (m *minMaxAgg) bytes() int64 { return m.dq.bytes() }

func (d *deque) grow() {
	c := 2 * len(d.val)
	seq, val := make([]int64, c), make([]float64, c)
	k := copy(seq, d.seq[d.head:])
	copy(seq[k:], d.seq[:d.head])
	copy(val, d.val[d.head:])
	copy(val[k:], d.val[:d.head])
	d.seq, d.val, d.head, d.mask = seq, val, 0, c-1
}

type minMaxAgg struct {
	win   *window
	isMax bool
	dq    deque
	nan   int // NaNs in the window
	// keepFirst keeps the earliest of equal values at the front (argmax
	// ties); the value result is the same either way.
	keepFirst bool
}

func (m *minMaxAgg) leave(s int, seq int64) {
	dq := &m.dq
	if v := m.win.v[s]; v != v {
		m.nan--
	} else if dq.n > 0 && dq.seq[dq.head] == seq {
		dq.head = (dq.head + 1) & dq.mask
		dq.n--
	}
}

func (m *minMaxAgg) enter(s int, seq int64) {
	dq := &m.dq
	v := m.win.v[s]
	if v != v {
		m.nan++
		return
	}
	// Drop the back values the new one dominates.
	for dq.n > 0 {
		b := dq.val[(dq.head+dq.n-1)&dq.mask]
		if b == v && m.keepFirst || m.isMax && b > v || !m.isMax && b < v {
			break
		}
		dq.n--
	}
	if dq.n == len(dq.val) {
		dq.grow()
	}
	b := (dq.head + dq.n) & dq.mask
	dq.seq[b], dq.val[b] = seq, v
	dq.n++
}

func (m *minMaxAgg) settle() {}

func (m *minMaxAgg) result() (float64, bool) {
	if m.nan > 0 {
		return math.NaN(), true
	}
	return m.dq.val[m.dq.head], true
}

// NewRollingArgExtreme returns the kernel of rolling_argmax (isMax) or
// rolling_argmin: the number of rows since the window's extreme, 0 when
// the current row is it. Ties go to the earliest occurrence (as numpy's
// argmax over the window). While a NaN is in the window the result is NaN,
// as for rolling_max.
func NewRollingArgExtreme(isMax bool, rows int, dur int64, minSamples int) Factory {
	return driven(rows, dur, false, minSamples, func(w *window) windowAgg {
		return &argExtremeAgg{minMaxAgg: minMaxAgg{win: w, isMax: isMax, dq: newDeque(len(w.v)), keepFirst: true}}
	})
}

type argExtremeAgg struct{ minMaxAgg }

func (a *argExtremeAgg) result() (float64, bool) {
	if a.nan > 0 {
		return math.NaN(), true
	}
	w := a.win
	return float64(w.first + int64(w.n) - 1 - a.dq.seq[a.dq.head]), true
}

// NewRollingCount returns the kernel of rolling_count: the number of
// non-null values in the window (NaN counts), 0 for a window of nulls.
func NewRollingCount(rows int, dur int64) Factory {
	f := driven(rows, dur, false, 1, func(*window) windowAgg { return &countAgg{} })
	return func() Op {
		op := f().(*rollingOp)
		op.minS = 0 // a window without values has count 0, not null
		return op
	}
}

type countAgg struct{ n int }

func (c *countAgg) enter(int, int64)        { c.n++ }
func (c *countAgg) leave(int, int64)        { c.n-- }
func (c *countAgg) settle()                 {}
func (c *countAgg) result() (float64, bool) { return float64(c.n), true }
