package ir

import (
	"fmt"

	"github.com/featuredag/fdag/formula"
)

// This file is the lowering step: a checked formula becomes nodes of the
// arena (builder.add hash-conses and folds them).

// build turns feature i's formula into nodes.
func (c *compiler) build(i int) {
	pr := &c.prep[i]
	if pr.err != nil {
		return
	}
	scope := 0
	if c.opts.NoCSE {
		scope = i + 1
	}
	x := &exprBuilder{c: c, self: i, scope: scope, checked: pr.ast}
	root, err := x.expr(pr.ast.Root)
	if err != nil {
		err.Src = pr.src
		pr.err = err
		return
	}
	c.roots[i] = root
}

// exprBuilder lowers one feature's AST; self is the feature whose
// identifiers are being resolved (it differs from the scope's feature when
// NoCSE inlines a referenced feature).
type exprBuilder struct {
	c       *compiler
	self    int
	scope   int
	checked *formula.Checked // self's formula, whose calls are bound
}

func errAt(pos formula.PosRange, format string, args ...any) *formula.Error {
	return &formula.Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (x *exprBuilder) add(n Node) NodeID { return x.c.b.add(x.scope, n) }

func (x *exprBuilder) expr(n formula.Node) (NodeID, *formula.Error) {
	switch n := n.(type) {
	case *formula.NumberLit:
		return x.add(Node{Op: OpConst, Value: n.Value}), nil
	case *formula.ParenExpr:
		return x.expr(n.X)
	case *formula.Ident:
		return x.ident(n)
	case *formula.UnaryExpr:
		a, err := x.expr(n.X)
		if err != nil || n.Op == formula.OpAdd {
			return a, err
		}
		return x.add(Node{Op: OpNeg, Args: []NodeID{a}}), nil
	case *formula.BinaryExpr:
		if col, lit, ok := formula.StringComparison(n); ok {
			return x.stringComparison(n, col, lit)
		}
		l, err := x.expr(n.L)
		if err != nil {
			return 0, err
		}
		r, err := x.expr(n.R)
		if err != nil {
			return 0, err
		}
		op, ok := binaryOf[n.Op]
		if !ok {
			return 0, errAt(n.OpPos, "unsupported operator %s", n.Op)
		}
		return x.add(Node{Op: op, Args: []NodeID{l, r}}), nil
	case *formula.Call:
		return x.call(n)
	case *formula.StringLit:
		// Check rejects strings outside window positions; kept for a
		// hand-built tree.
		return 0, errAt(n.Pos, "string %q is only allowed as a window or half-life argument", n.Value)
	}
	return 0, errAt(formula.PosRange{}, "missing expression")
}

// stringComparison builds `col == 'lit'` (or !=) as a leaf reading the
// column: it must name a source column (directly or by alias), not a
// feature, whose values are numbers. That the column holds strings is
// checked where its type is known (compute).
func (x *exprBuilder) stringComparison(n *formula.BinaryExpr, col *formula.Ident, lit *formula.StringLit) (NodeID, *formula.Error) {
	if _, ok := x.c.refersToFeature(x.self, col.Name); ok {
		return 0, errAt(col.Pos, "%s is a feature of this request (a number) and cannot be compared with the string %s; only a string column can", col.Name, formula.Format(lit))
	}
	id, err := x.ident(col)
	if err != nil {
		return 0, err
	}
	op := OpStrEQ
	if n.Op == formula.OpNE {
		op = OpStrNE
	}
	return x.add(Node{Op: op, Column: x.c.b.nodes[id].Column, Text: lit.Value}), nil
}

// call builds a checked call from its binding: its series arguments, then
// the function's expansion or its primitive with the bound Params.
func (x *exprBuilder) call(call *formula.Call) (NodeID, *formula.Error) {
	b := x.checked.Bound(call)
	if b == nil {
		// Check reports every call it cannot bind; kept for a hand-built tree.
		return 0, errAt(call.Pos, "call of %s was not checked", call.Func)
	}
	args := make([]NodeID, len(b.Series))
	for i, s := range b.Series {
		a, err := x.expr(s)
		if err != nil {
			return 0, err
		}
		args[i] = a
	}
	if expand, ok := expansions[b.Func.Name]; ok {
		return expand(x, b, args), nil
	}
	op := FuncOp(b.Func.Name)
	if op == OpInvalid {
		// TestOpTable makes this unreachable.
		return 0, errAt(call.FuncPos, "function %s is not supported by the IR", b.Func.Name)
	}
	if op.Class() == ClassCumulative && x.c.opts.BoundedWarmup {
		return 0, errAt(call.Pos, "%s needs every earlier row of the symbol, but a fetch or batch run reads its range plus a bounded warmup, so the result would depend on where the read starts; compute it over an input table (fdag compute, DoExchange), or use a rolling window", b.Func.Name)
	}
	if arity := op.arity(); b.Func.Variadic && len(args) > arity {
		// max(a, b, c) is max(max(a, b), c): binary nodes, each shared.
		acc := x.add(Node{Op: op, Args: args[:arity], Params: b.Params})
		for _, a := range args[arity:] {
			acc = x.add(Node{Op: op, Args: []NodeID{acc, a}, Params: b.Params})
		}
		return acc, nil
	}
	return x.add(Node{Op: op, Args: args, Params: b.Params}), nil
}
