package formula

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files and docs/functions.md")

// sexpr prints a tree's structure without positions; keepParens decides
// whether ParenExpr nodes show, so trees can be compared with or without
// them.
func sexpr(n Node, keepParens bool) string {
	switch n := n.(type) {
	case *NumberLit:
		if n.IsInt {
			return strconv.FormatFloat(n.Value, 'f', -1, 64)
		}
		return strconv.FormatFloat(n.Value, 'g', -1, 64) + "f"
	case *StringLit:
		return strconv.Quote(n.Value)
	case *Ident:
		return n.Name
	case *ParenExpr:
		if keepParens {
			return "(paren " + sexpr(n.X, keepParens) + ")"
		}
		return sexpr(n.X, keepParens)
	case *UnaryExpr:
		return "(" + n.Op.String() + " " + sexpr(n.X, keepParens) + ")"
	case *BinaryExpr:
		return "(" + n.Op.String() + " " + sexpr(n.L, keepParens) + " " + sexpr(n.R, keepParens) + ")"
	case *Call:
		var b strings.Builder
		b.WriteString("(" + n.Func)
		for _, a := range n.Args {
			b.WriteByte(' ')
			if a.Name != "" {
				b.WriteString(a.Name + "=")
			}
			b.WriteString(sexpr(a.Value, keepParens))
		}
		return b.String() + ")"
	}
	return fmt.Sprintf("<%T>", n)
}

func TestPrecedence(t *testing.T) {
	tests := []struct{ src, want string }{
		{"-x**2", "(- (** x 2))"},
		{"-x ** -y", "(- (** x (- y)))"},
		{"2**-1", "(** 2 (- 1))"},
		{"2**3**2", "(** 2 (** 3 2))"},
		{"a - b - c", "(- (- a b) c)"},
		{"a / b / c", "(/ (/ a b) c)"},
		{"a + b * c", "(+ a (* b c))"},
		{"a * b + c", "(+ (* a b) c)"},
		{"-a * b", "(* (- a) b)"},
		{"a * -b ** 2", "(* a (- (** b 2)))"},
		{"a + b < c * d", "(< (+ a b) (* c d))"},
		{"a == b + 1", "(== a (+ b 1))"},
		{"(a < b) < c", "(< (paren (< a b)) c)"},
		{"+-x", "(+ (- x))"},
		{"(x)", "(paren x)"},
		{"f(x)**2", "(** (f x) 2)"},
		{"lag(x, k=2) * 2", "(* (lag x k=2) 2)"},
		{"1e-3 + .5 + 5.", "(+ (+ 0.001f 0.5f) 5f)"},
	}
	for _, tt := range tests {
		n, err := Parse(tt.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.src, err)
			continue
		}
		if got := sexpr(n, true); got != tt.want {
			t.Errorf("Parse(%q) = %s, want %s", tt.src, got, tt.want)
		}
	}
}

