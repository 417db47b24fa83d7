package kernels

import (
	"github.com/featuredag/fdag/fmath"
	"github.com/featuredag/fdag/formula"
)

// Cumulative kernels: cum_sum, cum_max, cum_min over every row of the
// symbol so far, O(1) per row. A null row gives null and leaves the state
// alone (Polars). cum_sum is a compensated sum of the finite values, the
// NaNs and infinities counted apart as in the rolling sum (a NaN, or +Inf
// with -Inf, makes it NaN from then on); cum_max and cum_min fold with
// fmath.Max and fmath.Min, which skip a NaN unless nothing else has been
// seen (Polars' cum_max: [NaN, 2, 1] gives NaN, 2, 2).

// CumFn selects a cumulative aggregate.
type CumFn uint8

const (
	CumSum CumFn = iota
	CumMax
	CumMin
)

// NewCumulative returns the kernel of cum_sum, cum_max or cum_min.
func NewCumulative(fn CumFn) Factory {
	return func() Op { return &cumOp{fn: fn} }
}

type cumOp struct {
	fn   CumFn
	seen bool
	acc  float64 // max or min so far
	sum  csum    // finite values so far (cum_sum)
	specials
}

func (c *cumOp) Step(in []Col, _ []int64, out []float64, valid []bool) int {
	x := in[0]
	nulls := 0
	for i, v := range x.V[:len(out)] {
		if !x.IsValid(i) {
			out[i], valid[i] = 0, false
			nulls++
			continue
		}
		switch {
		case c.fn != CumSum:
			if !c.seen {
				c.acc = v
			} else if c.fn == CumMax {
				c.acc = fmath.Max(c.acc, v)
			} else {
				c.acc = fmath.Min(c.acc, v)
			}
		case isFinite(v):
			c.sum.add(v)
			c.acc = c.sum.val()
		default:
			c.count(v, 1)
		}
		c.seen = true
		out[i], valid[i] = c.acc, true
		if c.fn == CumSum {
			if s, ok := c.sumRule(); ok {
				out[i] = s
			}
		}
	}
	return nulls
}

// RegisterCumulative adds cum_sum, cum_max and cum_min.
func RegisterCumulative(r *Registry) {
	for name, fn := range map[string]CumFn{"cum_sum": CumSum, "cum_max": CumMax, "cum_min": CumMin} {
		r.Add(name, func(formula.Params) (Factory, error) { return NewCumulative(fn), nil })
	}
}
