package formula

import (
	"fmt"
)

// Limits on what Parse accepts. They bound the work and the recursion of
// every later pass over the tree, whatever a request sends.
const (
	// MaxFormulaLen is the longest formula, in bytes.
	MaxFormulaLen = 8 << 10
	// MaxDepth is the deepest nesting of parentheses, calls, unary
	// operators and powers (each counts one level).
	MaxDepth = 64
)

// Parse parses one formula. On failure the error is an *Error (with Src
// set) describing the first problem; Parse never panics.
//
// The grammar is Python's, restricted to what formulas use:
//
//	expr    = arith [ cmpop arith ]          (chained comparisons are rejected)
//	arith   = term { ("+" | "-") term }
//	term    = factor { ("*" | "/") factor }
//	factor  = ("+" | "-") factor | power
//	power   = primary [ "**" factor ]        (so -x**2 is -(x**2), and 2**-1 is allowed)
//	primary = number | string | ident [ "(" [ args ] ")" ] | "(" expr ")"
//	args    = arg { "," arg } [ "," ]
//	arg     = [ ident "=" ] expr             (no positional argument after a keyword one)
func Parse(src string) (Node, error) { return ParseSyntax(src, Syntax{}) }

// Syntax selects variants of the surface syntax, for dialects that
// translate into this language (formula/qlib).
type Syntax struct {
	// Fields accepts Qlib's field syntax: $close is an Ident with Field
	// set and Name "close".
	Fields bool
}

// ParseSyntax is Parse with the variants of s.
func ParseSyntax(src string, s Syntax) (Node, error) {
	n, err := parse(src, s)
	if err != nil {
		err.Src = src
		return nil, err
	}
	return n, nil
}

// Compile parses and checks a formula, returning every problem as Errors
// with Src set. The result is nil only when the formula does not parse;
// with check errors it still holds the tree.
func Compile(src string) (*Checked, error) {
	n, err := parse(src, Syntax{})
	if err != nil {
		err.Src = src
		return nil, Errors{err}
	}
	c, errs := check(n)
	if len(errs) > 0 {
		return c, errs.WithSource(src)
	}
	return c, nil
}

func parse(src string, syn Syntax) (Node, *Error) {
	if len(src) > MaxFormulaLen {
		return nil, newError(PosRange{0, 0}, "formula is %d bytes long; the limit is %d", len(src), MaxFormulaLen)
	}
	p := &parser{lx: lexer{src: src, fields: syn.Fields}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tEOF {
		return nil, newError(p.tok.pos, "empty formula")
	}
	n, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		if err := p.keywordError(); err != nil {
			return nil, err
		}
		msg := fmt.Sprintf("unexpected %s, expected an operator or end of formula", p.tok.describe())
		switch p.tok.kind {
		case tAssign:
			msg += " (use == to compare)"
		case tLParen:
			msg += " (only functions can be called)"
		}
		return nil, newError(p.tok.pos, "%s", msg)
	}
	return n, nil
}

type parser struct {
	lx    lexer
	tok   token
	depth int
}

func (p *parser) advance() *Error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// peek returns the token after the current one without consuming it.
func (p *parser) peek() (token, *Error) {
	lx := p.lx
	return lx.next()
}

