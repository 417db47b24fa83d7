package formula

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// maxIntArg keeps integer arguments exactly representable in a float64,
// which is how the parser holds every number.
const maxIntArg = 1 << 53

// Check validates every call in the tree against the function table:
// known names, arity, keyword names, and argument kinds. It also rejects
// string literals anywhere but a window or half-life argument. It returns
// the checked tree, every call bound to its function (see Bound), and nil
// or Errors with every problem, ordered by position; their Src is empty
// (use Compile, or Errors.WithSource, for line:col of a multi-line formula).
// The Checked result is returned even with errors (its Root is n).
func Check(n Node) (*Checked, error) {
	c, errs := check(n)
	if len(errs) > 0 {
		return c, errs
	}
	return c, nil
}

func check(n Node) (*Checked, Errors) {
	c := &checker{out: &Checked{Root: n, calls: map[*Call]*Bound{}}}
	c.walk(n)
	slices.SortStableFunc(c.errs, func(a, b *Error) int { return cmp.Compare(a.Pos.Start, b.Pos.Start) })
	return c.out, c.errs
}

type checker struct {
	errs Errors
	out  *Checked
}

func (c *checker) report(e *Error) { c.errs = append(c.errs, e) }

func (c *checker) walk(n Node) {
	switch n := n.(type) {
	case *StringLit:
		c.report(newError(n.Pos, "string %s is only allowed as a window or half-life argument, or compared with a string column (side == 'buy')", quote(n.Value)))
	case *UnaryExpr:
		c.walk(n.X)
	case *BinaryExpr:
		if _, _, ok := StringComparison(n); ok {
			return
		}
		if c.misusedString(n) {
			return
		}
		c.walk(n.L)
		c.walk(n.R)
	case *ParenExpr:
		c.walk(n.X)
	case *Call:
		c.walkCall(n)
	case nil:
		// A hand-built tree may hold nil; there is no position to blame.
		c.report(newError(PosRange{}, "missing expression"))
	}
}

// StringComparison reports whether n compares a column with a string
// literal, `side == 'buy'` or `'buy' != side` (parentheses allowed): a
// string column gives 1 where it equals (differs from) the literal, 0
// elsewhere, null where it is null. Whether the column holds strings is
// known only with the data; the IR and compute check it.
func StringComparison(n *BinaryExpr) (col *Ident, lit *StringLit, ok bool) {
	if n.Op != OpEQ && n.Op != OpNE {
		return nil, nil, false
	}
	l, r := unparen(n.L), unparen(n.R)
	if s, isStr := l.(*StringLit); isStr {
		l, r = r, s
	}
	col, isIdent := l.(*Ident)
	lit, isStr := r.(*StringLit)
	return col, lit, isIdent && isStr
}

// misusedString reports a comparison or arithmetic with a string literal
// that is not a StringComparison, with an error at the string that says
// what would work; it reports whether it did.
func (c *checker) misusedString(n *BinaryExpr) bool {
	var lit *StringLit
	other := n.R
	if s, ok := unparen(n.L).(*StringLit); ok {
		lit = s
	} else if s, ok := unparen(n.R).(*StringLit); ok {
		lit, other = s, n.L
	}
	switch {
	case lit == nil:
		return false
	case n.Op == OpEQ || n.Op == OpNE:
		if _, two := unparen(other).(*StringLit); two {
			c.report(newError(lit.Pos, "comparing two strings (%s %s %s) is constant; compare a string column with a string, as in side == 'buy'", brief(n.L), n.Op, brief(n.R)))
		} else {
			c.report(newError(lit.Pos, "string %s can only be compared with a column name (as in side == 'buy'), not with %s", quote(lit.Value), brief(other)))
			c.walk(other)
		}
	case n.Op.IsComparison():
		c.report(newError(n.OpPos, "strings compare only with == and !=, not %s", n.Op))
		c.walk(other)
	default:
		c.report(newError(lit.Pos, "string %s cannot be an operand of %s: a string is a window or half-life argument, or compared with a string column (side == 'buy')", quote(lit.Value), n.Op))
		c.walk(other)
	}
	return true
}

