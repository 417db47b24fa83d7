// Package kernels holds fdag's numeric kernels: plain Go loops over float64
// chunks with explicit validity, one file per family. They know nothing of
// Arrow, the IR or Flight; compute/ lowers IR nodes onto them.
//
// Every non-elementwise kernel is a small state struct fed consecutive chunks
// of one symbol's rows in time order. Feeding a symbol's rows in one chunk or
// in many gives bit-identical results, which is what lets the executor work in
// cache-sized chunks and lets the Flight server carry state across batches.
package kernels

// Col is a chunk of one series.
type Col struct {
	// V holds the values; a slot whose Valid entry is false holds garbage.
	V []float64
	// Valid is nil when every value is valid; otherwise len(Valid) == len(V).
	Valid []bool
	// Scalar marks a broadcast constant: V has length 1 and applies to every
	// row. Only elementwise kernels accept scalars.
	Scalar bool
}

// IsValid reports whether row i holds a value.
func (c Col) IsValid(i int) bool { return c.Valid == nil || c.Valid[i] }

// Op is a stateful kernel for one symbol.
type Op interface {
	// Step computes the output rows for the next n = len(out) input rows of
	// the symbol. in holds the argument chunks (each of length n unless
	// Scalar), t the event times of those rows in nanoseconds since the
	// epoch (nil when the operator does not use time). Step writes every
	// out[i] and valid[i] and returns the number of null outputs. It never
	// retains in, t, out or valid after returning.
	Step(in []Col, t []int64, out []float64, valid []bool) (nulls int)
}

// Sizer is implemented by the Ops whose state grows with the rows they have
// seen (window rings, min/max deques, order-statistic trees, lag lines):
// StateBytes is what that state holds now, so that a server bounds the
// memory a request really holds (--max-state-bytes), not a guess from the
// plan. Ops without it hold a few words.
type Sizer interface {
	StateBytes() int64
}

// Factory makes a fresh Op (the state of one symbol).
type Factory func() Op
