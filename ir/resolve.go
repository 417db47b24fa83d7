package ir

import (
	"fmt"
	"maps"
	"slices"

	"github.com/featuredag/fdag/formula"
)

// This file is the resolution step: what an identifier names (another
// feature, a source column, an alias), with did-you-mean suggestions.

func (x *exprBuilder) ident(id *formula.Ident) (NodeID, *formula.Error) {
	c := x.c
	if j, ok := c.refersToFeature(x.self, id.Name); ok && !id.Field {
		if other := c.shadowed(id.Name); other != "" {
			// Both readings are plausible; picking one silently gave
			// wrong numbers (a feature "close" changed every formula
			// using the price).
			return 0, errAt(id.Pos, "%q is both feature #%d of this request and %s: rename the feature (a formula cannot tell them apart)", id.Name, j+1, other)
		}
		if c.prep[j].err != nil {
			return 0, errAt(id.Pos, "depends on failed feature %q", id.Name)
		}
		if !c.opts.NoCSE {
			return c.roots[j], nil
		}
		// Without CSE the referenced feature is computed again inside
		// this one, so no node is shared between features. The memo keeps
		// chains of features that use each other twice linear.
		key := [2]int{x.scope, j}
		if root, ok := c.inlined[key]; ok {
			return root, nil
		}
		inner := &exprBuilder{c: c, self: j, scope: x.scope, checked: c.prep[j].ast}
		root, err := inner.expr(c.prep[j].ast.Root)
		if err != nil {
			// Unreachable: j built without error under the same rules.
			return 0, errAt(id.Pos, "feature %q: %s", id.Name, err.Msg)
		}
		c.inlined[key] = root
		return root, nil
	}
	if c.columns == nil || c.columns[id.Name] {
		if target, ok := c.aliases[id.Name]; ok && c.columns == nil {
			// Without known columns the alias is the better guess: the
			// original system's data had no "close" column.
			return x.add(Node{Op: OpSource, Column: target}), nil
		}
		return x.add(Node{Op: OpSource, Column: id.Name}), nil
	}
	if target, ok := c.aliases[id.Name]; ok {
		if !c.columns[target] {
			return 0, errAt(id.Pos, "%s is an alias of %s, which is not an input column", id.Name, target)
		}
		return x.add(Node{Op: OpSource, Column: target}), nil
	}
	msg := fmt.Sprintf("unknown identifier %q: not a feature of this request, an input column or an alias", id.Name)
	cands := slices.Concat(slices.Collect(maps.Keys(c.byName)), slices.Collect(maps.Keys(c.columns)), slices.Collect(maps.Keys(c.aliases)))
	slices.Sort(cands)
	if s := suggest(id.Name, cands); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return 0, errAt(id.Pos, "%s", msg)
}

// shadowed describes the column or alias a feature name hides, "" when
// it hides none.
func (c *compiler) shadowed(name string) string {
	if target, ok := c.aliases[name]; ok {
		return fmt.Sprintf("the alias of column %s", target)
	}
	if c.columns[name] {
		return "an input column"
	}
	return ""
}

// suggest returns the candidate closest to name when it is close enough to
// be a likely typo.
func suggest(name string, cands []string) string {
	// Beyond about a third of the name a "suggestion" is a guess.
	best, bestD := "", max(1, len([]rune(name))/3)+1
	for _, c := range cands {
		if d := formula.EditDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}
