package compute

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/featuredag/fdag/compute/kernels"
	"github.com/featuredag/fdag/formula"
	"github.com/featuredag/fdag/ir"
)

// TestOpTable walks the whole function table (PromQL's TestFunctionList,
// extended to every layer): each built-in checks, builds, folds constant
// arguments without panicking, has a lookback where it has history, lowers
// to a kernel that runs, explains as a formula that builds the same node,
// is documented and has a golden script. Then every row of ir's op table
// has a kernel, and every kernel a row.
func TestOpTable(t *testing.T) {
	docs, err := os.ReadFile(filepath.Join("..", "docs", "functions.md"))
	if err != nil {
		t.Fatal(err)
	}
	scripts := allScripts(t)
	for _, f := range formula.Functions {
		t.Run(f.Name, func(t *testing.T) {
			if !strings.Contains(string(docs), "\n## "+f.Name+"\n") {
				t.Errorf("not documented in docs/functions.md")
			}
			if !regexp.MustCompile(`(^|[^A-Za-z0-9_])` + f.Name + `\(`).MatchString(scripts) {
				t.Errorf("no golden script in testdata/scripts calls %s", f.Name)
			}
			for _, variant := range []string{"rows", "duration"} {
				src, hasTime := callOf(f, variant, "x", "y", "z")
				if variant == "duration" && !hasTime {
					continue
				}
				checkCall(t, f, src)
				// Constant arguments: folded or not, never a panic.
				csrc, _ := callOf(f, variant, "2", "3", "0.5")
				if p := ir.Compile([]ir.Spec{{Name: "c", Formula: csrc}}, ir.Options{}); p.Err() != nil {
					t.Errorf("%s: %v", csrc, p.Err())
				}
			}
		})
	}
	reg := kernels.Default()
	rows := map[string]bool{}
	for op := ir.Op(0); op < ir.NumOps(); op++ {
		rows[op.String()] = true
		switch op.Class() {
		case ir.ClassInvalid:
			if op != ir.OpInvalid {
				t.Errorf("op %d (%s) has no class", op, op)
			}
			continue
		case ir.ClassLeaf:
			continue
		}
		if _, ok := reg.Lookup(op.String()); !ok {
			t.Errorf("op %s has no kernel", op)
		}
		if reg.Stateless(op.String()) != (op.Class() == ir.ClassElementwise) {
			t.Errorf("op %s: kernel statelessness disagrees with class %d", op, op.Class())
		}
	}
	for _, name := range reg.Names() {
		if !rows[name] {
			t.Errorf("kernel %s has no row in ir's op table", name)
		}
	}
}

// callOf writes a call of f from its declaration: series arguments from
// series, windows and half-lives in rows or as durations, other parameters
// at their defaults. hasTime reports whether the function takes a window or
// half-life (so a duration variant exists).
func callOf(f *formula.Func, variant string, series ...string) (src string, hasTime bool) {
	var args []string
	i := 0
	for _, p := range f.Params {
		switch p.Kind {
		case formula.KindSeries:
			args = append(args, series[i%len(series)])
			i++
		case formula.KindWindow, formula.KindHalfLife:
			hasTime = true
			if variant == "duration" {
				args = append(args, "'2s'")
			} else {
				args = append(args, "3")
			}
		case formula.KindQuantile:
			args = append(args, "0.25")
		default:
			if !p.Optional {
				args = append(args, "2")
			}
		}
	}
	return f.Name + "(" + strings.Join(args, ", ") + ")", hasTime
}

func checkCall(t *testing.T, f *formula.Func, src string) {
	t.Helper()
	opts := ir.Options{SourceColumns: []string{"x", "y", "z"}}
	p := ir.Compile([]ir.Spec{{Name: "f", Formula: src}}, opts)
	if err := p.Features[0].Err; err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	root := p.Nodes[p.Features[0].Root]
	if f.Family != formula.FamilyElementwise && p.Lookbacks[root.ID].IsZero() {
		t.Errorf("%s: %s function without lookback", src, f.Family)
	}
	for _, n := range p.Nodes {
		if n.Op.Class() == ir.ClassLeaf {
			continue
		}
		fac, err := lower(n)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		runKernel(t, src, n, fac)
		// Explain shows a formula that builds the same node.
		e := n.Expr()
		for i := len(n.Args) - 1; i >= 0; i-- {
			e = strings.ReplaceAll(e, "n"+strconv.Itoa(int(n.Args[i])), p.Nodes[n.Args[i]].Expr())
		}
		q := ir.Compile([]ir.Spec{{Name: "e", Formula: e}}, opts)
		if err := q.Err(); err != nil {
			t.Errorf("%s: explain %q does not compile: %v", src, e, err)
			continue
		}
		if m := q.Nodes[q.Features[0].Root]; m.Op != n.Op || m.Params != n.Params {
			t.Errorf("%s: explain %q builds %s %+v, want %s %+v", src, e, m.Op, m.Params, n.Op, n.Params)
		}
	}
}

// runKernel steps a fresh kernel over a few rows holding a null, a NaN and
// an infinity: it must fill every output without panicking.
func runKernel(t *testing.T, src string, n *ir.Node, fac kernels.Factory) {
	t.Helper()
	col := kernels.Col{V: []float64{1, 2, math.NaN(), 4, math.Inf(1), 6}, Valid: []bool{true, true, true, false, true, true}}
	in := make([]kernels.Col, len(n.Args))
	for i := range in {
		in[i] = col
	}
	ts := []int64{0, 1e9, 2e9, 2e9, 5e9, 6e9}
	out, valid := make([]float64, len(col.V)), make([]bool, len(col.V))
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: kernel %s panics: %v", src, n.Op, r)
		}
	}()
	nulls := fac().Step(in, ts, out, valid)
	got := 0
	for _, ok := range valid {
		if !ok {
			got++
		}
	}
	if got != nulls {
		t.Errorf("%s: kernel %s reports %d nulls, has %d", src, n.Op, nulls, got)
	}
}

func allScripts(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "scripts", "*.test"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}
