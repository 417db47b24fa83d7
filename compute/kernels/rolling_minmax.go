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
	if m.isMax {
		for dq.n > 0 && dq.val[(dq.head+dq.n-1)&dq.mask] <= v {
			dq.n--
		}
	} else {
		for dq.n > 0 && dq.val[(dq.head+dq.n-1)&dq.mask] >= v {
			dq.n--
		}
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
