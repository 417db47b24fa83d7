package ir

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBuiltinTypes(t *testing.T) {
	r := Builtin()
	names := r.Names()
	if len(names) < 12 {
		t.Fatalf("only %d built-in types: %v", len(names), names)
	}
	if !slices.IsSorted(names) {
		t.Errorf("Names not sorted: %v", names)
	}
	for _, name := range names {
		ft, _ := r.Lookup(name)
		if ft.Doc == "" || ft.Source == "" {
			t.Errorf("%s: missing doc or source", name)
		}
		// Defaults only, and with every input mapped to a known column.
		cols := slices.Clone(ft.Inputs)
		for _, opts := range []Options{{}, {SourceColumns: cols}} {
			p := Compile([]Spec{{Name: "f", Type: name}}, opts)
			if err := p.Err(); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
	for _, want := range []string{"log_return", "simple_return", "realized_volatility", "rolling_volatility",
		"zscore", "vwap", "high_low_range", "range_position", "decayed_volume", "ewm_price",
		"price_volume_corr", "momentum", "trade_intensity"} {
		if _, ok := r.Lookup(want); !ok {
			t.Errorf("missing built-in %s", want)
		}
	}
}

func TestBuiltinIsACopy(t *testing.T) {
	a := Builtin()
	if err := a.Add(FeatureType{Name: "log_return", Formula: "price", Inputs: []string{"price"}}); err != nil {
		t.Fatal(err)
	}
	b := Builtin()
	if ft, _ := b.Lookup("log_return"); ft.Formula == "price" {
		t.Fatal("changing one Builtin() changed another")
	}
	c := b.Clone()
	ft, _ := c.Lookup("log_return")
	ft.Params["k"] = 99.0
	if ft, _ := b.Lookup("log_return"); ft.Params["k"] == 99.0 {
		t.Fatal("Clone shares params")
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadDir(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"one.yaml": `
name: spread_ratio
doc: Spread relative to mid.
namespace: execution
inputs: [ask, bid]
formula: (ask - bid) / ((ask + bid) / 2)
`,
		"many.yml": `
feature_types:
  - name: my_ret
    inputs: [price]
    params: {k: 3, w: '1m'}
    formula: rolling_sum(log(price) - log(lag(price, k)), w)
  - name: log_return
    doc: Overridden by the project.
    inputs: [price]
    params: {k: 2}
    formula: log(price / lag(price, k))
`,
		"fdag.yaml":    "warehouse: ./wh\n",
		"set.yaml":     "features:\n  - {name: a, formula: close}\n",
		"notes.txt":    "not yaml: [",
		"features.yml": "- {name: b, formula: close}\n",
	})
	r := Builtin()
	if err := r.LoadDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"spread_ratio", "my_ret", "log_return", "vwap"} {
		if _, ok := r.Lookup(name); !ok {
			t.Errorf("missing %s", name)
		}
	}
	if got := p0(t, r).Feature("s").Spec.Namespace; got != "execution" {
		t.Errorf("type namespace not applied: %q", got)
	}
	if ft, _ := r.Lookup("log_return"); ft.Formula != "log(price / lag(price, k))" || ft.Source != filepath.Join(dir, "many.yml") {
		t.Errorf("override not applied: %+v", ft)
	}
	p := Compile([]Spec{
		{Name: "s", Type: "spread_ratio", Inputs: map[string]string{"ask": "ask_price", "bid": "bid_price"}},
		{Name: "m", Type: "my_ret", Params: map[string]any{"w": "5m"}},
		{Name: "l", Type: "log_return", Inputs: map[string]string{"price": "close"}},
	}, Options{Registry: r})
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"s": "(ask_price - bid_price) / ((ask_price + bid_price) / 2)",
		"m": "rolling_sum(log(price) - log(lag(price, 3)), '5m')",
		"l": "log(close / lag(close, 2))",
	} {
		if got := p.Feature(name).Canonical; got != want {
			t.Errorf("%s: canonical %q, want %q", name, got, want)
		}
	}
}

func TestLoadDirErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error, with DIR for the directory
	}{
		{"unknown key", map[string]string{"a.yaml": "name: t1\nformula: x\nparms: {k: 1}\n"},
			[]string{`DIR/a.yaml:1: feature type "t1": line 3: unknown key "parms" (expected one of name, formula, inputs, params, doc, namespace)`}},
		{"syntax", map[string]string{"a.yaml": "feature_types:\n  - {name: t2, formula: 'log(x'}\n"},
			[]string{`DIR/a.yaml:2: feature type "t2": feature type t2: 1:6: unexpected end of formula, expected "," or ")" to close "(" at 1:4`}},
		{"bad default", map[string]string{"a.yaml": "feature_types:\n  - {name: t3, inputs: [x], params: {k: 2.5}, formula: 'lag(x, k)'}\n"},
			[]string{`DIR/a.yaml:2: feature type "t3": with the default params: 1:8: lag: k must be a non-negative integer, got 2.5`}},
		{"bad name", map[string]string{"a.yaml": "feature_types:\n  - {name: 2x, formula: 'x'}\n"},
			[]string{`DIR/a.yaml:2: feature type "2x": name "2x" is not a valid identifier`}},
		{"bad param value", map[string]string{"a.yaml": "feature_types:\n  - {name: t4, params: {k: [1]}, formula: 'x'}\n"},
			[]string{`DIR/a.yaml:2: feature type "t4": param k: must be a number or a duration string, got []interface {}`}},
		{"input and param", map[string]string{"a.yaml": "feature_types:\n  - {name: t5, inputs: [k], params: {k: 1}, formula: 'k'}\n"},
			[]string{`DIR/a.yaml:2: feature type "t5": "k" is both an input and a param`}},
		{"duplicate across files", map[string]string{
			"a.yaml": "name: t6\nformula: x\n",
			"b.yaml": "name: t6\nformula: y\n"},
			[]string{`DIR/b.yaml: feature type "t6" is already declared in DIR/a.yaml`}},
		{"not a list", map[string]string{"a.yaml": "feature_types: {name: t7}\n"},
			[]string{`DIR/a.yaml:1: feature_types must be a list`}},
		{"several errors", map[string]string{"a.yaml": "feature_types:\n  - {name: ok1, formula: x}\n  - {name: t8, formula: 'x +'}\n  - {formula: x}\n"},
			[]string{`feature type "t8": feature type t8: 1:4: unexpected end of formula`, `DIR/a.yaml:4: feature type #3: name is required`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			r := Builtin()
			before := r.Names()
			err := r.LoadDir(dir)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "DIR", dir)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", err, w)
				}
			}
			if !slices.Equal(r.Names(), before) {
				t.Errorf("a failed LoadDir changed the registry")
			}
		})
	}
}

func p0(t *testing.T, r *Registry) *Plan {
	return mustCompile(t, []Spec{{Name: "s", Type: "spread_ratio"}}, Options{Registry: r})
}

func TestZeroRegistry(t *testing.T) {
	var r Registry
	if err := r.Add(FeatureType{Name: "t", Formula: "log(x)", Inputs: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	p := mustCompile(t, []Spec{{Name: "f", Type: "t", Inputs: map[string]string{"x": "close"}}}, Options{Registry: &r})
	if p.Feature("f").Canonical != "log(close)" {
		t.Errorf("canonical %q", p.Feature("f").Canonical)
	}
	if err := r.Add(FeatureType{Name: "u", Formula: "lag(x, k)", Params: map[string]any{"k": true}}); err == nil ||
		err.Error() != `feature type "u": param k: must be a number or a duration string, got bool` {
		t.Errorf("got %v", err)
	}
}

func TestSpecsFromFilesCompile(t *testing.T) {
	for format, data := range map[string]string{
		"json": `[{"name": "r", "type": "log_return", "inputs": {"price": "close"}, "params": {"k": 5}},
		          {"name": "q", "type": "log_return", "inputs": {"price": "close"}, "params": {"k": 5.0}}]`,
		"yaml": "- {name: r, type: log_return, inputs: {price: close}, params: {k: 5}}\n- {name: q, type: vwap, params: {w: 10m}}\n",
	} {
		specs, err := ParseSpecs([]byte(data), format)
		if err != nil {
			t.Fatal(err)
		}
		p := mustCompile(t, specs, Options{})
		if got := p.Feature("r").Canonical; got != "log(close) - log(lag(close, 5))" {
			t.Errorf("%s: %q", format, got)
		}
	}
}
