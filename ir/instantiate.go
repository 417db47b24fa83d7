package ir

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/featuredag/fdag/formula"
)

// This file is the instantiation step: a FeatureType instance becomes a
// formula by substitution of its inputs and params.

// instantiate substitutes a spec's inputs (as identifiers) and params (as
// literals) into a type's formula. With check set (validating the type
// itself), required params without a value stay identifiers.
func instantiate(t *FeatureType, s Spec, check bool) (formula.Node, error) {
	n, err := formula.Parse(t.Formula)
	if err != nil {
		return nil, fmt.Errorf("feature type %s: %s", t.Name, formula.Render(err))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Inputs)) {
		if !slices.Contains(t.Inputs, k) {
			return nil, fmt.Errorf("feature type %s has no input %q (inputs: %s)", t.Name, k, listOrNone(t.Inputs))
		}
		if err := validIdent(s.Inputs[k]); err != nil {
			return nil, fmt.Errorf("input %s: %w", k, err)
		}
	}
	params := map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(s.Params)) {
		if _, ok := t.Params[k]; !ok {
			return nil, fmt.Errorf("feature type %s has no param %q (params: %s)", t.Name, k, listOrNone(slices.Sorted(maps.Keys(t.Params))))
		}
		v, err := paramValue(s.Params[k])
		if err != nil {
			return nil, fmt.Errorf("param %s: %w", k, err)
		}
		params[k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(t.Params)) {
		if params[k] == nil {
			params[k] = t.Params[k]
		}
		if params[k] == nil && !check {
			return nil, fmt.Errorf("feature type %s: param %s is required", t.Name, k)
		}
	}
	sub := substitute(n, func(id *formula.Ident) formula.Node {
		if slices.Contains(t.Inputs, id.Name) {
			if actual, ok := s.Inputs[id.Name]; ok {
				return &formula.Ident{Name: actual, Pos: id.Pos}
			}
			return id
		}
		switch v := params[id.Name].(type) {
		case float64:
			return numberLit(v, id.Pos)
		case string:
			return &formula.StringLit{Value: v, Pos: id.Pos}
		}
		return id
	})
	if check && !slices.ContainsFunc(slices.Collect(maps.Values(params)), func(v any) bool { return v == nil }) {
		if _, err := formula.Compile(formula.Format(sub)); err != nil {
			return nil, fmt.Errorf("with the default params: %s", formula.Render(err))
		}
	}
	return sub, nil
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

// substitute returns a copy of n with every identifier replaced by f(id).
func substitute(n formula.Node, f func(*formula.Ident) formula.Node) formula.Node {
	switch n := n.(type) {
	case *formula.Ident:
		return f(n)
	case *formula.ParenExpr:
		c := *n
		c.X = substitute(n.X, f)
		return &c
	case *formula.UnaryExpr:
		c := *n
		c.X = substitute(n.X, f)
		return &c
	case *formula.BinaryExpr:
		c := *n
		c.L, c.R = substitute(n.L, f), substitute(n.R, f)
		return &c
	case *formula.Call:
		c := *n
		c.Args = make([]formula.Arg, len(n.Args))
		for i, a := range n.Args {
			a.Value = substitute(a.Value, f)
			c.Args[i] = a
		}
		return &c
	}
	return n
}

// normalizeDurations rewrites duration strings in their canonical form, so
// that '60s' and '1m' give the same canonical formula (and feature ID).
// Strings that do not parse are left for Check to report.
func normalizeDurations(n formula.Node) formula.Node {
	var walk func(formula.Node) formula.Node
	walk = func(n formula.Node) formula.Node {
		switch n := n.(type) {
		case *formula.StringLit:
			if d, err := formula.ParseDuration(n.Value); err == nil {
				return &formula.StringLit{Value: formula.FormatDuration(d), Pos: n.Pos}
			}
		case *formula.ParenExpr:
			return &formula.ParenExpr{X: walk(n.X), Pos: n.Pos}
		case *formula.UnaryExpr:
			c := *n
			c.X = walk(n.X)
			return &c
		case *formula.BinaryExpr:
			c := *n
			c.L, c.R = walk(n.L), walk(n.R)
			return &c
		case *formula.Call:
			c := *n
			c.Args = make([]formula.Arg, len(n.Args))
			for i, a := range n.Args {
				a.Value = walk(a.Value)
				c.Args[i] = a
			}
			return &c
		}
		return n
	}
	return walk(n)
}
