package ir

import (
	"encoding/binary"
	"math"

	"github.com/featuredag/fdag/formula"
)

// This file is the hash-consing pass: every node is created through
// builder.add, which canonicalises commutative arguments, folds constants
// and returns the existing node when an identical one was built before, so
// identical subexpressions of all features of a request exist once (as
// Polars' CSE does, but by construction rather than by a later pass).

// nodeKey identifies a node. Params is held whole, so every parameter of
// every primitive is part of the key by construction.
type nodeKey struct {
	scope  int // 0 when sharing across features, else feature index + 1
	op     Op
	args   string // NodeIDs, 4 bytes each
	column string
	text   string
	value  uint64 // Float64bits, NaNs canonical
	params formula.Params
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
	if n.Op.Class() == ClassShift && n.K == 0 {
		return n.Args[0] // lag(x, 0) is x itself
	}
	if n.Op.commutative() && len(n.Args) == 2 && n.Args[0] > n.Args[1] {
		n.Args = []NodeID{n.Args[1], n.Args[0]}
	}
	if b.allConst(n.Args) {
		vals := make([]float64, len(n.Args))
		for i, a := range n.Args {
			vals[i] = b.nodes[a].Value
		}
		if v, ok := n.Op.fold(vals); ok {
			n = Node{Op: OpConst, Value: v}
		}
	}
	if n.Op == OpConst && math.IsNaN(n.Value) {
		n.Value = math.NaN()
	}
	key := nodeKey{scope: scope, op: n.Op, column: n.Column, text: n.Text, value: math.Float64bits(n.Value), params: n.Params}
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
