package ir

import (
	"encoding/binary"
	"math"
)

// This file is the hash-consing pass: every node is created through
// builder.add, which canonicalises commutative arguments, folds constants
// and returns the existing node when an identical one was built before, so
// identical subexpressions of all features of a request exist once (as
// Polars' CSE does, but by construction rather than by a later pass).

var opNames = [numOps]string{
	OpInvalid: "invalid", OpSource: "source", OpConst: "const", OpNeg: "neg",
	OpAdd: "+", OpSub: "-", OpMul: "*", OpDiv: "/", OpPow: "**",
	OpLT: "<", OpLE: "<=", OpGT: ">", OpGE: ">=", OpEQ: "==", OpNE: "!=",
	OpLog: "log", OpExp: "exp", OpAbs: "abs", OpSqrt: "sqrt", OpLag: "lag",
	OpRollingMean: "rolling_mean", OpRollingStd: "rolling_std", OpRollingSum: "rolling_sum",
	OpRollingMin: "rolling_min", OpRollingMax: "rolling_max", OpRollingCorr: "rolling_corr",
	OpDecayAccum: "decay_accum", OpEwmMean: "ewm_mean",
}

// String returns the operator or function name as written in a formula.
func (o Op) String() string {
	if o >= numOps {
		return "invalid"
	}
	return opNames[o]
}

// IsBinary reports whether o is an infix operator (arithmetic or comparison).
func (o Op) IsBinary() bool { return o >= OpAdd && o <= OpNE }

// IsRolling reports whether o is a trailing-window aggregate.
func (o Op) IsRolling() bool { return o >= OpRollingMean && o <= OpRollingCorr }

// IsElementwise reports whether o computes each row from the same row of
// its arguments only (so it can be folded over constants).
func (o Op) IsElementwise() bool { return o >= OpNeg && o <= OpSqrt }

// commutative ops get their arguments in ascending id order, so that a+b
// and b+a are one node. Comparisons < and > are not swapped into each other:
// a < b and b > a would be one node, but explain would then show a formula
// the user did not write, for little gain.
func (o Op) commutative() bool {
	return o == OpAdd || o == OpMul || o == OpEQ || o == OpNE
}

type nodeKey struct {
	scope      int // 0 when sharing across features, else feature index + 1
	op         Op
	args       string // NodeIDs, 4 bytes each
	column     string
	value      uint64 // Float64bits, NaNs canonical
	k          int
	window     Window
	minSamples int
	halfLife   HalfLife
}

type builder struct {
	nodes []*Node
	index map[nodeKey]NodeID
}

// newBuilder returns an empty arena. NoCSE needs nothing here: the caller
// passes a scope per feature, which is part of every key.
func newBuilder() *builder { return &builder{index: map[nodeKey]NodeID{}} }

// add returns the id of the node n describes (Args, Op and parameters;
// ID is assigned here), creating it if needed. Args must already exist, so
// the arena is in topological order.
func (b *builder) add(scope int, n Node) NodeID {
	if n.Op.commutative() && len(n.Args) == 2 && n.Args[0] > n.Args[1] {
		n.Args = []NodeID{n.Args[1], n.Args[0]}
	}
	if n.Op.IsElementwise() && n.Op != OpExp && b.allConst(n.Args) {
		// exp is left to its kernel, which rounds correctly (as Polars'
		// libm does) where math.Exp may be an ulp off.
		vals := make([]float64, len(n.Args))
		for i, a := range n.Args {
			vals[i] = b.nodes[a].Value
		}
		n = Node{Op: OpConst, Value: fold(n.Op, vals)}
	}
	if n.Op == OpConst && math.IsNaN(n.Value) {
		n.Value = math.NaN()
	}
	key := nodeKey{scope: scope, op: n.Op, column: n.Column, value: math.Float64bits(n.Value),
		k: n.K, window: n.Window, minSamples: n.MinSamples, halfLife: n.HalfLife}
	var buf []byte
	for _, a := range n.Args {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(a))
	}
	key.args = string(buf)
	if id, ok := b.index[key]; ok {
		return id
	}
	id := NodeID(len(b.nodes))
	n.ID = id
	b.nodes = append(b.nodes, &n)
	b.index[key] = id
	return id
}

func (b *builder) allConst(args []NodeID) bool {
	for _, a := range args {
		if b.nodes[a].Op != OpConst {
			return false
		}
	}
	return len(args) > 0
}

// fold computes an elementwise op on constants with the kernels' rules:
// IEEE arithmetic (x/0 = ±Inf or NaN, log(0) = -Inf, sqrt(-1) = NaN) and
// comparisons under Polars' total order for floats, where NaN equals NaN
// and is greater than every other value (and -0.0 == 0.0).
func fold(op Op, v []float64) float64 {
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	switch op {
	case OpNeg:
		return -v[0]
	case OpLog:
		return math.Log(v[0])
	case OpExp:
		return math.Exp(v[0])
	case OpAbs:
		return math.Abs(v[0])
	case OpSqrt:
		return math.Sqrt(v[0])
	case OpAdd:
		return v[0] + v[1]
	case OpSub:
		return v[0] - v[1]
	case OpMul:
		return v[0] * v[1]
	case OpDiv:
		return v[0] / v[1]
	case OpPow:
		return math.Pow(v[0], v[1])
	case OpLT:
		return b2f(totalCmp(v[0], v[1]) < 0)
	case OpLE:
		return b2f(totalCmp(v[0], v[1]) <= 0)
	case OpGT:
		return b2f(totalCmp(v[0], v[1]) > 0)
	case OpGE:
		return b2f(totalCmp(v[0], v[1]) >= 0)
	case OpEQ:
		return b2f(totalCmp(v[0], v[1]) == 0)
	case OpNE:
		return b2f(totalCmp(v[0], v[1]) != 0)
	}
	panic("ir: fold of non-elementwise op " + op.String())
}

// totalCmp orders floats as Polars does: NaN is equal to itself and greater
// than everything else, including +Inf.
func totalCmp(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
