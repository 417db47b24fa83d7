package ir

import (
	"fmt"
	"slices"
	"strings"

	"github.com/featuredag/fdag/formula"
)

// This file is the dependency step: which features refer to which, cycles
// (failed with the cycle named), and the order features are built in.

// refersToFeature reports which feature an identifier of feature self
// names, if any: the resolution step "another feature of the request".
func (c *compiler) refersToFeature(self int, name string) (int, bool) {
	j, ok := c.byName[name]
	if !ok {
		return 0, false
	}
	if j == self && c.isColumnOrAlias(name) {
		return 0, false
	}
	return j, true
}

func (c *compiler) isColumnOrAlias(name string) bool {
	if c.columns == nil || c.columns[name] {
		return true
	}
	_, ok := c.aliases[name]
	return ok
}

// findDeps records the features spec i refers to.
func (c *compiler) findDeps(i int) {
	pr := &c.prep[i]
	if pr.err != nil {
		return
	}
	walkIdents(pr.ast.Root, func(id *formula.Ident) {
		if id.Field {
			return // a Qlib $field names a column, never a feature
		}
		if j, ok := c.refersToFeature(i, id.Name); ok {
			pr.deps = append(pr.deps, dep{feature: j, pos: id.Pos})
		}
	})
}

func walkIdents(n formula.Node, f func(*formula.Ident)) {
	substitute(n, func(id *formula.Ident) formula.Node { f(id); return id })
}

// failCycles fails every feature on a cycle of references (Tarjan's
// strongly connected components), naming the cycle from its own point of
// view: "cycle: a -> b -> a" for a, "cycle: b -> a -> b" for b.
func (c *compiler) failCycles() {
	n := len(c.prep)
	index, low := make([]int, n), make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	next := 0
	var sccs [][]int
	var strong func(v int)
	strong = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, d := range c.prep[v].deps {
			w := d.feature
			if index[w] < 0 {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var scc []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			sccs = append(sccs, scc)
		}
	}
	for v := range n {
		if index[v] < 0 {
			strong(v)
		}
	}
	for _, scc := range sccs {
		in := map[int]bool{}
		for _, v := range scc {
			in[v] = true
		}
		if len(scc) > maxCycleSearch {
			c.failLongCycle(scc, in)
			continue
		}
		for _, v := range scc {
			path, pos, ok := c.shortestCycle(v, in)
			if !ok {
				continue // a single feature without a self-reference
			}
			names := make([]string, len(path))
			for k, f := range path {
				names[k] = c.specs[f].Name
			}
			c.prep[v].err = &formula.Error{Pos: pos, Src: c.prep[v].src, Msg: "cycle: " + strings.Join(names, " -> ")}
		}
	}
}

// maxCycleSearch is the largest group of features referring to each other
// in which each member's shortest cycle is searched and spelled out; the
// search is linear per member, so quadratic per group, and the names would
// be as long as the group.
const maxCycleSearch = 64

// failLongCycle fails the features of a large group that refer to each
// other in a loop, naming for each the edge into the loop and the size.
func (c *compiler) failLongCycle(scc []int, in map[int]bool) {
	for _, v := range scc {
		for _, d := range c.prep[v].deps {
			if in[d.feature] {
				msg := fmt.Sprintf("cycle: %s -> %s -> ... -> %s (%d features refer to each other in a loop)",
					c.specs[v].Name, c.specs[d.feature].Name, c.specs[v].Name, len(scc))
				c.prep[v].err = &formula.Error{Pos: d.pos, Src: c.prep[v].src, Msg: msg}
				break
			}
		}
	}
}

// shortestCycle finds the shortest path v -> ... -> v inside the component
// in (breadth first), and the position in v's formula of its first edge.
func (c *compiler) shortestCycle(v int, in map[int]bool) ([]int, formula.PosRange, bool) {
	prev := map[int]int{}
	firstPos := map[int]formula.PosRange{}
	queue := []int{v}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, d := range c.prep[u].deps {
			w := d.feature
			if !in[w] {
				continue
			}
			if u == v {
				if _, seen := firstPos[w]; !seen {
					firstPos[w] = d.pos
				}
			}
			if w == v {
				path := []int{v}
				for x := u; x != v; x = prev[x] {
					path = append(path, x)
				}
				slices.Reverse(path[1:])
				path = append(path, v)
				first := v
				if len(path) > 2 {
					first = path[1]
				}
				return path, firstPos[first], true
			}
			if _, seen := prev[w]; !seen && w != v {
				prev[w] = u
				queue = append(queue, w)
			}
		}
	}
	return nil, formula.PosRange{}, false
}

// buildOrder lists features so that each comes after those it refers to
// (cycles are already failed and cut), otherwise in request order.
func (c *compiler) buildOrder() []int {
	done := make([]bool, len(c.prep))
	var order []int
	var visit func(i int)
	visit = func(i int) {
		if done[i] {
			return
		}
		done[i] = true
		if c.prep[i].err == nil {
			for _, d := range c.prep[i].deps {
				visit(d.feature)
			}
		}
		order = append(order, i)
	}
	for i := range c.prep {
		visit(i)
	}
	return order
}
