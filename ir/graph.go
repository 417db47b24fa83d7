// Package ir turns parsed formulas into one typed DAG for a whole request:
// feature specs and the FeatureType registry, alias and name resolution,
// hash-consing (common subexpressions across all features are computed once),
// constant folding, lookbacks for warmup, topological order and explain.
package ir

// Op is the primitive computed by a node.
type Op uint8

const (
	OpInvalid Op = iota
	OpSource     // a source column: Column
	OpConst      // a constant: Value
	OpNeg
	OpAdd
	OpSub
	OpMul
	OpDiv
	OpPow
	OpLT
	OpLE
	OpGT
	OpGE
	OpEQ
	OpNE
	OpLog
	OpExp
	OpAbs
	OpSqrt
	OpLag         // K
	OpRollingMean // Window, MinSamples
	OpRollingStd
	OpRollingSum
	OpRollingMin
	OpRollingMax
	OpRollingCorr // two args
	OpDecayAccum  // HalfLife
	OpEwmMean     // HalfLife
	numOps
)

// NodeID addresses a node in Plan.Nodes.
type NodeID int32

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

// Node is one primitive of the DAG. Nodes are immutable once built; two
// nodes with the same Op, Args and parameters are the same node.
type Node struct {
	ID         NodeID
	Op         Op
	Args       []NodeID
	Column     string   // OpSource
	Value      float64  // OpConst
	K          int      // OpLag
	Window     Window   // rolling ops
	MinSamples int      // rolling ops; always resolved (never 0)
	HalfLife   HalfLife // OpDecayAccum, OpEwmMean
}
