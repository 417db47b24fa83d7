package ir

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSpecDefaults(t *testing.T) {
	s := Spec{Name: "x", Formula: "close"}.WithDefaults()
	if s.Version != "v1.0" || s.Namespace != "signal" {
		t.Fatalf("defaults: got %q %q", s.Version, s.Namespace)
	}
	s = Spec{Name: "x", Formula: "close", Version: "v2", Namespace: "execution"}.WithDefaults()
	if s.Version != "v2" || s.Namespace != "execution" {
		t.Fatalf("explicit values overwritten: %q %q", s.Version, s.Namespace)
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		spec Spec
		want string // "" for valid
	}{
		{Spec{Name: "ret_1", Formula: "close"}, ""},
		{Spec{Name: "r", Type: "log_return", Params: map[string]any{"k": 5}}, ""},
		{Spec{Formula: "close"}, "name is required"},
		{Spec{Name: "1x", Formula: "close"}, `name "1x" is not a valid identifier (letters, digits and _, not starting with a digit, not a Python keyword)`},
		{Spec{Name: "a-b", Formula: "close"}, `name "a-b" is not a valid identifier (letters, digits and _, not starting with a digit, not a Python keyword)`},
		{Spec{Name: "lambda", Formula: "close"}, `name "lambda" is not a valid identifier (letters, digits and _, not starting with a digit, not a Python keyword)`},
		{Spec{Name: "x"}, `a spec needs a "formula" or a "type"`},
		{Spec{Name: "x", Formula: "close", Type: "log_return"}, `a spec has either a "formula" or a "type", not both`},
		{Spec{Name: "x", Formula: "close", Params: map[string]any{"k": 1}}, `"inputs" and "params" apply only to a spec with a "type"`},
	}
	for _, tt := range tests {
		err := tt.spec.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.spec, got, tt.want)
		}
	}
}

func TestParseSpecs(t *testing.T) {
	want := []Spec{
		{Name: "ret_1", Formula: "log(close) - log(lag(close, 1))"},
		{Name: "ret_5", Type: "log_return", Inputs: map[string]string{"price": "close"}, Params: map[string]any{"k": 5}, Version: "v2"},
	}
	docs := []struct{ name, format, data string }{
		{"json list", "json", `[{"name": "ret_1", "formula": "log(close) - log(lag(close, 1))"},
			{"name": "ret_5", "type": "log_return", "inputs": {"price": "close"}, "params": {"k": 5}, "version": "v2"}]`},
		{"json set", "", `{"name": "my set", "features": [{"name": "ret_1", "formula": "log(close) - log(lag(close, 1))"},
			{"name": "ret_5", "type": "log_return", "inputs": {"price": "close"}, "params": {"k": 5}, "version": "v2"}]}`},
		{"yaml list", "yaml", `
- name: ret_1
  formula: log(close) - log(lag(close, 1))
- name: ret_5
  type: log_return
  inputs: {price: close}
  params: {k: 5}
  version: v2
`},
		{"yaml set", "", `
features:
  - {name: ret_1, formula: "log(close) - log(lag(close, 1))"}
  - {name: ret_5, type: log_return, inputs: {price: close}, params: {k: 5}, version: v2}
`},
	}
	for _, d := range docs {
		got, err := ParseSpecs([]byte(d.data), d.format)
		if err != nil {
			t.Errorf("%s: %v", d.name, err)
			continue
		}
		// Params come back as json.Number or int; compare what Compile sees.
		for i := range got {
			for k, v := range got[i].Params {
				nv, err := paramValue(v)
				if err != nil {
					t.Fatal(err)
				}
				got[i].Params[k] = int(nv.(float64))
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", d.name, got, want)
		}
	}
}

func TestParseSpecsErrors(t *testing.T) {
	tests := []struct{ format, data, want string }{
		{"json", `[{"name": "x", "formla": "close"}]`, `json: unknown field "formla"`},
		{"yaml", "- name: x\n  formla: close\n", `line 2: unknown key "formla" (expected one of name, formula, type, inputs, params, version, namespace, dialect)`},
		{"yaml", "name: x\n", `expected a list of specs or a mapping with "features"`},
		{"json", `{"name": "x"}`, `expected a list of specs or an object with "features"`},
		{"toml", `x`, `unknown spec format "toml" (expected json or yaml)`},
	}
	for _, tt := range tests {
		_, err := ParseSpecs([]byte(tt.data), tt.format)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s %q: got %v, want %q", tt.format, tt.data, err, tt.want)
		}
	}
}

func TestLoadSpecs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	j := write("set.json", `{"features": [{"name": "a", "formula": "close"}]}`)
	y := write("set.yaml", "features:\n  - name: a\n    formula: close\n")
	for _, p := range []string{j, y} {
		specs, err := LoadSpecs(p)
		if err != nil || len(specs) != 1 || specs[0].Name != "a" {
			t.Errorf("%s: %v %+v", p, err, specs)
		}
	}
	bad := write("bad.yaml", "- name: a\n  oops: 1\n")
	if _, err := LoadSpecs(bad); err == nil || !strings.HasPrefix(err.Error(), bad+": line 2: unknown key") {
		t.Errorf("bad file: %v", err)
	}
}
