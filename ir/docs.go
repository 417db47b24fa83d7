package ir

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// TypesMarkdown renders docs/feature_types.md from the built-in registry
// (ir/builtin/*.yaml), so the reference cannot drift from what ships.
// TestFeatureTypeDocs fails when the file differs;
// `go test ./ir -run TestFeatureTypeDocs -update` rewrites it.
func TypesMarkdown() string {
	reg := Builtin()
	var b strings.Builder
	b.WriteString("# Built-in FeatureTypes\n\n")
	b.WriteString("<!-- Generated from ir/builtin/*.yaml by `go test ./ir -run TestFeatureTypeDocs -update`. Do not edit. -->\n\n")
	b.WriteString("A FeatureType is a formula over abstract inputs and parameters. A spec instantiates it by\n")
	b.WriteString("mapping the inputs to columns, aliases or other features and overriding parameters:\n\n")
	b.WriteString("```yaml\nfeatures:\n  - name: ret_5\n    type: log_return\n    inputs: {price: close}\n    params: {k: 5}\n```\n\n")
	b.WriteString("An input the spec does not map stands for the column (alias, feature) of its own name; when\n")
	b.WriteString("there is none the feature fails naming the missing inputs. A project adds or overrides types\n")
	b.WriteString("with YAML files of the same shape in its directory or its `features/` directory\n")
	b.WriteString("(`feature_types: [{name, doc, inputs, params, formula}]`). Functions and the default aliases:\n")
	b.WriteString("[functions.md](functions.md).\n\n")
	b.WriteString("| type | inputs | params (defaults) | description |\n| --- | --- | --- | --- |\n")
	names := reg.Names()
	for _, n := range names {
		t, _ := reg.Lookup(n)
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s | %s |\n", t.Name, t.Name, strings.Join(t.Inputs, ", "), typeParams(t), mdCell(t.Doc))
	}
	for _, n := range names {
		t, _ := reg.Lookup(n)
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n", t.Name, t.Doc)
		fmt.Fprintf(&b, "- inputs: %s\n", strings.Join(t.Inputs, ", "))
		if p := typeParams(t); p != "" {
			fmt.Fprintf(&b, "- params: %s\n", p)
		}
		fmt.Fprintf(&b, "- formula: `%s`\n", t.Formula)
		fmt.Fprintf(&b, "- spec: `%s`\n", exampleSpec(t))
	}
	return b.String()
}

// typeParams lists a type's params with their defaults: "k=1, w='5m'".
func typeParams(t *FeatureType) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(t.Params)) {
		switch v := t.Params[k].(type) {
		case nil:
			parts = append(parts, k+" (required)")
		case string:
			parts = append(parts, fmt.Sprintf("%s='%s'", k, v))
		default:
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	return strings.Join(parts, ", ")
}

// exampleSpec is a spec instantiating t over the default aliases (price:
// close, size: volume) or columns of the input's name.
func exampleSpec(t *FeatureType) string {
	col := map[string]string{"price": "close", "size": "volume"}
	var ins []string
	for _, in := range t.Inputs {
		c := col[in]
		if c == "" {
			c = in
		}
		ins = append(ins, fmt.Sprintf("%q: %q", in, c))
	}
	return fmt.Sprintf(`{"name": "my_%s", "type": %q, "inputs": {%s}}`, t.Name, t.Name, strings.Join(ins, ", "))
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
