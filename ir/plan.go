package ir

import (
	"errors"
	"slices"
)

// Plan is the compiled DAG of one request: the nodes of all features in
// one arena, hash-consed and in topological order (every node after its
// arguments), and the features in request order pointing at their roots.
// Only nodes some successful feature needs are kept.
type Plan struct {
	Nodes    []*Node
	Features []Feature
	// Uses counts the consumers of each node: the distinct nodes taking it
	// as an argument plus the features whose root it is.
	Uses []int
	// Lookbacks is the history each node needs (see Lookback).
	Lookbacks []Lookback

	byName map[string]int
}

// finish keeps the nodes reachable from successful features, renumbers them
// (keeping their order, hence topological order and canonical argument
// order) and computes uses and lookbacks.
func (p *Plan) finish(nodes []*Node) {
	keep := make([]bool, len(nodes))
	var mark func(id NodeID)
	mark = func(id NodeID) {
		if keep[id] {
			return
		}
		keep[id] = true
		for _, a := range nodes[id].Args {
			mark(a)
		}
	}
	for _, f := range p.Features {
		if f.Err == nil {
			mark(f.Root)
		}
	}
	newID := make([]NodeID, len(nodes))
	for old, n := range nodes {
		if !keep[old] {
			continue
		}
		newID[old] = NodeID(len(p.Nodes))
		n.ID = newID[old]
		for i, a := range n.Args {
			n.Args[i] = newID[a]
		}
		p.Nodes = append(p.Nodes, n)
	}
	p.Uses = make([]int, len(p.Nodes))
	for _, n := range p.Nodes {
		for i, a := range n.Args {
			if !slices.Contains(n.Args[:i], a) {
				p.Uses[a]++
			}
		}
	}
	p.byName = map[string]int{}
	for i := range p.Features {
		f := &p.Features[i]
		if _, dup := p.byName[f.Spec.Name]; !dup {
			p.byName[f.Spec.Name] = i
		}
		if f.Err == nil {
			f.Root = newID[f.Root]
			p.Uses[f.Root]++
		}
	}
	p.computeLookbacks()
}

// Feature returns the (first) feature of that name, or nil.
func (p *Plan) Feature(name string) *Feature {
	i, ok := p.byName[name]
	if !ok {
		return nil
	}
	return &p.Features[i]
}

// OK reports whether every feature compiled.
func (p *Plan) OK() bool { return len(p.Failed()) == 0 }

// Failed returns the features that did not compile, in request order.
func (p *Plan) Failed() []*Feature {
	var out []*Feature
	for i := range p.Features {
		if p.Features[i].Err != nil {
			out = append(out, &p.Features[i])
		}
	}
	return out
}

// Err joins the errors of all failed features (nil when all compiled), for
// callers that treat any failure as fatal (validate, the command line).
func (p *Plan) Err() error {
	var errs []error
	for _, f := range p.Failed() {
		errs = append(errs, f.Err)
	}
	return errors.Join(errs...)
}

// SourceColumns returns the input columns the successful features read,
// sorted.
func (p *Plan) SourceColumns() []string {
	var cols []string
	for _, n := range p.Nodes {
		if n.Op.ReadsColumn() && !slices.Contains(cols, n.Column) {
			cols = append(cols, n.Column)
		}
	}
	slices.Sort(cols)
	return cols
}

// NeedsTime reports whether any node has a duration window or half-life,
// which needs the time column as timestamps.
func (p *Plan) NeedsTime() bool {
	for _, n := range p.Nodes {
		if n.Window.Dur > 0 || n.HalfLife.Dur > 0 {
			return true
		}
	}
	return false
}

// SharedNodes counts the nodes used by more than one successful feature
// (directly or through other nodes), the measure of common subexpression
// elimination that Polars reports in its explain.
func (p *Plan) SharedNodes() int {
	// One pass from the roots down (the arena is topological, so every
	// consumer comes after its arguments): each node remembers the one
	// feature reaching it so far, or `many`. A walk per feature was
	// quadratic on chains of features (issue 8).
	const none, many = -1, -2
	owner := make([]int, len(p.Nodes))
	for i := range owner {
		owner[i] = none
	}
	reach := func(id NodeID, f int) {
		switch o := owner[id]; {
		case o == none:
			owner[id] = f
		case o != f:
			owner[id] = many
		}
	}
	for fi, f := range p.Features {
		if f.Err == nil {
			reach(f.Root, fi)
		}
	}
	shared := 0
	for id := len(p.Nodes) - 1; id >= 0; id-- {
		o := owner[id]
		if o == none {
			continue
		}
		if o == many {
			shared++
		}
		for _, a := range p.Nodes[id].Args {
			reach(a, o)
		}
	}
	return shared
}

// FeatureUsers counts, per node, the successful features whose DAG holds
// it (directly or through other nodes). It walks each feature's DAG, so it
// is quadratic on chains of features: for drawing a plan, not for a
// server's hot path (SharedNodes is linear).
func (p *Plan) FeatureUsers() []int {
	users := make([]int, len(p.Nodes))
	last := make([]int, len(p.Nodes)) // last feature (+1) that counted the node
	for fi, f := range p.Features {
		if f.Err != nil {
			continue
		}
		stack := []NodeID{f.Root}
		for len(stack) > 0 {
			id := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if last[id] == fi+1 {
				continue
			}
			last[id] = fi + 1
			users[id]++
			stack = append(stack, p.Nodes[id].Args...)
		}
	}
	return users
}
