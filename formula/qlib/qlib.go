// Package qlib is the Qlib dialect of the formula language: expressions as
// Microsoft Qlib writes them (`Mean($close, 5) / $close`, qlib/data/ops.py),
// translated into fdag's own formula tree, so the one engine computes them
// and CSE, lookback, explain and lowering work unchanged. There is no
// second engine: every Qlib operator is a composition of fdag built-ins
// (table.go), chosen to reproduce Qlib's semantics where they differ from
// fdag's (partial windows, NaN comparisons, Corr's near-constant rule...).
// docs/qlib.md is generated from the table.
//
// A translated tree keeps the positions of the Qlib text, so errors point
// into what the user wrote.
package qlib

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/featuredag/fdag/formula"
)

// Name is the dialect's name in a spec ("dialect": "qlib").
const Name = "qlib"

// Detect reports whether a formula is written in Qlib's syntax: a $field
// anywhere ($ is not a character of fdag's own syntax, so a formula with
// one cannot be fdag's).
func Detect(src string) bool { return strings.Contains(src, "$") }

// Compile parses a Qlib expression, translates it and checks the result
// against fdag's function table. Errors are formula.Errors with Src set to
// src, positioned in src. With only check errors the result holds the
// translated tree.
func Compile(src string) (*formula.Checked, error) {
	n, err := formula.ParseSyntax(src, formula.Syntax{Fields: true})
	if err != nil {
		return nil, formula.Errors{asError(err)}.WithSource(src)
	}
	t := &translator{}
	root := t.expr(n)
	if len(t.errs) > 0 {
		return nil, sorted(t.errs).WithSource(src)
	}
	c, err := formula.Check(root)
	if err != nil {
		var es formula.Errors
		if e, ok := err.(formula.Errors); ok {
			es = e
		} else {
			es = formula.Errors{asError(err)}
		}
		return c, sorted(es).WithSource(src)
	}
	return c, nil
}

func asError(err error) *formula.Error {
	if e, ok := err.(*formula.Error); ok {
		return e
	}
	return &formula.Error{Msg: err.Error()}
}

func sorted(es formula.Errors) formula.Errors {
	slices.SortStableFunc(es, func(a, b *formula.Error) int { return cmp.Compare(a.Pos.Start, b.Pos.Start) })
	return es
}

type translator struct {
	errs formula.Errors
}

