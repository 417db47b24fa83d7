package kernels

// NewLag returns the kernel for lag(x, k): the value k rows earlier within
// the symbol, null for the first k rows. k = 0 is the identity.
//
// The state is a delay line of the last k values and validities: a chunk's
// first min(n, k) outputs come from it, the rest straight from the chunk, and
// afterwards it holds the last k rows seen, so any chunking gives the same
// output.
func NewLag(k int) Factory {
	if k < 0 {
		panic("kernels: negative lag")
	}
	return func() Op {
		return &lagOp{k: k, v: make([]float64, k), ok: make([]bool, k)}
	}
}

type lagOp struct {
	k    int
	v    []float64 // ring of the last k values; v[head] is the oldest
	ok   []bool
	head int
}

func (l *lagOp) Step(in []Col, _ []int64, out []float64, valid []bool) int {
	x := in[0]
	n, k := len(out), l.k
	xv := x.V[:n]
	valid = valid[:n]
	nulls := 0
	m := min(n, k)
	for i := 0; i < m; i++ {
		j := l.head + i
		if j >= k {
			j -= k
		}
		out[i], valid[i] = l.v[j], l.ok[j]
		if !l.ok[j] {
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
			xs := x.Valid[:n-k]
			for i, ok := range xs {
				valid[k+i] = ok
				if !ok {
					nulls++
				}
			}
		}
	}
	// Remember the last k rows.
	if k == 0 {
		return nulls
	}
	if n >= k {
		copy(l.v, xv[n-k:])
		if x.Valid == nil {
			for i := range l.ok {
				l.ok[i] = true
			}
		} else {
			copy(l.ok, x.Valid[n-k:n])
		}
		l.head = 0
		return nulls
	}
	for i := 0; i < n; i++ {
		j := l.head + i
		if j >= k {
			j -= k
		}
		l.v[j], l.ok[j] = xv[i], x.IsValid(i)
	}
	l.head += n
	if l.head >= k {
		l.head -= k
	}
	return nulls
}
