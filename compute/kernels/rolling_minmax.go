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

type minMaxOp struct {
	win   window
	isMax bool
	minS  int
	dq    deque
	cnt   int // non-null values in the window
	nan   int // NaNs in the window
}

func (m *minMaxOp) Step(in []Col, t []int64, out []float64, valid []bool) int {
	x := in[0]
	n := len(out)
	xv := x.V[:n]
	valid = valid[:n]
	w, dq := &m.win, &m.dq
	nulls := 0
	for i := range out {
		ti := timeAt(t, i)
		for w.leaves(ti) {
			seq := w.first
			s := w.pop()
			if w.ok[s] {
				m.cnt--
				if v := w.v[s]; v != v {
					m.nan--
				} else if dq.n > 0 && dq.seq[dq.head] == seq {
					dq.head = (dq.head + 1) & dq.mask
					dq.n--
				}
			}
		}
		v, ok := xv[i], x.Valid == nil || x.Valid[i]
		seq := w.first + int64(w.n)
		s := w.push(ti)
		w.v[s], w.ok[s] = v, ok
		if ok {
			m.cnt++
			if v != v {
				m.nan++
			} else {
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
		}
		switch {
		case m.cnt < m.minS:
			out[i], valid[i] = 0, false
			nulls++
		case m.nan > 0:
			out[i], valid[i] = math.NaN(), true
		default:
			out[i], valid[i] = dq.val[dq.head], true
		}
	}
	return nulls
}
