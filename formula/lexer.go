package formula

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind int

const (
	tEOF tokKind = iota
	tNumber
	tIdent
	tString
	tLParen
	tRParen
	tComma
	tAssign // '=' of a keyword argument
	tOp     // arithmetic or comparison operator; token.op says which
)

type token struct {
	kind  tokKind
	op    Op
	pos   PosRange
	text  string // as written
	str   string // unquoted value of a tString
	field bool   // a tIdent written $name (Syntax.Fields); text is the name without $
	num   float64
	isInt bool
}

// describe names a token the way an error message should quote it.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of formula"
	case tNumber:
		return "number " + t.text
	case tIdent:
		return fmt.Sprintf("identifier %q", t.text)
	case tString:
		return "string " + t.text
	}
	return strconv.Quote(t.text)
}

// lexer is a value so the parser can look one token ahead by copying it.
type lexer struct {
	src    string
	off    int
	fields bool // accept $name identifiers (Syntax.Fields)
}

// unsupported gives a hint for characters that Python accepts but formulas
// do not, so users porting a formula learn what to write instead.
var unsupported = map[string]string{
	"//": "floor division // is not supported",
	"%":  "the modulo operator % is not supported",
	"^":  `"^" is not an operator; write ** for powers`,
	"&":  `"&" is not supported; multiply comparisons (a > 0) * (b > 0) for "and"`,
	"|":  `"|" is not supported`,
	"~":  `"~" is not supported`,
	"@":  `"@" is not supported`,
	"!":  `"!" is not an operator; use != to compare`,
	"[":  "indexing with [ ] is not supported; use lag(x, k) for earlier rows",
	"]":  `unexpected "]"`,
	"{":  `unexpected "{"`,
	"}":  `unexpected "}"`,
	":":  `unexpected ":"`,
	";":  "a formula is one expression; \";\" is not allowed",
	"#":  "comments are not supported in formulas",
	"`":  "backquotes are not string delimiters; quote durations with ' or \"",
	"$":  `$name is Qlib's field syntax: give the spec "dialect": "qlib" (docs/qlib.md)`,
}

// pythonKeywords cannot be identifiers in Python, so no formula written
// for the Python system uses them as column names; rejecting them turns
// `a and b` into a clear message instead of a confusing one.
var pythonKeywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true,
	"async": true, "await": true, "break": true, "class": true, "continue": true,
	"def": true, "del": true, "elif": true, "else": true, "except": true, "finally": true,
	"for": true, "from": true, "global": true, "if": true, "import": true, "in": true,
	"is": true, "lambda": true, "nonlocal": true, "not": true, "or": true, "pass": true,
	"raise": true, "return": true, "try": true, "while": true, "with": true, "yield": true,
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }

