package formula

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error is one problem in a formula, at a byte range of its text.
//
// Parse returns a single *Error (it stops at the first syntax error: later
// ones would mostly be echoes of it). Check and Compile return Errors, every
// problem found, ordered by position.
type Error struct {
	Pos PosRange
	Msg string
	// Src is the formula text. It turns byte offsets into line:col and feeds
	// Render. Errors from Check have no Src (Check sees only the tree); Compile
	// and Errors.WithSource fill it in.
	Src string
}

func newError(pos PosRange, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// LineCol is the 1-based line and column of the start of the range; the
// column counts runes, so a caret lines up under non-ASCII text. Without Src
// the byte offset stands in for the column on line 1.
func (e *Error) LineCol() (line, col int) {
	start := e.Pos.Start
	if e.Src == "" {
		return 1, max(start, 0) + 1
	}
	start = min(max(start, 0), len(e.Src))
	before := e.Src[:start]
	line = 1 + strings.Count(before, "\n")
	lineStart := strings.LastIndexByte(before, '\n') + 1
	return line, 1 + utf8.RuneCountInString(before[lineStart:])
}

// Error returns "line:col: message".
func (e *Error) Error() string {
	line, col := e.LineCol()
	return fmt.Sprintf("%d:%d: %s", line, col, e.Msg)
}

// Render returns Error() followed, when the source is known, by the source
// line and a caret under the start of the range, as cel-go prints issues:
//
//	1:1: rolling_mean expects 2 or 3 arguments, got 1
//	 | rolling_mean(x)
//	 | ^
func (e *Error) Render() string {
	head := e.Error()
	if e.Src == "" {
		return head
	}
	start := min(max(e.Pos.Start, 0), len(e.Src))
	lineStart := strings.LastIndexByte(e.Src[:start], '\n') + 1
	lineEnd := strings.IndexByte(e.Src[start:], '\n')
	if lineEnd < 0 {
		lineEnd = len(e.Src)
	} else {
		lineEnd += start
	}
	// Control characters would garble the terminal; each stands as one
	// "?" so the caret stays in its column.
	text := strings.Map(func(r rune) rune {
		if r != '\t' && !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, strings.TrimRight(e.Src[lineStart:lineEnd], "\r"))
	// Tabs are copied into the padding so the caret stays aligned whatever
	// the terminal's tab width.
	var pad strings.Builder
	for _, r := range e.Src[lineStart:start] {
		if r == '\t' {
			pad.WriteByte('\t')
		} else {
			pad.WriteByte(' ')
		}
	}
	return fmt.Sprintf("%s\n | %s\n | %s^", head, text, pad.String())
}

// Errors is every problem found in a formula, ordered by position; the
// first is the primary one. A non-nil Errors is never empty.
type Errors []*Error

// Error returns the errors as "line:col: message", one per line.
func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Render renders every error with its caret line, separated by newlines.
func (es Errors) Render() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Render()
	}
	return strings.Join(parts, "\n")
}

// Unwrap lets errors.As find the primary *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// WithSource sets Src on every error, so positions print as line:col of
// src and Render can show the line. It modifies and returns es.
func (es Errors) WithSource(src string) Errors {
	for _, e := range es {
		e.Src = src
	}
	return es
}

// Render renders any error: an *Error or Errors with carets, anything else
// as its Error text. Callers that print to people use this.
func Render(err error) string {
	var es Errors
	if errors.As(err, &es) {
		return es.Render()
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Render()
	}
	if err == nil {
		return ""
	}
	return err.Error()
}