func (c *checker) walkCall(call *Call) {
	f, args, ok := bind(call, c.report)
	if !ok {
		// The arguments cannot be matched to parameters, but problems
		// inside them are still worth reporting. Strings are skipped: the
		// binding error already explains that call.
		for _, a := range call.Args {
			if _, isStr := unparen(a.Value).(*StringLit); !isStr {
				c.walk(a.Value)
			}
		}
		return
	}
	b := &Bound{Func: f, Call: call}
	before := len(c.errs)
	for i := range args {
		p := f.Params[min(i, len(f.Params)-1)] // a variadic call repeats the last
		switch {
		case p.Kind == KindSeries:
			b.Series = append(b.Series, args[i])
		case args[i] == nil && p.Default != nil:
			b.Params.set(p.Kind, *p.Default)
		}
		if args[i] != nil {
			c.checkArg(f, p, args[i], &b.Params)
		}
	}
	if len(c.errs) > before {
		return
	}
	for i, p := range f.Params {
		if p.Kind == KindMinSamples {
			// Resolved after the window it depends on.
			c.resolveMinSamples(f, p, args[i], &b.Params)
		}
	}
	if len(c.errs) == before {
		c.out.calls[call] = b
	}
}

// resolveMinSamples applies Polars' default (the window length for a row
// window, so the result is null until the window is full; 1 for a duration
// window) and refuses a min_samples no window can reach.
func (c *checker) resolveMinSamples(f *Func, p Param, arg Node, ps *Params) {
	def := ps.Window.Rows
	if ps.Window.Dur > 0 {
		def = 1
	}
	if arg == nil {
		ps.MinSamples = def
		return
	}
	if ps.Window.Rows > 0 && ps.MinSamples > ps.Window.Rows {
		c.report(newError(arg.PositionRange(), "%s: %s (%d) exceeds the window (%d rows), so every value would be null", f.Name, p.Name, ps.MinSamples, ps.Window.Rows))
	}
}

func (c *checker) checkArg(f *Func, p Param, arg Node, ps *Params) {
	lit := unparen(arg)
	switch p.Kind {
	case KindSeries:
		if s, ok := lit.(*StringLit); ok {
			c.report(newError(s.Pos, "%s: %s must be a series, got string %s", f.Name, p.Name, quote(s.Value)))
			return
		}
		c.walk(arg)
	case KindInt, KindMinSamples:
		v, isInt, ok := literal(arg)
		if !ok || !isInt || v < float64(p.Min) || (p.Max == 0 && v > maxIntArg) {
			c.report(newError(arg.PositionRange(), "%s: %s must be %s, got %s", f.Name, p.Name, intDesc(p.Min), brief(arg)))
			return
		}
		if c.withinMax(f, p, arg, v) {
			ps.set(p.Kind, v)
		}
	case KindQuantile:
		v, ok := NumberValue(arg)
		if !ok || !(v >= 0 && v <= 1) {
			c.report(newError(arg.PositionRange(), "%s: %s must be a number in [0, 1], got %s", f.Name, p.Name, brief(arg)))
			return
		}
		ps.Q = v
	case KindWindow, KindHalfLife:
		if s, ok := lit.(*StringLit); ok {
			d, err := ParseDuration(s.Value)
			switch {
			case err != nil:
				c.report(newError(s.Pos, "%s: %s: %v", f.Name, p.Name, err))
			case d > MaxDuration:
				c.report(newError(s.Pos, "%s: %s must be at most '%s', got %s", f.Name, p.Name, maxDurationText, quote(s.Value)))
			case p.Kind == KindWindow:
				ps.Window = Window{Dur: d}
			default:
				ps.HalfLife = HalfLife{Dur: d}
			}
			return
		}
		if p.Kind == KindWindow {
			v, isInt, ok := literal(arg)
			if ok && isInt && v >= 1 {
				if c.withinMax(f, p, arg, v) {
					ps.Window = Window{Rows: int(v)}
				}
				return
			}
			c.report(newError(arg.PositionRange(), "%s: %s must be a positive integer (rows) or a duration string such as '5m', got %s", f.Name, p.Name, brief(arg)))
			return
		}
		if v, ok := NumberValue(arg); !ok || !(v > 0) || math.IsInf(v, 0) {
			c.report(newError(arg.PositionRange(), "%s: %s must be a positive number (rows) or a duration string such as '30s', got %s", f.Name, p.Name, brief(arg)))
		} else if c.withinMax(f, p, arg, v) {
			ps.HalfLife = HalfLife{Rows: v}
		}
	}
}