func isIdentPart(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

func (l *lexer) next() (token, *Error) {
	src := l.src
	for l.off < len(src) {
		switch src[l.off] {
		case ' ', '\t', '\n', '\r', '\f':
			l.off++
			continue
		}
		break
	}
	start := l.off
	if start >= len(src) {
		return token{kind: tEOF, pos: PosRange{start, start}}, nil
	}
	c := src[start]
	tok := func(k tokKind, op Op, n int) (token, *Error) {
		l.off = start + n
		return token{kind: k, op: op, pos: PosRange{start, start + n}, text: src[start : start+n]}, nil
	}
	two := ""
	if start+1 < len(src) {
		two = src[start : start+2]
	}
	switch two {
	case "**":
		return tok(tOp, OpPow, 2)
	case "<=":
		return tok(tOp, OpLE, 2)
	case ">=":
		return tok(tOp, OpGE, 2)
	case "==":
		return tok(tOp, OpEQ, 2)
	case "!=":
		return tok(tOp, OpNE, 2)
	case "//":
		return token{}, newError(PosRange{start, start + 2}, "%s", unsupported["//"])
	case "<>":
		return token{}, newError(PosRange{start, start + 2}, `"<>" is not an operator; use != to compare`)
	}
	switch c {
	case '+':
		return tok(tOp, OpAdd, 1)
	case '-':
		return tok(tOp, OpSub, 1)
	case '*':
		return tok(tOp, OpMul, 1)
	case '/':
		return tok(tOp, OpDiv, 1)
	case '<':
		return tok(tOp, OpLT, 1)
	case '>':
		return tok(tOp, OpGT, 1)
	case '(':
		return tok(tLParen, OpInvalid, 1)
	case ')':
		return tok(tRParen, OpInvalid, 1)
	case ',':
		return tok(tComma, OpInvalid, 1)
	case '=':
		return tok(tAssign, OpInvalid, 1)
	case '\'', '"':
		return l.lexString(start)
	}
	if isDigit(c) || (c == '.' && start+1 < len(src) && isDigit(src[start+1])) {
		return l.lexNumber(start)
	}
	if c == '$' && l.fields {
		return l.lexField(start)
	}
	r, size := utf8.DecodeRuneInString(src[start:])
	if r == utf8.RuneError && size <= 1 {
		return token{}, newError(PosRange{start, start + 1}, "invalid UTF-8 byte 0x%02x", c)
	}
	if isIdentStart(r) {
		end := identEnd(src, start+size)
		l.off = end
		return token{kind: tIdent, pos: PosRange{start, end}, text: src[start:end]}, nil
	}
	pos := PosRange{start, start + size}
	if hint, ok := unsupported[string(r)]; ok {
		return token{}, newError(pos, "%s", hint)
	}
	if unicode.IsPrint(r) {
		return token{}, newError(pos, "unexpected character %q", string(r))
	}
	return token{}, newError(pos, "unexpected character %U", r)
}

// identEnd is the end of the identifier whose first rune ends at i.
func identEnd(src string, i int) int {
	for i < len(src) {
		r, n := utf8.DecodeRuneInString(src[i:])
		if !isIdentPart(r) || (r == utf8.RuneError && n <= 1) {
			break
		}
		i += n
	}
	return i
}

// lexField reads a Qlib field, $ glued to an identifier ($close).
func (l *lexer) lexField(start int) (token, *Error) {
	r, size := utf8.DecodeRuneInString(l.src[start+1:])
	if !isIdentStart(r) || (r == utf8.RuneError && size <= 1) {
		return token{}, newError(PosRange{start, start + 1}, "$ must be followed by a field name, as in $close")
	}
	end := identEnd(l.src, start+1+size)
	l.off = end
	return token{kind: tIdent, field: true, pos: PosRange{start, end}, text: l.src[start+1 : end]}, nil
}

// lexNumber reads Python's decimal literal forms: 20, 0.5, .5, 5., 1e-3.
func (l *lexer) lexNumber(start int) (token, *Error) {
	src := l.src
	i := start
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	isInt := true
	if i < len(src) && src[i] == '.' {
		isInt = false
		i++
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		j := i + 1
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if j < len(src) && isDigit(src[j]) {
			isInt = false
			for i = j; i < len(src) && isDigit(src[i]); i++ {
			}
		}
	}
	// A letter, digit or dot glued to the number makes it malformed. The
	// commonest case is an unquoted duration, which deserves its own hint.
	if i < len(src) {
		r, _ := utf8.DecodeRuneInString(src[i:])
		if isIdentPart(r) || r == '.' {
			j := i
			for j < len(src) {
				r, n := utf8.DecodeRuneInString(src[j:])
				if !(isIdentPart(r) || r == '.') || (r == utf8.RuneError && n <= 1) {
					break
				}
				j += n
			}
			word := src[start:j]
			pos := PosRange{start, j}
			if _, err := ParseDuration(word); err == nil {
				return token{}, newError(pos, "durations must be quoted: '%s'", word)
			}
			return token{}, newError(pos, "malformed number %q", word)
		}
	}
	text := src[start:i]
	pos := PosRange{start, i}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return token{}, newError(pos, "number %s is out of range", text)
		}
		return token{}, newError(pos, "malformed number %q", text)
	}
	l.off = i
	return token{kind: tNumber, pos: pos, text: text, num: v, isInt: isInt}, nil
}

// lexString reads a single- or double-quoted string on one line, with the
// escapes that Format writes back.
func (l *lexer) lexString(start int) (token, *Error) {
	src := l.src
	q := src[start]
	var b strings.Builder
	i := start + 1
	for {
		if i >= len(src) || src[i] == '\n' || src[i] == '\r' {
			return token{}, newError(PosRange{start, i}, "unterminated string")
		}
		c := src[i]
		if c == q {
			i++
			break
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(src) {
			return token{}, newError(PosRange{start, i + 1}, "unterminated string")
		}
		switch e := src[i+1]; e {
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		default:
			r, n := utf8.DecodeRuneInString(src[i+1:])
			return token{}, newError(PosRange{i, i + 1 + n}, "unknown escape \\%s in string", string(r))
		}
		i += 2
	}
	l.off = i
	return token{kind: tString, pos: PosRange{start, i}, text: src[start:i], str: b.String()}, nil
}
