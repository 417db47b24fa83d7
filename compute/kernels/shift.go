package kernels

import (
	"fmt"

	"github.com/featuredag/fdag/formula"
)

// NewLag returns the kernel for lag(x, k): the value k rows earlier within
// the symbol, null for the first k rows. k = 0 is the identity.
//
// The state is a delay line of the last min(seen, k) values and validities
// (a window ring, rolling.go): a chunk's first min(n, k) outputs come from
// it, the rest straight from the chunk, and afterwards it holds the last k
// rows seen, so any chunking gives the same output. The line grows with the
// rows seen, never with k: lag(x, 100000000) over a few thousand rows holds
// a few thousand values (issue 8: an up-front line of k reserved 3.7 GB for
// four symbols).
func NewLag(k int) Factory {
	if k < 0 {
		panic("kernels: negative lag")
	}
	return func() Op {
		op := &lagOp{k: k}
		if k > 0 {
			op.line = newWindow(k, 0, false)
		}
		return op
	}
}

type lagOp struct {
	k    int
	line window // the last min(seen, k) rows, oldest first
}

// StateBytes is the lag line's ring.
func (l *lagOp) StateBytes() int64 { return l.line.bytes() }

func (l *lagOp) Step(in []Col, _ []int64, out []float64, valid []bool) int {
	x := in[0]
	n, k := len(out), l.k
	xv := x.V[:n]
	valid = valid[:n]
	nulls := 0
	w := &l.line
	// Row i < k lags into the line: the stream is line ++ chunk, and row i
	// of the chunk wants stream position h+i-k, before the chunk starts.
	m := min(n, k)
	h := w.n
	for i := 0; i < m; i++ {
		j := h + i - k
		if j < 0 {
			out[i], valid[i] = 0, false
			nulls++
			continue
		}
		s := (w.head + j) & w.mask
		out[i], valid[i] = w.v[s], w.ok[s]
		if !w.ok[s] {
			nulls++
		}
	}
	if n > k {
		copy(out[k:], xv[:n-k])
		if x.Valid == nil {
			for i := k; i < n; i++ {
				valid[i] = true
			}
		} else {
			for i, ok := range x.Valid[:n-k] {
				valid[k+i] = ok
				if !ok {
					nulls++
				}
			}
		}
	}
	if k == 0 {
		return nulls
	}
	// Remember the last k rows of line ++ chunk.
	from := 0
	if n >= k {
		w.head, w.n, from = 0, 0, n-k
	}
	for i := from; i < n; i++ {
		if w.leaves(0) {
			w.pop()
		}
		s := w.push(0)
		w.v[s], w.ok[s] = xv[i], x.IsValid(i)
	}
	return nulls
}

// RegisterShift adds lag.
func RegisterShift(r *Registry) {
	r.Add("lag", func(p formula.Params) (Factory, error) {
		if p.K < 0 {
			return nil, fmt.Errorf("lag: k must not be negative, got %d", p.K)
		}
		return NewLag(p.K), nil
	})
}