func (t *translator) errorf(pos formula.PosRange, format string, args ...any) {
	t.errs = append(t.errs, &formula.Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// expr translates one node. On an error it records it and returns a
// placeholder, so that every problem of the formula is reported at once.
func (t *translator) expr(n formula.Node) formula.Node {
	switch n := n.(type) {
	case *formula.NumberLit, *formula.Ident:
		return n
	case *formula.StringLit:
		t.errorf(n.Pos, "strings are not values in Qlib expressions")
		return n
	case *formula.ParenExpr:
		return &formula.ParenExpr{X: t.expr(n.X), Pos: n.Pos}
	case *formula.UnaryExpr:
		return &formula.UnaryExpr{Op: n.Op, X: t.expr(n.X), Pos: n.Pos}
	case *formula.BinaryExpr:
		l, r := t.expr(n.L), t.expr(n.R)
		if n.Op.IsComparison() {
			return compare(n.Op, l, r, n.Pos)
		}
		return &formula.BinaryExpr{Op: n.Op, OpPos: n.OpPos, L: l, R: r, Pos: n.Pos}
	case *formula.Call:
		return t.call(n)
	}
	t.errorf(formula.PosRange{}, "missing expression")
	return &formula.NumberLit{Value: math.NaN(), Text: "nan"}
}

// call binds a Qlib call to its operator's parameters (positionally or by
// Qlib's own keyword names), checks the integer arguments and builds the
// fdag tree of the operator.
func (t *translator) call(c *formula.Call) formula.Node {
	op := lookup(c.Func)
	if op == nil {
		msg := fmt.Sprintf("unknown Qlib operator %q", c.Func)
		if s := suggest(c.Func); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		} else if formula.LookupFunc(c.Func) != nil {
			msg += fmt.Sprintf(" (%s is an fdag built-in: fdag formulas are written without $fields and without \"dialect\": \"qlib\")", c.Func)
		}
		t.errorf(c.FuncPos, "%s", msg)
		return c
	}
	if op.Unsupported != "" {
		t.errorf(c.FuncPos, "%s is not supported: %s", op.Name, op.Unsupported)
		return c
	}
	args := make([]formula.Node, len(op.Params))
	ok := true
	sawKeyword := false
	for i, a := range c.Args {
		j := i
		if a.Name != "" {
			sawKeyword = true
			j = slices.IndexFunc(op.Params, func(p param) bool { return p.name == a.Name })
			if j < 0 {
				t.errorf(a.NamePos, "%s has no parameter %q (parameters: %s)", op.Name, a.Name, op.signature())
				ok = false
				continue
			}
		} else if sawKeyword {
			t.errorf(a.Value.PositionRange(), "positional argument follows keyword argument")
			ok = false
			continue
		}
		if j >= len(args) {
			t.errorf(c.Pos, "%s takes %d arguments (%s), got %d", op.Name, len(op.Params), op.signature(), len(c.Args))
			return c
		}
		if args[j] != nil {
			t.errorf(a.NamePos, "%s: argument %s is given twice", op.Name, op.Params[j].name)
			ok = false
			continue
		}
		args[j] = a.Value
	}
	for i, p := range op.Params {
		if args[i] == nil && ok {
			t.errorf(c.Pos, "%s: missing argument %s (%s)", op.Name, p.name, op.signature())
			ok = false
		}
	}
	if !ok {
		return c
	}
	a := &call{t: t, op: op, c: c}
	for i, p := range op.Params {
		switch p.kind {
		case argSeries:
			a.series = append(a.series, t.expr(args[i]))
		default:
			v, good := t.number(op, p, args[i])
			ok = ok && good
			a.nums = append(a.nums, v)
			a.numPos = append(a.numPos, args[i].PositionRange())
		}
	}
	if !ok {
		return c
	}
	return op.build(a)
}

// number checks a non-series argument of a Qlib operator.
func (t *translator) number(op *Func, p param, n formula.Node) (float64, bool) {
	v, ok := formula.NumberValue(n)
	_, isInt := formula.IntValue(n)
	pos := n.PositionRange()
	switch {
	case !ok:
		t.errorf(pos, "%s: %s must be a number literal, got %s", op.Name, p.name, formula.Format(n))
		return 0, false
	case p.kind == argWindow && (!isInt || v < 0):
		if v > 0 && v < 1 {
			t.errorf(pos, "%s: N = %s: Qlib turns a window in (0, 1) into an exponential mean with alpha N; write EMA(x, %s)", op.Name, formula.Format(n), formula.Format(n))
		} else {
			t.errorf(pos, "%s: N must be a positive integer (rows), got %s", op.Name, formula.Format(n))
		}
		return 0, false
	case p.kind == argWindow && v == 0:
		t.errorf(pos, "%s: N = 0 is Qlib's expanding window (all rows since the start of the loaded range, so it depends on where a query starts); it is not supported: give a window of rows", op.Name)
		return 0, false
	case p.kind == argShift && !isInt:
		t.errorf(pos, "%s: N must be an integer (rows), got %s", op.Name, formula.Format(n))
		return 0, false
	case p.kind == argShift && v < 0:
		t.errorf(pos, "%s: N = %s reads %d rows ahead: a feature sees only the current and earlier rows (no look-ahead); future values belong in labels (fdag labels)", op.Name, formula.Format(n), int64(-v))
		return 0, false
	case p.kind == argShift && v == 0 && op.Name == "Ref":
		t.errorf(pos, "Ref: N = 0 is Qlib's first value of the loaded range (it depends on where a query starts); it is not supported: use the series itself, or Ref(x, k) with k > 0")
		return 0, false
	case p.kind == argSpan && !(v > 0):
		t.errorf(pos, "%s: N must be a positive number (a span >= 1, or an alpha in (0, 1)), got %s; N = 0 (expanding) is not supported", op.Name, formula.Format(n))
		return 0, false
	}
	return v, true
}

// suggest returns the Qlib operator closest to name when it is a likely
// typo (or the same name in another case: mean for Mean).
func suggest(name string) string {
	best, bestD := "", max(1, len([]rune(name))/3)+1
	for _, f := range Functions {
		if strings.EqualFold(f.Name, name) {
			return f.Name
		}
		if d := formula.EditDistance(name, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	}
	return best
}
