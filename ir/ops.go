package ir

import (
	"fmt"

	"github.com/featuredag/fdag/fmath"
	"github.com/featuredag/fdag/formula"
)

// The op table: one row per primitive, holding everything the IR knows
// about it (name, class, parameters, fold rule; the lookback rule follows
// from the class). The operators of the language are fixed rows; every
// built-in of formula.Functions gets a row derived from its declaration,
// except those defined by an expansion over other primitives (expansions,
// below). Building, CSE keys, folding, lookback and explain all read this
// table; compute binds each row to a kernel by name. TestOpTable walks it.

// Op is the primitive computed by a node: an index into the op table.
type Op uint16

// The fixed rows. Ops of built-in functions follow numFixedOps, in the
// order of formula.Functions; FuncOp finds them by name.
const (
	OpInvalid Op = iota
	OpSource     // a source column: Column
	OpConst      // a constant: Value
	OpStrEQ      // 1/0: string column Column equals the literal Text (null stays null)
	OpStrNE      // 1/0: Column differs from Text
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
	numFixedOps
)

// Class says how a primitive computes a row, which decides its lookback,
// whether it folds over constants and whether its kernel keeps state.
type Class uint8

const (
	ClassInvalid Class = iota
	// ClassLeaf: a source column or a constant.
	ClassLeaf
	// ClassElementwise: each row from the same row of the arguments.
	ClassElementwise
	// ClassShift: the value K rows earlier (needs K rows of history).
	ClassShift
	// ClassRolling: a trailing window (needs w-1 rows or the duration w).
	ClassRolling
	// ClassDecay: every earlier row with a decaying weight (unbounded; a
	// practical warmup of WarmupHalfLives half-lives).
	ClassDecay
	// ClassCumulative: every earlier row, equally weighted (no warmup is
	// enough; Lookback.All).
	ClassCumulative
)

var classOfFamily = map[string]Class{
	formula.FamilyElementwise: ClassElementwise,
	formula.FamilyShift:       ClassShift,
	formula.FamilyRolling:     ClassRolling,
	formula.FamilyDecay:       ClassDecay,
	formula.FamilyCumulative:  ClassCumulative,
}

// opDef is one row of the op table.
type opDef struct {
	name  string // as written in a formula: "+", "log", "rolling_mean"
	class Class
	// fn is the declaration of a built-in function; nil for operators.
	fn *formula.Func
	// eval is the fold rule of an elementwise primitive (see
	// formula.Func.Eval); nil: never folded.
	eval any
	// infix operators print between their arguments; commutative ones
	// get their arguments in ascending id order, so a+b and b+a are one
	// node. < and > are not swapped into each other: a < b and b > a
	// would be one node, but explain would then show a formula the user
	// did not write, for little gain.
	infix, commutative bool
}

var (
	ops      []opDef
	funcOps  = map[string]Op{}
	binaryOf = map[formula.Op]Op{}
)

