package qlib

import (
	"bufio"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featuredag/fdag/formula"
)

var update = flag.Bool("update", false, "rewrite docs/qlib.md")

// alpha158 reads the 158 expressions of Qlib's Alpha158 feature set, as
// pyqlib 0.9.7's Alpha158DL.get_feature_config() returns them.
func alpha158(t *testing.T) [][2]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "alpha158.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		name, expr, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		out = append(out, [2]string{name, expr})
	}
	if len(out) != 158 {
		t.Fatalf("%d expressions, want 158", len(out))
	}
	return out
}

func TestAlpha158Compiles(t *testing.T) {
	for _, e := range alpha158(t) {
		if _, err := Compile(e[1]); err != nil {
			t.Errorf("%s = %s: %v", e[0], e[1], formula.Render(err))
		}
	}
}

func TestTranslations(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Ref($close, 5)", "lag(close, 5)"},
		{"Mean($close, 5) / $close", "rolling_mean(close, 5, min_samples=1) / close"},
		{"$close > Ref($close, 1)", "where(close <= 1 / 0, where(lag(close, 1) <= 1 / 0, close > lag(close, 1), 0), 0)"},
		{"$close != 1", "where(close <= 1 / 0, close != 1, 1)"},
		{"Greater($open, $close)", "where(open >= close, open, where(open < close, close, open + close))"},
		{"IdxMax($high, 5)", "rolling_count(1, 5) - rolling_argmax(high, 5, min_samples=1)"},
		{"Quantile($close, 10, 0.8)", "rolling_quantile(close, 10, 0.8, min_samples=1)"},
		{"EMA($close, 1)", "close"},
		{"EMA($close, 3)", "ewm_mean(close, 1)"},
		{"If($close > 0, 1, $open)", "where(where(close <= 1 / 0, close > 0, 0) == 0, open, 1)"},
		{"Power($close, 2) + Abs(Log($volume))", "close ** 2 + abs(log(volume))"},
		{"Mean($close > $open, 5)", "rolling_mean(where(close <= 1 / 0, where(open <= 1 / 0, close > open, 0), 0), 5, min_samples=1)"},
		{"Add($close, 1)", "close + 1"},
	} {
		c, err := Compile(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, formula.Render(err))
			continue
		}
		if got := formula.Format(c.Root); got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

// Errors name the Qlib operator and point into the Qlib text.
func TestErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Ref($close, -1)", "1:13: Ref: N = -1 reads 1 rows ahead: a feature sees only the current and earlier rows (no look-ahead); future values belong in labels (fdag labels)\n | Ref($close, -1)\n |             ^"},
		{"Delta($close, -2)", "1:15: Delta: N = -2 reads 2 rows ahead: a feature sees only the current and earlier rows (no look-ahead); future values belong in labels (fdag labels)\n | Delta($close, -2)\n |               ^"},
		{"Ref($close, 0)", "1:13: Ref: N = 0 is Qlib's first value of the loaded range (it depends on where a query starts); it is not supported: use the series itself, or Ref(x, k) with k > 0\n | Ref($close, 0)\n |             ^"},
		{"Mean($close, 0)", "1:14: Mean: N = 0 is Qlib's expanding window (all rows since the start of the loaded range, so it depends on where a query starts); it is not supported: give a window of rows\n | Mean($close, 0)\n |              ^"},
		{"Mean($close, 0.5)", "1:14: Mean: N = 0.5: Qlib turns a window in (0, 1) into an exponential mean with alpha N; write EMA(x, 0.5)\n | Mean($close, 0.5)\n |              ^"},
		{"mean($close, 5)", "1:1: unknown Qlib operator \"mean\"; did you mean \"Mean\"?\n | mean($close, 5)\n | ^"},
		{"Mean($close)", "1:1: Mean: missing argument N (Mean(feature, N))\n | Mean($close)\n | ^"},
		{"Mean($close, 5, 6)", "1:1: Mean takes 2 arguments (Mean(feature, N)), got 3\n | Mean($close, 5, 6)\n | ^"},
		{"Mad($close, 5)", "1:1: Mad is not supported: Mad (the mean absolute deviation from the window's own mean) has no fdag built-in to compose it from\n | Mad($close, 5)\n | ^"},
		{"Mean($, 5)", "1:6: $ must be followed by a field name, as in $close\n | Mean($, 5)\n |      ^"},
		{"Mean($close, 20000000)", "1:14: rolling_mean: w must be at most 10000000 rows or '3650d', got 20000000\n | Mean($close, 20000000)\n |              ^"},
	} {
		_, err := Compile(tc.in)
		if err == nil {
			t.Errorf("%s: no error", tc.in)
			continue
		}
		if got := formula.Render(err); got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

// Every operator of the table translates a call with plain arguments into
// a tree fdag's checker accepts (or is refused with its reason), and is
// documented.
func TestTable(t *testing.T) {
	docs := MarkdownDocs()
	for _, f := range Functions {
		args := make([]string, len(f.Params))
		for i, p := range f.Params {
			switch p.kind {
			case argSeries:
				args[i] = []string{"$close", "$volume", "$open"}[i%3]
			case argNumber:
				args[i] = "0.5"
			default:
				args[i] = "5"
			}
		}
		src := f.Name + "(" + strings.Join(args, ", ") + ")"
		_, err := Compile(src)
		switch {
		case f.Unsupported != "":
			if err == nil {
				t.Errorf("%s: compiled, want refused", src)
			}
		case err != nil:
			t.Errorf("%s: %v", src, formula.Render(err))
		}
		if !strings.Contains(docs, "`"+f.Signature()+"`") {
			t.Errorf("%s is not in docs/qlib.md", f.Name)
		}
	}
}

func TestDocs(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "qlib.md")
	want := MarkdownDocs()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Fatalf("docs/qlib.md is not MarkdownDocs() output (%v); run: go test ./formula/qlib -run TestDocs -update", err)
	}
}