func (p *parser) enter(at PosRange) *Error {
	p.depth++
	if p.depth > MaxDepth {
		return newError(at, "formula nests deeper than %d levels", MaxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) parseExpr() (Node, *Error) {
	l, err := p.parseArith()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tOp || !p.tok.op.IsComparison() {
		return l, nil
	}
	op := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	r, err := p.parseArith()
	if err != nil {
		return nil, err
	}
	if p.tok.kind == tOp && p.tok.op.IsComparison() {
		// Python reads a < b < c as (a < b) and (b < c); a formula reading it
		// as (a < b) < c would silently differ, so it must be spelled out.
		return nil, newError(p.tok.pos, "comparisons cannot be chained (%s ... %s); add parentheses", op.text, p.tok.text)
	}
	return &BinaryExpr{Op: op.op, OpPos: op.pos, L: l, R: r, Pos: span(l, r)}, nil
}

func (p *parser) parseArith() (Node, *Error) {
	l, err := p.parseTerm()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tOp && (p.tok.op == OpAdd || p.tok.op == OpSub) {
		op := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseTerm()
		if err != nil {
			return nil, err
		}
		l = &BinaryExpr{Op: op.op, OpPos: op.pos, L: l, R: r, Pos: span(l, r)}
	}
	return l, nil
}

func (p *parser) parseTerm() (Node, *Error) {
	l, err := p.parseFactor()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tOp && (p.tok.op == OpMul || p.tok.op == OpDiv) {
		op := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseFactor()
		if err != nil {
			return nil, err
		}
		l = &BinaryExpr{Op: op.op, OpPos: op.pos, L: l, R: r, Pos: span(l, r)}
	}
	return l, nil
}

func (p *parser) parseFactor() (Node, *Error) {
	if p.tok.kind != tOp || (p.tok.op != OpAdd && p.tok.op != OpSub) {
		return p.parsePower()
	}
	op := p.tok
	if err := p.enter(op.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.parseFactor()
	if err != nil {
		return nil, err
	}
	return &UnaryExpr{Op: op.op, X: x, Pos: PosRange{op.pos.Start, x.PositionRange().End}}, nil
}

func (p *parser) parsePower() (Node, *Error) {
	base, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tOp || p.tok.op != OpPow {
		return base, nil
	}
	op := p.tok
	if err := p.enter(op.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, err
	}
	exp, err := p.parseFactor()
	if err != nil {
		return nil, err
	}
	return &BinaryExpr{Op: OpPow, OpPos: op.pos, L: base, R: exp, Pos: span(base, exp)}, nil
}

func (p *parser) parsePrimary() (Node, *Error) {
	t := p.tok
	switch t.kind {
	case tNumber:
		if err := p.advance(); err != nil {
			return nil, err
		}
		return &NumberLit{Value: t.num, Text: t.text, IsInt: t.isInt, Pos: t.pos}, nil
	case tString:
		if err := p.advance(); err != nil {
			return nil, err
		}
		return &StringLit{Value: t.str, Pos: t.pos}, nil
	case tIdent:
		if pythonKeywords[t.text] && !t.field {
			return nil, newError(t.pos, "%q is a Python keyword and is not supported in formulas", t.text)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind == tLParen && !t.field {
			return p.parseCall(t)
		}
		return &Ident{Name: t.text, Pos: t.pos, Field: t.field}, nil
	case tLParen:
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer p.leave()
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		end, err := p.expectClose(t, false)
		if err != nil {
			return nil, err
		}
		return &ParenExpr{X: x, Pos: PosRange{t.pos.Start, end}}, nil
	}
	return nil, newError(t.pos, "unexpected %s, expected an expression", t.describe())
}

// expectClose consumes the ")" matching open and returns its end offset.
func (p *parser) expectClose(open token, inCall bool) (int, *Error) {
	if p.tok.kind == tRParen {
		end := p.tok.pos.End
		return end, p.advance()
	}
	if err := p.keywordError(); err != nil {
		return 0, err
	}
	want := `")"`
	if inCall {
		want = `"," or ")"`
	}
	line, col := (&Error{Pos: open.pos, Src: p.lx.src}).LineCol()
	return 0, newError(p.tok.pos, "unexpected %s, expected %s to close \"(\" at %d:%d", p.tok.describe(), want, line, col)
}

// keywordError explains a Python keyword met where an operator was due,
// as in `a and b`, rather than calling it an unexpected identifier.
func (p *parser) keywordError() *Error {
	if p.tok.kind != tIdent || !pythonKeywords[p.tok.text] {
		return nil
	}
	hint := ""
	switch p.tok.text {
	case "and":
		hint = "; multiply comparisons instead: (a > 0) * (b > 0)"
	case "or":
		hint = "; use ((a > 0) + (b > 0)) > 0 instead"
	case "if", "else":
		hint = "; conditionals are not supported"
	}
	return newError(p.tok.pos, "%q is a Python keyword and is not supported in formulas%s", p.tok.text, hint)
}

func (p *parser) parseCall(name token) (Node, *Error) {
	open := p.tok
	if err := p.enter(open.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, err
	}
	call := &Call{Func: name.text, FuncPos: name.pos}
	sawKeyword := false
	for p.tok.kind != tRParen {
		var arg Arg
		if p.tok.kind == tIdent {
			next, err := p.peek()
			if err == nil && next.kind == tAssign {
				if pythonKeywords[p.tok.text] {
					return nil, newError(p.tok.pos, "%q is a Python keyword and cannot name an argument", p.tok.text)
				}
				arg.Name, arg.NamePos = p.tok.text, p.tok.pos
				if err := p.advance(); err != nil {
					return nil, err
				}
				if err := p.advance(); err != nil {
					return nil, err
				}
			}
		}
		argStart := p.tok.pos
		v, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if arg.Name == "" && sawKeyword {
			return nil, newError(argStart, "positional argument follows keyword argument")
		}
		sawKeyword = sawKeyword || arg.Name != ""
		arg.Value = v
		call.Args = append(call.Args, arg)
		if p.tok.kind != tComma {
			break
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	end, err := p.expectClose(open, true)
	if err != nil {
		return nil, err
	}
	call.Pos = PosRange{name.pos.Start, end}
	return call, nil
}

func span(l, r Node) PosRange {
	return PosRange{l.PositionRange().Start, r.PositionRange().End}
}
