// Package formula parses feature formulas: a small subset of Python's
// expression syntax (numbers, identifiers, duration strings, calls, unary
// minus, + - * / **, comparisons, parentheses) into an AST whose every node
// knows where it came from, so that later passes can point at the source.
//
// It also holds the one table of built-in functions (functions.go) that the
// checker, the IR builder, the kernels and the docs all read.
package formula

// PosRange is a half-open byte range [Start, End) in the formula text.
type PosRange struct {
	Start, End int
}

// Node is an AST node.
type Node interface {
	// PositionRange is the span of source text the node was parsed from.
	PositionRange() PosRange
	node()
}

// NumberLit is a numeric literal. IsInt is true when the text has no
// fraction or exponent (e.g. "20"), which matters for integer arguments.
type NumberLit struct {
	Value float64
	Text  string
	IsInt bool
	Pos   PosRange
}

// StringLit is a quoted string; in formulas it always spells a duration
// such as '5m' or "500ms".
type StringLit struct {
	Value string // unquoted
	Pos   PosRange
}

// Ident names a source column, an alias, an abstract input of a
// FeatureType, or another feature of the same request.
type Ident struct {
	Name string
	Pos  PosRange
	// Field is set for a Qlib field, written $name (Syntax.Fields): it
	// names a source column (or an alias of one), never another feature.
	Field bool
}

// Arg is one argument of a call; Name is set for keyword arguments
// (`lag(x, k=5)`).
type Arg struct {
	Name    string
	NamePos PosRange
	Value   Node
}

// Call is a function call. Func is the callee name as written.
type Call struct {
	Func    string
	FuncPos PosRange
	Args    []Arg
	Pos     PosRange
}

// UnaryExpr is `-X` (or `+X`).
type UnaryExpr struct {
	Op  Op
	X   Node
	Pos PosRange
}

// BinaryExpr is `L op R` for arithmetic and comparison operators.
type BinaryExpr struct {
	Op    Op
	OpPos PosRange
	L, R  Node
	Pos   PosRange
}

// ParenExpr keeps parentheses so that positions and printing stay faithful.
type ParenExpr struct {
	X   Node
	Pos PosRange
}

// Op is an operator.
type Op int

const (
	OpInvalid Op = iota
	OpAdd        // +
	OpSub        // -
	OpMul        // *
	OpDiv        // /
	OpPow        // **
	OpLT         // <
	OpLE         // <=
	OpGT         // >
	OpGE         // >=
	OpEQ         // ==
	OpNE         // !=
)

var opText = [...]string{
	OpInvalid: "?", OpAdd: "+", OpSub: "-", OpMul: "*", OpDiv: "/", OpPow: "**",
	OpLT: "<", OpLE: "<=", OpGT: ">", OpGE: ">=", OpEQ: "==", OpNE: "!=",
}

// String returns the operator as written in a formula.
func (o Op) String() string {
	if o < 0 || int(o) >= len(opText) {
		return "?"
	}
	return opText[o]
}

// IsComparison reports whether o yields 1.0/0.0.
func (o Op) IsComparison() bool { return o >= OpLT && o <= OpNE }

func (n *NumberLit) PositionRange() PosRange  { return n.Pos }
func (n *StringLit) PositionRange() PosRange  { return n.Pos }
func (n *Ident) PositionRange() PosRange      { return n.Pos }
func (n *Call) PositionRange() PosRange       { return n.Pos }
func (n *UnaryExpr) PositionRange() PosRange  { return n.Pos }
func (n *BinaryExpr) PositionRange() PosRange { return n.Pos }
func (n *ParenExpr) PositionRange() PosRange  { return n.Pos }

func (*NumberLit) node()  {}
func (*StringLit) node()  {}
func (*Ident) node()      {}
func (*Call) node()       {}
func (*UnaryExpr) node()  {}
func (*BinaryExpr) node() {}
func (*ParenExpr) node()  {}
