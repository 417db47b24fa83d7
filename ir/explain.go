package ir

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/featuredag/fdag/formula"
)

// Expr returns node n in formula-like form, naming its arguments by id:
// "rolling_std(n2, 100)", "n1 - n4", "trade_price" (a source column).
// Parameters equal to their defaults are left out, as a user would; the
// arguments of a function follow its declaration.
func (n *Node) Expr() string {
	arg := func(i int) string { return "n" + strconv.Itoa(int(n.Args[i])) }
	switch {
	case n.Op == OpSource:
		return n.Column
	case n.Op == OpStrEQ, n.Op == OpStrNE:
		op := map[Op]string{OpStrEQ: " == ", OpStrNE: " != "}[n.Op]
		return n.Column + op + formula.Format(&formula.StringLit{Value: n.Text})
	case n.Op == OpConst:
		return formatNumber(n.Value)
	case n.Op == OpNeg:
		return "-" + arg(0)
	case n.Op.IsBinary():
		return arg(0) + " " + n.Op.String() + " " + arg(1)
	}
	var args []string
	series := 0
	f := n.Op.Func()
	if f == nil {
		for i := range n.Args {
			args = append(args, arg(i))
		}
		return n.Op.String() + "(" + strings.Join(args, ", ") + ")"
	}
	for _, p := range f.Params {
		switch p.Kind {
		case formula.KindSeries:
			if series < len(n.Args) {
				args = append(args, arg(series))
			}
			series++
		case formula.KindInt:
			args = append(args, strconv.Itoa(n.K))
		case formula.KindWindow:
			if n.Window.Dur > 0 {
				args = append(args, quoteDur(n.Window.Dur))
			} else {
				args = append(args, strconv.Itoa(n.Window.Rows))
			}
		case formula.KindMinSamples:
			def := n.Window.Rows
			if n.Window.Dur > 0 {
				def = 1
			}
			if n.MinSamples != def {
				args = append(args, p.Name+"="+strconv.Itoa(n.MinSamples))
			}
		case formula.KindQuantile:
			args = append(args, formatNumber(n.Q))
		case formula.KindHalfLife:
			if n.HalfLife.Dur > 0 {
				args = append(args, quoteDur(n.HalfLife.Dur))
			} else {
				args = append(args, formatNumber(n.HalfLife.Rows))
			}
		}
	}
	return n.Op.String() + "(" + strings.Join(args, ", ") + ")"
}

func quoteDur(ns int64) string { return "'" + formula.FormatDuration(ns) + "'" }

func formatNumber(v float64) string {
	return formula.Format(&formula.NumberLit{Value: v, IsInt: true})
}

// Explain renders the plan for people: a header counting features, nodes
// and nodes shared by more than one feature (the CSE count), the nodes in
// topological order with consumer counts and lookbacks, then each feature
// with its root, status and lookback. Failed features show their error with
// the caret rendering. The text is stable (golden tests hold it).
func (p *Plan) Explain() string {
	var b strings.Builder
	failed := len(p.Failed())
	fmt.Fprintf(&b, "plan: %d features (%d ok, %d failed), %d nodes, %d shared by more than one feature\n",
		len(p.Features), len(p.Features)-failed, failed, len(p.Nodes), p.SharedNodes())
	if len(p.Nodes) > 0 {
		b.WriteString("nodes:\n")
		exprs := make([]string, len(p.Nodes))
		width := 0
		for i, n := range p.Nodes {
			exprs[i] = fmt.Sprintf("n%d = %s", n.ID, n.Expr())
			width = max(width, len(exprs[i]))
		}
		for i := range p.Nodes {
			fmt.Fprintf(&b, "  %-*s  uses=%d  lookback=%s\n", width, exprs[i], p.Uses[i], p.Lookbacks[i])
		}
	}
	if len(p.Features) > 0 {
		b.WriteString("features:\n")
	}
	for i := range p.Features {
		f := &p.Features[i]
		name := f.Spec.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		if f.Err != nil {
			fmt.Fprintf(&b, "  %s: error\n", name)
			msg := f.Err.Error()
			if fe, ok := f.Err.(*FeatureError); ok {
				msg = fe.Render()
			}
			for _, line := range strings.Split(msg, "\n") {
				b.WriteString("      " + line + "\n")
			}
			continue
		}
		fmt.Fprintf(&b, "  %s = n%d  ok  lookback=%s  id=%s\n", name, f.Root, f.Lookback, f.ID)
		fmt.Fprintf(&b, "      %s\n", f.Canonical)
	}
	return b.String()
}

// DOT renders the plan as a Graphviz digraph: one box per node labelled as
// in Explain, edges from arguments to users, and one sink per feature
// (failed features appear unconnected, in red, with their error).
func (p *Plan) DOT() string {
	var b strings.Builder
	b.WriteString("digraph fdag {\n  rankdir=LR;\n  node [fontname=\"monospace\", shape=box];\n")
	for _, n := range p.Nodes {
		shape := ""
		if n.Op.Class() == ClassLeaf {
			shape = ", shape=ellipse"
		}
		label := fmt.Sprintf("n%d = %s", n.ID, n.Expr())
		if lb := p.Lookbacks[n.ID]; !lb.IsZero() {
			label += "\nlookback " + lb.String()
		}
		fmt.Fprintf(&b, "  n%d [label=%s%s];\n", n.ID, dotQuote(label), shape)
	}
	for _, n := range p.Nodes {
		for i, a := range n.Args {
			if i > 0 && n.Args[i-1] == a {
				continue // x * x: one edge is enough
			}
			fmt.Fprintf(&b, "  n%d -> n%d;\n", a, n.ID)
		}
	}
	for i, f := range p.Features {
		name := f.Spec.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		if f.Err != nil {
			fmt.Fprintf(&b, "  f%d [label=%s, shape=octagon, color=red, fontcolor=red];\n", i, dotQuote(f.Err.Error()))
			continue
		}
		fmt.Fprintf(&b, "  f%d [label=%s, shape=doubleoctagon];\n", i, dotQuote(name))
		fmt.Fprintf(&b, "  n%d -> f%d;\n", f.Root, i)
	}
	b.WriteString("}\n")
	return b.String()
}

// dotQuote makes a Graphviz string: quotes and backslashes escaped,
// newlines as left-justified line breaks.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\l`)
	s = r.Replace(s)
	if strings.Contains(s, `\l`) {
		s += `\l`
	}
	return `"` + s + `"`
}