// maxDurationText is MaxDuration as users write it (FormatDuration would
// say 521w3d).
var maxDurationText = strconv.FormatInt(MaxDuration/(24*3600e9), 10) + "d"

// withinMax reports a row count above the parameter's bound (see
// MaxWindowRows) and says whether v is within it.
func (c *checker) withinMax(f *Func, p Param, arg Node, v float64) bool {
	if p.Max == 0 || v <= p.Max {
		return true
	}
	c.report(newError(arg.PositionRange(), "%s: %s must be at most %s, got %s", f.Name, p.Name, p.bound(), brief(arg)))
	return false
}

func intDesc(min int) string {
	switch min {
	case 0:
		return "a non-negative integer"
	case 1:
		return "a positive integer"
	}
	return fmt.Sprintf("an integer >= %d", min)
}

// brief is an argument as an error message quotes it: canonical text, cut
// short so a huge sub-expression does not drown the message.
func brief(n Node) string {
	s := Format(n)
	if r := []rune(s); len(r) > 40 {
		s = string(r[:37]) + "..."
	}
	return s
}

// BindArgs matches a call's arguments to its function's parameters, in
// table order, so the IR builder need not repeat the rules. args has one
// entry per Param, nil for an optional parameter left out (use its Default
// or DefaultDoc). Keyword arguments are placed by name. err, if any, is
// Errors; f is nil only when the function is unknown, and args may then be
// nil or partial. BindArgs does not check argument kinds; Check does.
func BindArgs(c *Call) (f *Func, args []Node, err error) {
	var errs Errors
	f, args, _ = bind(c, func(e *Error) { errs = append(errs, e) })
	if len(errs) > 0 {
		return f, args, errs
	}
	return f, args, nil
}

func bind(c *Call, report func(*Error)) (*Func, []Node, bool) {
	f := LookupFunc(c.Func)
	if f == nil {
		msg := fmt.Sprintf("unknown function %q", c.Func)
		if s := suggestFunc(c.Func); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		report(newError(c.FuncPos, "%s", msg))
		return nil, nil, false
	}
	positional := 0
	for _, a := range c.Args {
		if a.Name == "" {
			positional++
		}
	}
	// Too many arguments is reported as arity, but a call with keywords
	// is first checked name by name: "k given twice" says more than a count.
	if positional > f.MaxArgs() || (len(c.Args) > f.MaxArgs() && positional == len(c.Args)) {
		report(newError(c.Pos, "%s expects %s, got %d", f.Name, arity(f), len(c.Args)))
		return f, nil, false
	}
	n := len(f.Params)
	if f.Variadic {
		n = max(n, positional) // the last parameter, repeated
	}
	args := make([]Node, n)
	byKeyword := make([]bool, n)
	ok := true
	sawKeyword := false
	for i, a := range c.Args {
		if a.Name == "" {
			if sawKeyword {
				pos := c.Pos
				if a.Value != nil {
					pos = a.Value.PositionRange()
				}
				report(newError(pos, "positional argument follows keyword argument"))
				ok = false
				continue
			}
			args[i] = a.Value
			continue
		}
		sawKeyword = true
		j := slices.IndexFunc(f.Params, func(p Param) bool { return p.Name == a.Name })
		switch {
		case j < 0:
			report(newError(a.NamePos, "%s has no parameter %q (parameters: %s)", f.Name, a.Name, paramNames(f)))
			ok = false
		case args[j] != nil && byKeyword[j]:
			report(newError(a.NamePos, "%s: argument %s is given twice", f.Name, a.Name))
			ok = false
		case args[j] != nil:
			report(newError(a.NamePos, "%s: argument %s is given both by position and by name", f.Name, a.Name))
			ok = false
		default:
			args[j], byKeyword[j] = a.Value, true
		}
	}
	if !ok {
		return f, args, false
	}
	if len(c.Args) < f.MinArgs() {
		report(newError(c.Pos, "%s expects %s, got %d", f.Name, arity(f), len(c.Args)))
		return f, args, false
	}
	for i, p := range f.Params {
		if args[i] == nil && !p.Optional {
			report(newError(c.Pos, "%s: missing argument %s", f.Name, p.Name))
			ok = false
		}
	}
	return f, args, ok
}

