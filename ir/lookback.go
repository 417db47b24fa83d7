package ir

import (
	"fmt"
	"math"

	"github.com/featuredag/fdag/formula"
)

// Lookback is how much history before a row is needed to compute that row
// exactly: Rows earlier rows of the same symbol and/or the rows of the
// previous Dur nanoseconds. Batch shards read this much warmup before their
// write window.
//
// lag(x, k) needs k rows; a rolling window of w rows needs w-1; a duration
// window d needs d. Along a path the needs add up (rolling_mean(lag(x, 5),
// 10) needs 14 rows); across arguments the larger is taken, for rows and
// durations separately (a row count cannot be turned into time without the
// data).
//
// decay_accum and ewm_mean depend on every earlier row: Unbounded is set,
// and Rows/Dur then hold a practical warmup of WarmupHalfLives half-lives,
// after which the weight of the missing history is 2^-40 (about 1e-12) of
// the total, below what a float64 feature value can show.
//
// cum_sum, cum_max and cum_min weigh every earlier row equally, so no
// warmup is enough: All is set (with Unbounded) and the value at a row
// depends on where the input begins. They are computed from the first row
// given (fdag compute, DoExchange); where the input is a bounded warmup
// before a requested range (fetches, batch runs) the IR refuses them
// (Options.BoundedWarmup).
type Lookback struct {
	Rows      int
	Dur       int64 // nanoseconds
	Unbounded bool
	All       bool // needs every earlier row of the symbol (cumulative)
}

// WarmupHalfLives is the number of half-lives reported as the practical
// warmup of decay_accum and ewm_mean.
const WarmupHalfLives = 40

// then is the lookback of a node needing l on top of its argument's need a.
func (a Lookback) then(l Lookback) Lookback {
	return Lookback{Rows: a.Rows + l.Rows, Dur: a.Dur + l.Dur, Unbounded: a.Unbounded || l.Unbounded, All: a.All || l.All}
}

// Max is the larger need of the two, rows and durations separately.
func (a Lookback) Max(b Lookback) Lookback {
	return Lookback{Rows: max(a.Rows, b.Rows), Dur: max(a.Dur, b.Dur), Unbounded: a.Unbounded || b.Unbounded, All: a.All || b.All}
}

// IsZero reports whether no history is needed.
func (a Lookback) IsZero() bool { return a == Lookback{} }

// String is "0", "5 rows", "1m", "99 rows + 5m", with "unbounded (warmup
// ...)" around it for decaying features, "all earlier rows (...)" for
// cumulative ones.
func (a Lookback) String() string {
	var s string
	switch {
	case a.Rows > 0 && a.Dur > 0:
		s = fmt.Sprintf("%d rows + %s", a.Rows, formula.FormatDuration(a.Dur))
	case a.Rows == 1:
		s = "1 row"
	case a.Rows > 0:
		s = fmt.Sprintf("%d rows", a.Rows)
	case a.Dur > 0:
		s = formula.FormatDuration(a.Dur)
	default:
		s = "0"
	}
	if a.All {
		return "all earlier rows (cumulative from the first input row; refused in fetches and batch runs)"
	}
	if a.Unbounded {
		return "unbounded (warmup " + s + ")"
	}
	return s
}

// own is what the node itself adds to the lookback of its arguments: the
// rule of its class.
func (n *Node) own() Lookback {
	switch n.Op.Class() {
	case ClassShift:
		return Lookback{Rows: n.K}
	case ClassRolling:
		if n.Window.Dur > 0 {
			return Lookback{Dur: n.Window.Dur}
		}
		return Lookback{Rows: n.Window.Rows - 1}
	case ClassCumulative:
		return Lookback{Unbounded: true, All: true}
	case ClassDecay:
		l := Lookback{Unbounded: true}
		if n.HalfLife.Dur > 0 {
			d := float64(n.HalfLife.Dur) * WarmupHalfLives
			l.Dur = int64(min(d, math.MaxInt64/4))
		} else {
			l.Rows = int(math.Ceil(min(n.HalfLife.Rows*WarmupHalfLives, math.MaxInt32)))
		}
		return l
	}
	return Lookback{}
}

// computeLookbacks fills Plan.Lookbacks in one pass over the arena (args
// come first) and copies each feature's root lookback.
func (p *Plan) computeLookbacks() {
	p.Lookbacks = make([]Lookback, len(p.Nodes))
	for _, n := range p.Nodes {
		var in Lookback
		for _, a := range n.Args {
			in = in.Max(p.Lookbacks[a])
		}
		p.Lookbacks[n.ID] = in.then(n.own())
	}
	for i := range p.Features {
		if f := &p.Features[i]; f.Err == nil {
			f.Lookback = p.Lookbacks[f.Root]
		}
	}
}

// MaxLookback is the largest lookback of the successful features: the
// warmup a shard needs to compute all of them.
func (p *Plan) MaxLookback() Lookback {
	var l Lookback
	for _, f := range p.Features {
		if f.Err == nil {
			l = l.Max(f.Lookback)
		}
	}
	return l
}