func TestPositions(t *testing.T) {
	src := "-x**2 + lag( y , k=3)"
	n, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var walk func(Node)
	walk = func(n Node) {
		r := n.PositionRange()
		got = append(got, fmt.Sprintf("%T %q", n, src[r.Start:r.End]))
		switch n := n.(type) {
		case *UnaryExpr:
			walk(n.X)
		case *BinaryExpr:
			got = append(got, "op "+strconv.Quote(src[n.OpPos.Start:n.OpPos.End]))
			walk(n.L)
			walk(n.R)
		case *ParenExpr:
			walk(n.X)
		case *Call:
			got = append(got, "func "+strconv.Quote(src[n.FuncPos.Start:n.FuncPos.End]))
			for _, a := range n.Args {
				if a.Name != "" {
					got = append(got, "name "+strconv.Quote(src[a.NamePos.Start:a.NamePos.End]))
				}
				walk(a.Value)
			}
		}
	}
	walk(n)
	want := []string{
		`*formula.BinaryExpr "-x**2 + lag( y , k=3)"`, `op "+"`,
		`*formula.UnaryExpr "-x**2"`,
		`*formula.BinaryExpr "x**2"`, `op "**"`,
		`*formula.Ident "x"`, `*formula.NumberLit "2"`,
		`*formula.Call "lag( y , k=3)"`, `func "lag"`,
		`*formula.Ident "y"`, `name "k"`, `*formula.NumberLit "3"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("positions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	p, _ := Parse("( a )")
	if r := p.PositionRange(); r != (PosRange{0, 5}) {
		t.Errorf("paren range = %v", r)
	}
}

func TestErrorRendering(t *testing.T) {
	_, err := Compile("rolling_mean(x)")
	want := "1:1: rolling_mean expects 2 or 3 arguments, got 1\n | rolling_mean(x)\n | ^"
	if got := Render(err); got != want {
		t.Errorf("Render:\n%s\nwant:\n%s", got, want)
	}
	_, err = Compile("log(close) - rolling_mean(x)")
	if got := err.Error(); got != "1:14: rolling_mean expects 2 or 3 arguments, got 1" {
		t.Errorf("Error() = %q", got)
	}
	var e *Error
	if !errors.As(err, &e) || e.Pos != (PosRange{13, 28}) {
		t.Errorf("errors.As *Error: %v %v", e, err)
	}
	// Columns count runes, and the line is the one holding the error.
	_, err = Parse("é +\n  ü + )")
	if got := Render(err); got != "2:7: unexpected \")\", expected an expression\n |   ü + )\n |       ^" {
		t.Errorf("multi-line Render:\n%s", got)
	}
	// Check alone knows no source: it still says where, by byte offset.
	n, _ := Parse("lag(x, -1)")
	if _, err := Check(n); err == nil || err.Error() != "1:8: lag: k must be a non-negative integer, got -1" {
		t.Errorf("Check: %v", err)
	}
}

func TestLimits(t *testing.T) {
	ok := strings.Repeat("(", MaxDepth) + "x" + strings.Repeat(")", MaxDepth)
	if _, err := Parse(ok); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	for _, src := range []string{
		strings.Repeat("(", MaxDepth+1) + "x" + strings.Repeat(")", MaxDepth+1),
		strings.Repeat("-", MaxDepth+1) + "x",
		strings.Repeat("log(", MaxDepth+1) + "x" + strings.Repeat(")", MaxDepth+1),
		strings.Repeat("2**", MaxDepth+1) + "2",
		strings.Repeat("(", 5000),
	} {
		_, err := Parse(src)
		if err == nil || !strings.Contains(err.Error(), "formula nests deeper than 64 levels") {
			t.Errorf("Parse(%.20q...): %v", src, err)
		}
	}
	_, err := Parse(strings.Repeat("x+", MaxFormulaLen/2) + "x")
	if err == nil || err.Error() != "1:1: formula is 8193 bytes long; the limit is 8192" {
		t.Errorf("long formula: %v", err)
	}
	// Long flat chains are fine: they nest nothing.
	if _, err := Parse(strings.Repeat("x+", MaxFormulaLen/2-1) + "x"); err != nil {
		t.Errorf("long chain: %v", err)
	}
}

func TestBindArgs(t *testing.T) {
	tests := []struct{ src, want string }{
		{"lag(x)", "lag: [x <nil>]"},
		{"lag(x, 3)", "lag: [x 3]"},
		{"lag(x, k=3)", "lag: [x 3]"},
		{"lag(k=3, x=y)", "lag: [y 3]"},
		{"rolling_corr(a, b, '5m', min_samples=2)", "rolling_corr: [a b '5m' 2]"},
		{"rolling_mean(x, min_samples=2)", "error: 1:1: rolling_mean: missing argument w"},
		{"lag(x, 1, 2)", "error: 1:1: lag expects 1 or 2 arguments, got 3"},
		{"nope(x)", "error: 1:1: unknown function \"nope\""},
		{"lgo(x)", "error: 1:1: unknown function \"lgo\"; did you mean \"log\"?"},
		{"rolling_maen(x, 2)", "error: 1:1: unknown function \"rolling_maen\"; did you mean \"rolling_mean\"?"},
	}
	for _, tt := range tests {
		n, err := Parse(tt.src)
		if err != nil {
			t.Fatal(err)
		}
		f, args, err := BindArgs(n.(*Call))
		var got string
		if err != nil {
			got = "error: " + err.Error()
		} else {
			parts := make([]string, len(args))
			for i, a := range args {
				if a == nil {
					parts[i] = "<nil>"
				} else {
					parts[i] = Format(a)
				}
			}
			got = f.Name + ": [" + strings.Join(parts, " ") + "]"
		}
		if got != tt.want {
			t.Errorf("BindArgs(%q) = %s, want %s", tt.src, got, tt.want)
		}
	}
}

func TestLiteralValues(t *testing.T) {
	n, _ := Parse("(-(5))")
	if v, ok := IntValue(n); !ok || v != -5 {
		t.Errorf("IntValue = %d, %v", v, ok)
	}
	if _, ok := IntValue(&NumberLit{Value: 5, IsInt: false}); ok {
		t.Error("IntValue accepted 5.0")
	}
	if v, ok := NumberValue(&NumberLit{Value: 0.5}); !ok || v != 0.5 {
		t.Errorf("NumberValue = %v, %v", v, ok)
	}
	if v, ok := DurationValue(&StringLit{Value: "1m"}); !ok || v != 60e9 {
		t.Errorf("DurationValue = %v, %v", v, ok)
	}
}

func TestDuration(t *testing.T) {
	good := []struct {
		in    string
		ns    int64
		canon string
	}{
		{"5m", 300e9, "5m"},
		{"500ms", 500e6, "500ms"},
		{"1h30m", 5400e9, "1h30m"},
		{"90m", 5400e9, "1h30m"},
		{"2d", 2 * 86400e9, "2d"},
		{"7d", 7 * 86400e9, "1w"},
		{"1w1ns", 7*86400e9 + 1, "1w1ns"},
		{"10us", 10e3, "10us"},
		{"10µs", 10e3, "10us"},
		{"1s500ms", 1500e6, "1s500ms"},
		{"30s", 30e9, "30s"},
		{"9223372036854775807ns", 9223372036854775807, "15250w1d23h47m16s854ms775us807ns"},
	}
	for _, tt := range good {
		ns, err := ParseDuration(tt.in)
		if err != nil || ns != tt.ns {
			t.Errorf("ParseDuration(%q) = %d, %v; want %d", tt.in, ns, err, tt.ns)
			continue
		}
		if got := FormatDuration(ns); got != tt.canon {
			t.Errorf("FormatDuration(%d) = %q, want %q", ns, got, tt.canon)
		}
	}
	bad := map[string]string{
		"":                      `invalid duration "": empty`,
		"0s":                    `invalid duration "0s": must be positive`,
		"-5m":                   `invalid duration "-5m": must be positive`,
		"5":                     `invalid duration "5": missing unit after 5 (one of ns, us, ms, s, m, h, d, w)`,
		"m":                     `invalid duration "m": expected a number before "m"`,
		"1mo":                   `invalid duration "1mo": calendar unit "mo" (a month) has no fixed length; use one of ns, us, ms, s, m, h, d, w`,
		"1y":                    `invalid duration "1y": calendar unit "y" (a year) has no fixed length; use one of ns, us, ms, s, m, h, d, w`,
		"2q":                    `invalid duration "2q": calendar unit "q" (a quarter) has no fixed length; use one of ns, us, ms, s, m, h, d, w`,
		"3i":                    `invalid duration "3i": calendar unit "i" (an index count) has no fixed length; use one of ns, us, ms, s, m, h, d, w`,
		"5min":                  `invalid duration "5min": unknown unit "min" (expected one of ns, us, ms, s, m, h, d, w)`,
		"1.5h":                  `invalid duration "1.5h": use whole numbers of a smaller unit (e.g. 1m30s, not 1.5m)`,
		"9223372036854775808ns": `invalid duration "9223372036854775808ns": too long (the limit is about 292 years)`,
		"15251w":                `invalid duration "15251w": too long (the limit is about 292 years)`,
		"15250w2d":              `invalid duration "15250w2d": too long (the limit is about 292 years)`,
	}
	for in, want := range bad {
		if _, err := ParseDuration(in); err == nil || err.Error() != want {
			t.Errorf("ParseDuration(%q) error = %v, want %s", in, err, want)
		}
	}
	for _, ns := range []int64{1, 999, 1e9, 86399e9 + 7, 1<<63 - 1} {
		if back, err := ParseDuration(FormatDuration(ns)); err != nil || back != ns {
			t.Errorf("round trip %d: %d, %v", ns, back, err)
		}
	}
	if got := FormatDuration(-1 << 63); !strings.HasPrefix(got, "-15250w") {
		t.Errorf("FormatDuration(MinInt64) = %q", got)
	}
}

// readCases reads one formula per line, skipping blank lines and # comments;
// "q:" lines are Go-quoted.
func readCases(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if q, ok := strings.CutPrefix(line, "q:"); ok {
			s, err := strconv.Unquote(q)
			if err != nil {
				t.Fatalf("%s:%d: %v", path, i+1, err)
			}
			line = s
		}
		out = append(out, line)
	}
	return out
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./formula -run TestGolden -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the output (run go test ./formula -run TestGolden -update and review the diff); got:\n%s", path, got)
	}
}

// TestGolden runs testdata/parse/{good,bad}.txt and compares the canonical
// text of good formulas and the rendered errors of bad ones with the
// .golden files beside them.
func TestGolden(t *testing.T) {
	dir := filepath.Join("testdata", "parse")
	var good strings.Builder
	for _, src := range readCases(t, filepath.Join(dir, "good.txt")) {
		c, err := Compile(src)
		if err != nil {
			t.Errorf("Compile(%q): %s", src, Render(err))
			continue
		}
		n := c.Root
		fmt.Fprintf(&good, "%s\n=> %s\n\n", strconv.Quote(src), Format(n))
		checkRoundTrip(t, src, n)
	}
	compareGolden(t, filepath.Join(dir, "good.golden"), good.String())

	var bad strings.Builder
	for _, src := range readCases(t, filepath.Join(dir, "bad.txt")) {
		_, err := Compile(src)
		if err == nil {
			t.Errorf("Compile(%q) succeeded", src)
			continue
		}
		fmt.Fprintf(&bad, "%s\n%s\n\n", strconv.Quote(src), Render(err))
	}
	compareGolden(t, filepath.Join(dir, "bad.golden"), bad.String())
}

// checkRoundTrip asserts that Format is canonical: reparsing it gives the
// same tree without parentheses, and formatting again changes nothing.
func checkRoundTrip(t *testing.T, src string, n Node) {
	t.Helper()
	text := Format(n)
	m, err := Parse(text)
	if err != nil {
		t.Fatalf("Parse(Format(%q)) = Parse(%q): %v", src, text, err)
	}
	if a, b := sexpr(n, false), sexpr(m, false); a != b {
		t.Fatalf("round trip of %q via %q:\n%s\n%s", src, text, a, b)
	}
	if again := Format(m); again != text {
		t.Fatalf("Format not idempotent for %q: %q then %q", src, text, again)
	}
}

func TestDocs(t *testing.T) {
	path := filepath.Join("..", "docs", "functions.md")
	got := MarkdownDocs()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil || string(want) != got {
		t.Fatalf("docs/functions.md is not MarkdownDocs() output (%v); run: go test ./formula -run TestDocs -update", err)
	}
	for _, f := range Functions {
		c, err := Compile(f.Example)
		if err != nil {
			t.Errorf("example of %s: %s", f.Name, Render(err))
			continue
		}
		n := c.Root
		if c, ok := n.(*Call); !ok || c.Func != f.Name {
			// An example may call its function inside another one, but it
			// must call it somewhere.
			if !strings.Contains(f.Example, f.Name+"(") {
				t.Errorf("example of %s does not call it: %s", f.Name, f.Example)
			}
		}
	}
}

func TestStringEscapes(t *testing.T) {
	n, err := Parse(`'it\'s' + "a\"b\\" + '\t\n'`)
	if err != nil {
		t.Fatal(err)
	}
	if got := sexpr(n, false); got != `(+ (+ "it's" "a\"b\\") "\t\n")` {
		t.Errorf("tree %s", got)
	}
	if got := Format(n); got != `'it\'s' + 'a"b\\' + '\t\n'` {
		t.Errorf("Format = %s", got)
	}
	checkRoundTrip(t, "escapes", n)
}

func TestSuggest(t *testing.T) {
	for in, want := range map[string]string{
		"rolling_avg": "rolling_mean", "rolling_mena": "rolling_mean", "rolling_stdev": "rolling_std",
		"ln": "log", "shift": "lag", "ewma": "ewm_mean", "moving_average": "rolling_mean",
		"Log": "log", "foo": "", "rolling": "",
	} {
		if got := suggestFunc(in); got != want {
			t.Errorf("suggestFunc(%q) = %q, want %q", in, got, want)
		}
	}
}
