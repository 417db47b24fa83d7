// Package ir turns parsed formulas into one typed DAG for a whole request:
// feature specs and the FeatureType registry, alias and name resolution,
// hash-consing (common subexpressions across all features are computed once),
// constant folding, lookbacks for warmup, topological order and explain.
// What the IR knows about each primitive is in one table (ops.go).
package ir

import "github.com/featuredag/fdag/formula"

// NodeID addresses a node in Plan.Nodes.
type NodeID int32

// Window is a trailing window (see formula.Window).
type Window = formula.Window

// HalfLife is a half-life in rows or a duration (see formula.HalfLife).
type HalfLife = formula.HalfLife

// Node is one primitive of the DAG. Nodes are immutable once built; two
// nodes with the same Op, Args, Column, Value and Params are the same node.
type Node struct {
	ID     NodeID
	Op     Op
	Args   []NodeID
	Column string  // OpSource, OpStrEQ, OpStrNE
	Text   string  // OpStrEQ, OpStrNE: the string literal compared with Column
	Value  float64 // OpConst
	// Params are the call's non-series arguments as the checker bound
	// them (K, Window, MinSamples, HalfLife); zero for operators.
	formula.Params
}
