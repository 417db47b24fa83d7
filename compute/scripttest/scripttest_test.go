package scripttest

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featuredag/fdag/compute"
)

// TestScripts runs every ../testdata/scripts/*.test file as a subtest, and
// each eval in it as a subtest named after its line:
//
//	go test ./compute/scripttest -run 'TestScripts/rolling_rows.test/line42'
func TestScripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "scripts", "*.test"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scripts found in ../testdata/scripts")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			RunFile(t, f)
		})
	}
}

func TestParse(t *testing.T) {
	s, err := Parse("x.test", `
# a comment
load
  symbol event_time  trade_price  v
  B      1s          1            _     # trailing comment
  A      2024-01-02T00:00:01Z  2  NaN
  A      2024-01-02T00:00:00Z  3  -Inf
  B      500ms       4            +Inf

eval rolling_mean(close, 2)   # comment
  A _ 2.5
  B _
  B 2.5

eval_approx 1e-9 a = x == 1
eval b = lag(a, k=2)
  a A 0 0
  a B 1 0
  b expect error msg: 1:1: it # is not a comment here
  b expect error msg: second line
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Evals) != 2 {
		t.Fatalf("got %d evals, want 2", len(s.Evals))
	}
	l := s.Evals[0].Load
	if got := strings.Join(l.Symbols, ","); got != "B,A" {
		t.Errorf("symbols %s, want B,A", got)
	}
	// Rows per symbol in time order: A's input rows 2 then 1; B's 3 then 0.
	if a, b := l.Groups["A"], l.Groups["B"]; a[0] != 2 || a[1] != 1 || b[0] != 3 || b[1] != 0 {
		t.Errorf("groups %v", l.Groups)
	}
	if l.Rows[1].Time-l.Rows[2].Time != 1e9 || l.Rows[3].Time != 5e8 {
		t.Errorf("times %+v", l.Rows)
	}
	if !math.IsInf(l.Rows[2].Values[1].F, -1) || !l.Rows[0].Values[1].Null || !math.IsNaN(l.Rows[1].Values[1].F) {
		t.Errorf("values %+v", l.Rows)
	}
	e0 := s.Evals[0].Features[0]
	if e0.Formula != "rolling_mean(close, 2)" || len(e0.Want["B"]) != 2 || e0.Tol != 0 {
		t.Errorf("first eval %+v", e0)
	}
	e1 := s.Evals[1]
	if !e1.Named || len(e1.Features) != 2 || e1.Features[0].Formula != "x == 1" || e1.Features[0].Tol != 1e-9 || e1.Features[1].Tol != 0 {
		t.Errorf("second eval %+v", e1)
	}
	if got := strings.Join(e1.Features[1].ErrMsg, "|"); got != "1:1: it # is not a comment here|second line" {
		t.Errorf("error lines %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	const load = "load\n  symbol event_time x\n  A 0s 1\n  A 1s 2\n"
	for _, tc := range []struct{ src, err string }{
		{"eval x\n  A 1\n", "x.test:1: eval before any load block"},
		{"load\n  symbol x\n", "x.test:2: the header must name the time column event_time"},
		{"load\n  symbol event_time x\n  A 0s\n", "x.test:3: row has 2 fields, the header 3"},
		{"load\n  symbol event_time x\n  A 5 1\n", `x.test:3: bad time "5"`},
		{"load\n  symbol event_time x\n  A 0s one\n", `x.test:3: bad value "one"`},
		{"load\n", "x.test:1: load block without a header line"},
		{load + "eval x\n", "x.test:5: eval without expectations"},
		{load + "eval x\n  A 1\n", "x.test:6: x: symbol A has 2 rows, 1 values given"},
		{load + "eval x\n  C 1 2\n", "x.test:6: symbol C is not in the load block at line 1"},
		{load + "eval x\n  A 1 2\n  expect error msg: boom\n", "x.test:7: a feature expects either values or an error, not both"},
		{load + "eval a = x\neval a = x\n", "x.test:6: feature a is declared twice in this eval"},
		{load + "eval a = x\n  b A 1 2\n", "x.test:6: expectation lines of a named eval start with a feature name (a)"},
		{load + "eval_approx x y\n", `x.test:5: eval_approx needs a positive tolerance before the formula, got "x"`},
		{"# c\n  A 1\n", "x.test:2: indented line outside a load or eval block"},
		{load + "evaluate x\n", `x.test:5: unknown command "evaluate"`},
		{"load\n  event_time x\n  0s 1\neval x\n  A 1\n", "x.test:5: the load block has no symbol column: value lines start with *"},
	} {
		_, err := Parse("x.test", tc.src)
		if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
			t.Errorf("Parse(%q):\n got error %v\nwant prefix %s", tc.src, err, tc.err)
		}
	}
}

func TestEqual(t *testing.T) {
	null, nan := Value{Null: true}, Value{F: math.NaN()}
	num := func(f float64) Value { return Value{F: f} }
	for _, tc := range []struct {
		want, got Value
		tol       float64
		eq        bool
	}{
		{null, null, 0, true},
		{null, num(0), 0, false},
		{nan, nan, 0, true},
		{nan, num(1), 1, false},
		{num(0), num(math.Copysign(0, -1)), 0, false},
		{num(1), num(1 + 1e-15), 0, false},
		{num(1), num(1 + 1e-15), 1e-12, true},
		{num(0), num(1e-300), 1e-12, false},
		{num(math.Inf(1)), num(math.Inf(1)), 1e-12, true},
		{num(math.Inf(1)), num(math.MaxFloat64), 1, false},
	} {
		if got := Equal(tc.want, tc.got, tc.tol); got != tc.eq {
			t.Errorf("Equal(%v, %v, %g) = %v, want %v", tc.want, tc.got, tc.tol, got, tc.eq)
		}
	}
}

// TestCheckMessages shows what a mismatch looks like, without the engine.
func TestCheckMessages(t *testing.T) {
	s, err := Parse("x.test", `load
  symbol event_time x
  A 1s 1
  B 0s 2
  A 0s 3
eval f = x
eval g = x
  f A 3 1
  f B 2
  g expect error contains: boom
`)
	if err != nil {
		t.Fatal(err)
	}
	out := &outcome{
		statuses: []compute.FeatureStatus{
			{Name: "f", Status: compute.StatusSuccess},
			{Name: "g", Status: compute.StatusError, Error: "g: 1:1: bang"},
		},
		// By input row: A@1s, B@0s, A@0s. A in time order is 3 then 2.
		columns: map[string][]Value{"f": {{F: 2}, {F: 2}, {F: 3}}},
	}
	var got []string
	for _, f := range s.Evals[0].check(out) {
		got = append(got, fmt.Sprintf("%d: %s", f.line, f.msg))
	}
	want := []string{
		"8: f, symbol A: value 2 (time 1s, load line 3) is 2, want 1\n\twant: 3 1\n\tgot:  3 2",
		`10: g: error does not contain "boom"` + "\n\tgot: 1:1: bang",
	}
	if strings.Join(got, "\n---\n") != strings.Join(want, "\n---\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n---\n"), strings.Join(want, "\n---\n"))
	}
}

// TestDocExample runs the example of the package documentation, so that it
// stays true.
func TestDocExample(t *testing.T) {
	s, err := Parse("doc.go", docExample())
	if err != nil {
		t.Fatal(err)
	}
	s.Run(t)
}

// docExample extracts the indented script from the package comment.
func docExample() string {
	src, err := os.ReadFile("scripttest.go")
	if err != nil {
		panic(err)
	}
	var b strings.Builder
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "package ") {
			break
		}
		if rest, ok := strings.CutPrefix(line, "//\t"); ok {
			b.WriteString(rest + "\n")
		} else if line == "//" {
			b.WriteString("\n")
		}
	}
	return b.String()
}
