package ir

import (
	"strings"
	"testing"
)

// A Qlib formula compiles through the same IR: selected by its $fields or
// by "dialect", shared with fdag formulas by CSE, and a $field is a
// column even when a feature has its name.
func TestQlibDialect(t *testing.T) {
	specs := []Spec{
		{Name: "ma5", Formula: "Mean($close, 5) / $close"},
		{Name: "ma5_fdag", Formula: "rolling_mean(close, 5, min_samples=1) / close"},
		{Name: "ratio", Formula: "ma5 / Ref($close, 1)", Dialect: DialectQlib},
		{Name: "vwap", Formula: "Mean($close, 2)"},
		{Name: "uses_vwap", Formula: "$vwap / $close"},
		{Name: "ahead", Formula: "Ref($close, -2)"},
		{Name: "bad", Formula: "Mean($close, 5)", Dialect: "pandas"},
		{Name: "typed", Type: "log_return", Inputs: map[string]string{"price": "close"}, Dialect: DialectQlib},
	}
	p := Compile(specs, Options{SourceColumns: []string{"close", "open", "high"}})
	f := map[string]*Feature{}
	for i := range p.Features {
		f[p.Features[i].Spec.Name] = &p.Features[i]
	}
	for _, n := range []string{"ma5", "ma5_fdag", "ratio", "vwap"} {
		if !f[n].OK() {
			t.Fatalf("%s: %v", n, f[n].Err)
		}
	}
	if f["ma5"].Root != f["ma5_fdag"].Root {
		t.Errorf("Mean($close, 5) / $close and its fdag translation are different nodes")
	}
	if got := f["ma5"].Canonical; got != "rolling_mean(close, 5, min_samples=1) / close" {
		t.Errorf("canonical %q", got)
	}
	for name, want := range map[string]string{
		"ahead": "ahead: 1:13: Ref: N = -2 reads 2 rows ahead",
		// $vwap names a column, never the feature vwap.
		"uses_vwap": `unknown identifier "vwap"`,
		"bad":       `unknown dialect "pandas"`,
		"typed":     `"dialect": "qlib" applies to a "formula"`,
	} {
		if f[name].OK() || !strings.Contains(f[name].Err.Error(), want) {
			t.Errorf("%s: error %v, want %q", name, f[name].Err, want)
		}
	}
	if r := f["ahead"].Err.(*FeatureError).Render(); !strings.Contains(r, " | Ref($close, -2)\n |             ^") {
		t.Errorf("no caret under the shift:\n%s", r)
	}
}