func init() {
	ops = make([]opDef, numFixedOps, int(numFixedOps)+len(formula.Functions))
	ops[OpInvalid] = opDef{name: "invalid"}
	ops[OpSource] = opDef{name: "source", class: ClassLeaf}
	ops[OpConst] = opDef{name: "const", class: ClassLeaf}
	ops[OpStrEQ] = opDef{name: "str==", class: ClassLeaf}
	ops[OpStrNE] = opDef{name: "str!=", class: ClassLeaf}
	ops[OpNeg] = opDef{name: "neg", class: ClassElementwise, eval: fmath.Neg}
	for op, row := range map[Op]struct {
		sym  formula.Op
		eval func(a, b float64) float64
		comm bool
	}{
		OpAdd: {formula.OpAdd, fmath.Add, true}, OpSub: {formula.OpSub, fmath.Sub, false},
		OpMul: {formula.OpMul, fmath.Mul, true}, OpDiv: {formula.OpDiv, fmath.Div, false},
		OpPow: {formula.OpPow, fmath.Pow, false},
		OpLT:  {formula.OpLT, fmath.LT, false}, OpLE: {formula.OpLE, fmath.LE, false},
		OpGT: {formula.OpGT, fmath.GT, false}, OpGE: {formula.OpGE, fmath.GE, false},
		OpEQ: {formula.OpEQ, fmath.EQ, true}, OpNE: {formula.OpNE, fmath.NE, true},
	} {
		ops[op] = opDef{name: row.sym.String(), class: ClassElementwise, eval: row.eval, infix: true, commutative: row.comm}
		binaryOf[row.sym] = op
	}
	for _, f := range formula.Functions {
		if _, ok := expansions[f.Name]; ok {
			continue
		}
		class, ok := classOfFamily[f.Family]
		if !ok {
			panic(fmt.Sprintf("ir: function %s has unknown family %q", f.Name, f.Family))
		}
		funcOps[f.Name] = Op(len(ops))
		ops = append(ops, opDef{name: f.Name, class: class, fn: f, eval: f.Eval})
	}
}

// FuncOp returns the primitive of a built-in function, or OpInvalid when
// the function has none (unknown, or defined by an expansion).
func FuncOp(name string) Op { return funcOps[name] }

// NumOps is the number of rows of the op table: every Op is below it.
func NumOps() Op { return Op(len(ops)) }

func (o Op) def() *opDef {
	if int(o) >= len(ops) {
		return &ops[OpInvalid]
	}
	return &ops[o]
}

// String returns the operator or function name as written in a formula.
func (o Op) String() string { return o.def().name }

// Class returns the class of the primitive.
func (o Op) Class() Class { return o.def().class }

// Func returns the declaration of a built-in function's primitive, nil for
// operators and leaves.
func (o Op) Func() *formula.Func { return o.def().fn }

// IsBinary reports whether o is an infix operator (arithmetic or comparison).
func (o Op) IsBinary() bool { return o.def().infix }

// ReadsColumn reports whether o is a leaf reading a source column: the
// column itself, or its comparison with a string.
func (o Op) ReadsColumn() bool { return o == OpSource || o == OpStrEQ || o == OpStrNE }

// IsElementwise reports whether o computes each row from the same row of
// its arguments only (its kernel is stateless and takes broadcast
// constants).
func (o Op) IsElementwise() bool { return o.Class() == ClassElementwise }

func (o Op) commutative() bool { return o.def().commutative }

// arity is the number of series arguments of a function's primitive.
func (o Op) arity() int {
	n := 0
	if f := o.Func(); f != nil {
		for _, p := range f.Params {
			if p.Kind == formula.KindSeries {
				n++
			}
		}
	}
	return n
}

// fold evaluates an elementwise primitive on constants with its fold rule
// (the same function its kernel uses); ok is false when it has none or the
// argument count does not fit.
func (o Op) fold(v []float64) (float64, bool) {
	switch f := o.def().eval.(type) {
	case func(float64) float64:
		if len(v) == 1 {
			return f(v[0]), true
		}
	case func(a, b float64) float64:
		if len(v) == 2 {
			return f(v[0], v[1]), true
		}
	case func(a, b, c float64) float64:
		if len(v) == 3 {
			return f(v[0], v[1], v[2]), true
		}
	}
	return 0, false
}

// expansions define built-ins by other primitives instead of a row of
// their own. diff(x, k) is x - lag(x, k): the lag node is then shared with
// any lag(x, k) elsewhere in the request.
var expansions = map[string]func(x *exprBuilder, b *formula.Bound, args []NodeID) NodeID{
	"diff": func(x *exprBuilder, b *formula.Bound, args []NodeID) NodeID {
		lagged := x.add(Node{Op: FuncOp("lag"), Args: args, Params: formula.Params{K: b.Params.K}})
		return x.add(Node{Op: OpSub, Args: []NodeID{args[0], lagged}})
	},
}
