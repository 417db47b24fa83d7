package formula

// The checker's result: every call bound to its function, with arguments
// aligned to parameters and defaults filled, so the IR builds from it
// without binding or parsing arguments again (as cel-go's Program consumes
// the checked AST of Env.Check).

// Window is a trailing window: Rows rows, or the rows whose time lies in
// (t - Dur, t]. Exactly one of the two is non-zero.
type Window struct {
	Rows int
	Dur  int64 // nanoseconds
}

// HalfLife is a half-life in rows (may be fractional) or a duration.
// Exactly one of the two is non-zero.
type HalfLife struct {
	Rows float64
	Dur  int64 // nanoseconds
}

// Params holds the non-series arguments of a call, resolved: one field per
// argument kind (a function has at most one parameter of each non-series
// kind; TestFunctionTable checks it). Params is comparable and the IR keeps
// it whole in a node's CSE key, so no parameter can be left out of the key,
// and kernels are built from it.
type Params struct {
	K          int      // KindInt: lag distance
	Window     Window   // KindWindow
	MinSamples int      // KindMinSamples; always resolved (never 0) for a windowed call
	HalfLife   HalfLife // KindHalfLife
	Q          float64  // KindQuantile
}

// set stores a number given for a parameter of kind k.
func (p *Params) set(k ArgKind, v float64) {
	switch k {
	case KindInt:
		p.K = int(v)
	case KindMinSamples:
		p.MinSamples = int(v)
	case KindHalfLife:
		p.HalfLife = HalfLife{Rows: v}
	case KindWindow:
		p.Window = Window{Rows: int(v)}
	}
}

// Bound is a checked call: its function, the series arguments in
// parameter order, and every other argument resolved into Params.
type Bound struct {
	Func   *Func
	Call   *Call
	Series []Node
	Params Params
}

// Checked is a checked formula: the tree and the binding of each of its
// calls.
type Checked struct {
	Root  Node
	calls map[*Call]*Bound
}

// Bound returns the binding of a call of the tree, or nil when the call
// did not check (or is not part of this tree).
func (c *Checked) Bound(call *Call) *Bound {
	if c == nil {
		return nil
	}
	return c.calls[call]
}
