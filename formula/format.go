package formula

import (
	"math"
	"strconv"
	"strings"
)

// Binding strengths, Python's order. Unary minus sits between * and **:
// -x**2 is -(x**2), while the exponent of ** may itself be unary (2**-1).
const (
	precCmp = iota + 1
	precAdd
	precMul
	precUnary
	precPow
	precAtom
)

func precOf(n Node) int {
	switch n := n.(type) {
	case *ParenExpr:
		return precOf(n.X)
	case *UnaryExpr:
		return precUnary
	case *BinaryExpr:
		switch {
		case n.Op.IsComparison():
			return precCmp
		case n.Op == OpAdd || n.Op == OpSub:
			return precAdd
		case n.Op == OpMul || n.Op == OpDiv:
			return precMul
		case n.Op == OpPow:
			return precPow
		}
	case *NumberLit:
		// A hand-built negative literal prints with its sign, so it binds
		// like a unary minus.
		if n.Value < 0 || (n.Value == 0 && math.Signbit(n.Value)) {
			return precUnary
		}
	}
	return precAtom
}

// Format returns the canonical text of a formula: parentheses only where
// precedence needs them, one space around binary operators, numbers in
// shortest round-trip form (integer literals as integers, other numbers
// always with a "." or exponent so they stay non-integer), strings in
// single quotes, keyword arguments as name=value. Parse(Format(n)) yields n
// again, up to positions and redundant parentheses, which makes Format the
// text to hash for a feature's identity.
func Format(n Node) string {
	var b strings.Builder
	format(&b, n)
	return b.String()
}

func format(b *strings.Builder, n Node) {
	switch n := n.(type) {
	case *NumberLit:
		b.WriteString(formatNumber(n))
	case *StringLit:
		b.WriteString(quote(n.Value))
	case *Ident:
		b.WriteString(n.Name)
	case *ParenExpr:
		format(b, n.X)
	case *Call:
		b.WriteString(n.Func)
		b.WriteByte('(')
		for i, a := range n.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			if a.Name != "" {
				b.WriteString(a.Name)
				b.WriteByte('=')
			}
			format(b, a.Value)
		}
		b.WriteByte(')')
	case *UnaryExpr:
		b.WriteString(n.Op.String())
		formatOperand(b, n.X, precOf(n.X) < precUnary)
	case *BinaryExpr:
		p := precOf(n)
		lp, rp := precOf(n.L), precOf(n.R)
		var wrapL, wrapR bool
		switch {
		case n.Op == OpPow:
			// The base must be a primary; the exponent a factor.
			wrapL, wrapR = lp < precAtom, rp < precUnary
		case n.Op.IsComparison():
			// Comparisons do not chain, so a comparison operand needs
			// parentheses on either side.
			wrapL, wrapR = lp <= p, rp <= p
		default:
			wrapL, wrapR = lp < p, rp <= p
		}
		formatOperand(b, n.L, wrapL)
		b.WriteByte(' ')
		b.WriteString(n.Op.String())
		b.WriteByte(' ')
		formatOperand(b, n.R, wrapR)
	default:
		// nil or a foreign Node: print something that cannot parse, rather
		// than panic or print a plausible formula.
		b.WriteString("<?>")
	}
}

func formatOperand(b *strings.Builder, n Node, wrap bool) {
	if wrap {
		b.WriteByte('(')
	}
	format(b, n)
	if wrap {
		b.WriteByte(')')
	}
}

func formatNumber(n *NumberLit) string {
	v := n.Value
	if n.IsInt && !math.IsInf(v, 0) && !math.IsNaN(v) && v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eIN") {
		s += ".0"
	}
	return s
}

// quote writes s as a single-quoted literal using only the escapes the
// lexer reads back.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
