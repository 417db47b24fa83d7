package kernels

// The one rolling window driver (Polars' rolling_apply_agg_window with
// update/get_agg per aggregate): it evicts the rows that leave the window,
// pushes the new row, tells the aggregate about the non-null ones, applies
// min_samples once for every aggregate, and asks for the result. An
// aggregate is a small state struct over the driver's window ring.

// windowAgg is one rolling aggregate's state.
type windowAgg interface {
	// enter: the non-null row in slot s of the window (sequence number
	// seq within the symbol) joined the window.
	enter(s int, seq int64)
	// leave: the non-null row in slot s, sequence seq, left the window.
	leave(s int, seq int64)
	// settle runs after every row's evictions and push (null or not):
	// the place for amortised rebases.
	settle()
	// result is the aggregate of the window, which holds at least
	// min_samples non-null rows; ok false makes the output null.
	result() (v float64, ok bool)
}

// rollingOp drives one aggregate over one symbol's rows.
type rollingOp struct {
	win  window
	agg  windowAgg
	minS int
	cnt  int // non-null rows in the window
}

// driven returns the factory of a rolling kernel over a row window (rows >
// 0) or a duration window (dur > 0 ns); pair windows keep a second value
// per row (in[1]), and a row counts as non-null when all its values are.
func driven(rows int, dur int64, pair bool, minSamples int, mk func(w *window) windowAgg) Factory {
	checkWindow(rows, dur)
	minSamples = max(minSamples, 1)
	return func() Op {
		r := &rollingOp{win: newWindow(rows, dur, pair), minS: minSamples}
		r.agg = mk(&r.win)
		return r
	}
}

// StateBytes is the window ring and what the aggregate keeps beside it
// (deques, trees).
func (r *rollingOp) StateBytes() int64 {
	n := r.win.bytes()
	if s, ok := r.agg.(interface{ bytes() int64 }); ok {
		n += s.bytes()
	}
	return n
}

func (r *rollingOp) Step(in []Col, t []int64, out []float64, valid []bool) int {
	n := len(out)
	w := &r.win
	x := in[0]
	xv := x.V[:n]
	var y Col
	var yv []float64
	pair := w.y != nil
	if pair {
		y = in[1]
		yv = y.V[:n]
	}
	// The no-nulls fast path: validity is not looked up row by row.
	noNulls := x.Valid == nil && (!pair || y.Valid == nil)
	valid = valid[:n]
	nulls := 0
	for i := range out {
		ti := timeAt(t, i)
		for w.leaves(ti) {
			seq := w.first
			s := w.pop()
			if w.ok[s] {
				r.cnt--
				r.agg.leave(s, seq)
			}
		}
		ok := noNulls || (x.IsValid(i) && (!pair || y.IsValid(i)))
		seq := w.first + int64(w.n)
		s := w.push(ti)
		w.v[s], w.ok[s] = xv[i], ok
		if pair {
			w.y[s] = yv[i]
		}
		if ok {
			r.cnt++
			r.agg.enter(s, seq)
		}
		r.agg.settle()
		if r.cnt < r.minS {
			out[i], valid[i] = 0, false
			nulls++
			continue
		}
		v, vok := r.agg.result()
		out[i], valid[i] = v, vok
		if !vok {
			nulls++
		}
	}
	return nulls
}
