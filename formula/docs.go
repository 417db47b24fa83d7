package formula

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Signature is a function as users call it, optional parameters with their
// defaults: "lag(x, k=1)", "rolling_mean(x, w, min_samples=?)". A "?"
// default depends on other arguments and is explained in Param.DefaultDoc.
func (f *Func) Signature() string {
	parts := make([]string, len(f.Params))
	for i, p := range f.Params {
		switch {
		case !p.Optional:
			parts[i] = p.Name
		case p.Default != nil:
			parts[i] = p.Name + "=" + strconv.FormatFloat(*p.Default, 'g', -1, 64)
		default:
			parts[i] = p.Name + "=?"
		}
	}
	if f.Variadic {
		parts = append(parts, "...")
	}
	return f.Name + "(" + strings.Join(parts, ", ") + ")"
}

// MarkdownDocs renders docs/functions.md from the function table, so the
// reference cannot drift from what the checker accepts. TestDocs fails when
// the file differs; `go test ./formula -run TestDocs -update` rewrites it.
func MarkdownDocs() string {
	var b strings.Builder
	b.WriteString("# Built-in functions\n\n")
	b.WriteString("<!-- Generated from formula.Functions by `go test ./formula -run TestDocs -update`. Do not edit. -->\n\n")
	b.WriteString("Formulas use Python expression syntax: numbers, column and feature names, duration strings\n")
	b.WriteString("(`'5m'`, `\"500ms\"`, `'1h30m'`), calls with positional or keyword arguments (`lag(x, k=5)`),\n")
	b.WriteString("unary `-`, `+ - * / **` and comparisons `< <= > >= == !=` (1.0 / 0.0). Comparisons do not chain.\n")
	b.WriteString("A string column compared with a string literal, `side == 'buy'` or `side != 'buy'`, gives 1.0 / 0.0,\n")
	b.WriteString("null where the column is null; strings take no other operator, and a number column compared with a\n")
	b.WriteString("string (or a string column used as a number) is an error naming the column.\n\n")
	b.WriteString("Qlib's expressions (`Mean($close, 5) / $close`, all of Alpha158) are accepted too, with Qlib's own\n")
	b.WriteString("semantics: see [the Qlib dialect](qlib.md), selected by `\"dialect\": \"qlib\"` or by a `$field`.\n\n")
	b.WriteString("Argument kinds:\n\n")
	for k := KindSeries; k < numKinds; k++ {
		fmt.Fprintf(&b, "- **%s**: %s\n", k, kindDoc[k])
	}
	b.WriteString("\nDuration units: `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`, `d`, `w`, combined as in `1h30m`.\n")
	b.WriteString("Calendar units (`mo`, `y`, `q`) and index counts (`i`) are not accepted.\n\n")
	b.WriteString("Windows, lags and half-lives have upper bounds (below, per parameter; durations at most `" + maxDurationText + "`),\n")
	b.WriteString("far above what a feature sensibly uses: a larger value is an error at its position. The kernels'\n")
	b.WriteString("state grows with the rows actually seen, not with the parameter.\n\n")

	b.WriteString("Identifiers name an input column, another feature of the request, an abstract input of a\n")
	b.WriteString("[FeatureType](feature_types.md), or an alias of a column. The default aliases (a request's\n")
	b.WriteString("`aliases`, or `--alias NAME=COLUMN`, add to or replace them):\n\n")
	b.WriteString("| alias | column |\n| --- | --- |\n")
	for _, name := range slices.Sorted(maps.Keys(DefaultAliases)) {
		fmt.Fprintf(&b, "| `%s` | `%s` |\n", name, DefaultAliases[name])
	}
	b.WriteString("\nWhen the input has a column of the alias's own name, the column wins.\n\n")
	b.WriteString("| function | family | description |\n| --- | --- | --- |\n")
	for _, f := range Functions {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s |\n", f.Signature(), f.Name, f.Family, mdCell(f.Doc))
	}
	for _, f := range Functions {
		fmt.Fprintf(&b, "\n## %s\n\n", f.Name)
		fmt.Fprintf(&b, "`%s` (%s)\n\n", f.Signature(), f.Family)
		b.WriteString(f.Doc + "\n\n")
		b.WriteString("| parameter | kind | default |\n| --- | --- | --- |\n")
		for _, p := range f.Params {
			def := "required"
			switch {
			case p.Optional && p.Default != nil:
				def = strconv.FormatFloat(*p.Default, 'g', -1, 64)
			case p.Optional && p.DefaultDoc != "":
				def = p.DefaultDoc
			case p.Optional:
				def = "optional"
			}
			kind := p.Kind.String()
			if p.Kind == KindInt || p.Kind == KindMinSamples {
				kind = strings.TrimPrefix(strings.TrimPrefix(intDesc(p.Min), "a "), "an ")
			}
			if b := p.bound(); b != "" {
				kind += ", at most " + b
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", p.Name, kind, mdCell(def))
		}
		fmt.Fprintf(&b, "\nExample: `%s`\n", f.Example)
	}
	return b.String()
}

var kindDoc = map[ArgKind]string{
	KindSeries:     "any expression (a column, a feature, a call, a number); not a string.",
	KindInt:        "an integer literal such as `5`, at least the parameter's minimum.",
	KindWindow:     "a positive integer literal (the last that many rows) or a duration string (rows with time in (t - w, t]).",
	KindHalfLife:   "a positive number literal (rows) or a duration string (time).",
	KindQuantile:   "a number literal from 0 to 1 (0.5 is the median).",
	KindMinSamples: "a positive integer literal, at most the window's rows; left out, the window length for a row window and 1 for a duration window.",
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// bound is the parameter's upper bound as the docs state it, or "".
func (p Param) bound() string {
	if p.Max == 0 {
		return ""
	}
	n := strconv.FormatFloat(p.Max, 'f', -1, 64)
	switch {
	case p.Kind == KindWindow || p.Kind == KindHalfLife:
		return n + " rows or '" + maxDurationText + "'"
	case p.Kind == KindMinSamples:
		return n + " rows"
	}
	return n
}