func arity(f *Func) string {
	lo, hi := f.MinArgs(), f.MaxArgs()
	if f.Variadic {
		return fmt.Sprintf("%d or more arguments", lo)
	}
	plural := func(n int) string {
		if n == 1 {
			return "argument"
		}
		return "arguments"
	}
	switch {
	case lo == hi:
		return fmt.Sprintf("%d %s", lo, plural(lo))
	case hi == lo+1:
		return fmt.Sprintf("%d or %d arguments", lo, hi)
	}
	return fmt.Sprintf("%d to %d arguments", lo, hi)
}

func paramNames(f *Func) string {
	names := make([]string, len(f.Params))
	for i, p := range f.Params {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

func unparen(n Node) Node {
	for {
		p, ok := n.(*ParenExpr)
		if !ok {
			return n
		}
		n = p.X
	}
}

// NumberValue returns the value of a number literal, possibly in
// parentheses and under unary signs (`-1`, `(+2.5)`).
func NumberValue(n Node) (float64, bool) {
	v, _, ok := literal(n)
	return v, ok
}

// IntValue returns the value of an integer literal (written without a
// fraction or exponent), possibly signed or in parentheses.
func IntValue(n Node) (int64, bool) {
	v, isInt, ok := literal(n)
	if !ok || !isInt || math.Abs(v) > maxIntArg {
		return 0, false
	}
	return int64(v), true
}

// DurationValue returns the nanoseconds of a duration string literal.
func DurationValue(n Node) (int64, bool) {
	s, ok := unparen(n).(*StringLit)
	if !ok {
		return 0, false
	}
	d, err := ParseDuration(s.Value)
	return d, err == nil
}

func literal(n Node) (v float64, isInt, ok bool) {
	sign := 1.0
	for {
		switch x := n.(type) {
		case *ParenExpr:
			n = x.X
		case *UnaryExpr:
			if x.Op == OpSub {
				sign = -sign
			} else if x.Op != OpAdd {
				return 0, false, false
			}
			n = x.X
		case *NumberLit:
			return sign * x.Value, x.IsInt, true
		default:
			return 0, false, false
		}
	}
}

// synonyms map words of other libraries' function names to ours, so that
// `rolling_avg` suggests rolling_mean rather than the closer-spelled
// rolling_max.
var synonyms = map[string]string{
	"avg": "mean", "average": "mean", "ma": "mean", "sma": "mean",
	"stdev": "std", "stddev": "std", "sd": "std",
	"ln": "log", "shift": "lag", "delay": "lag", "delta": "diff",
	"ewma": "ewm_mean", "ema": "ewm_mean", "ewm": "ewm_mean",
	"correlation": "corr", "cor": "corr", "minimum": "min", "maximum": "max",
	"total": "sum", "moving": "rolling", "roll": "rolling",
}

func suggestFunc(name string) string {
	words := strings.Split(strings.ToLower(name), "_")
	for i, w := range words {
		if s, ok := synonyms[w]; ok {
			words[i] = s
		}
	}
	norm := strings.Join(words, "_")
	if LookupFunc(norm) != nil {
		return norm
	}
	best, bestD := "", math.MaxInt
	for _, f := range Functions {
		if d := EditDistance(norm, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	}
	// Beyond about a third of the name the "suggestion" is a guess.
	if bestD <= max(1, len([]rune(name))/3) {
		return best
	}
	return ""
}

// EditDistance is the optimal string alignment distance over runes:
// Levenshtein plus the swap of two adjacent letters as one edit, the
// commonest typo (`lgo` for `log` is one edit, not two).
func EditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	rows := make([][]int, len(ra)+1)
	for i := range rows {
		rows[i] = make([]int, len(rb)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(ra)][len(rb)]
}
