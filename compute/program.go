package compute

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/featuredag/fdag/compute/kernels"
	"github.com/featuredag/fdag/ir"
)

// step evaluates one DAG node for a chunk of rows.
type step struct {
	node    *ir.Node
	factory kernels.Factory
	// elementwise kernels accept broadcast constants (otherwise constant
	// arguments are materialised into a buffer) and keep nothing from one
	// chunk to the next, so chunks of one symbol may run at once; any
	// other step runs a symbol's chunks one after another, in order.
	elementwise bool
	needTime    bool
	// reads lists the nodes whose chunks the step reads, once each
	// (constants excluded), and argSteps how many of them are steps.
	reads    []ir.NodeID
	argSteps int
}

// program is a plan lowered onto kernels for one input: which nodes to
// evaluate in which order, where each source column comes from, and when
// each intermediate buffer can be reused. It is immutable once built and
// shared by all workers.
type program struct {
	plan    *ir.Plan
	steps   []step
	stepOf  []int // node id -> index in steps, -1 for sources and constants
	sources []ir.NodeID
	// featureErr holds, per feature, the reason it cannot run (compile
	// error, unusable column, ...); nil for features that run.
	featureErr []error
	// outputs lists the features that run, in request order.
	outputs  []int
	rootsOf  map[ir.NodeID][]int // node id -> positions in outputs
	needTime bool
	// readers[node] lists the steps reading the node's chunk, once each: a
	// chunk's buffer is free once they all ran (at once, if none does).
	readers [][]int
}

// inputInfo tells the planner what the data can provide.
type inputInfo struct {
	// columnErr returns nil when the named column exists and is numeric
	// (a string column when str: it is compared with a string literal),
	// otherwise why it cannot be used.
	columnErr func(name string, str bool) error
	// timeErr is non-nil when durations cannot be measured on the time
	// column (it is an integer ordering key, not a timestamp).
	timeErr error
	// timeColumn and symbolColumn are the output's first columns: a
	// feature of the same name would make a second column of that name.
	timeColumn, symbolColumn string
}

// newProgram lowers the features of plan that can run on in.
func newProgram(plan *ir.Plan, in inputInfo) *program {
	p := &program{
		plan:       plan,
		stepOf:     make([]int, len(plan.Nodes)),
		featureErr: make([]error, len(plan.Features)),
		rootsOf:    map[ir.NodeID][]int{},
		readers:    make([][]int, len(plan.Nodes)),
	}
	// Errors that belong to a node (an unusable column, a duration window
	// over integer times, a kernel that cannot be built) fail every
	// feature that reaches the node and nothing else.
	nodeErr := make([]error, len(plan.Nodes))
	factories := make([]kernels.Factory, len(plan.Nodes))
	for _, n := range plan.Nodes {
		switch n.Op {
		case ir.OpSource, ir.OpStrEQ, ir.OpStrNE:
			if err := in.columnErr(n.Column, n.Op != ir.OpSource); err != nil {
				nodeErr[n.ID] = err
			}
		case ir.OpConst:
		default:
			if needsTime(n) && in.timeErr != nil {
				nodeErr[n.ID] = fmt.Errorf("%s: %w", describe(n), in.timeErr)
				continue
			}
			f, err := lower(n)
			if err != nil {
				nodeErr[n.ID] = err
				continue
			}
			factories[n.ID] = f
		}
	}
	needed := make([]bool, len(plan.Nodes))
	reached := reachedErrors(plan, func(id ir.NodeID) error { return nodeErr[id] })
	for fi, f := range plan.Features {
		if f.Err != nil {
			p.featureErr[fi] = f.Err
			continue
		}
		if what := reservedName(f.Spec.Name, in); what != "" {
			p.featureErr[fi] = &ir.FeatureError{Name: f.Spec.Name, Index: fi,
				Err: fmt.Errorf("the name is the %s's, which the output already holds; rename the feature", what)}
			continue
		}
		if err := reached[f.Root]; err != nil {
			p.featureErr[fi] = fmt.Errorf("%s: %w", f.Spec.Name, err)
			continue
		}
		markNeeded(plan, f.Root, needed)
		p.rootsOf[f.Root] = append(p.rootsOf[f.Root], len(p.outputs))
		p.outputs = append(p.outputs, fi)
	}
	for _, n := range plan.Nodes { // arena order is topological
		p.stepOf[n.ID] = -1
		if !needed[n.ID] {
			continue
		}
		switch n.Op {
		case ir.OpSource, ir.OpStrEQ, ir.OpStrNE:
			p.sources = append(p.sources, n.ID)
		case ir.OpConst:
		default:
			p.stepOf[n.ID] = len(p.steps)
			st := step{node: n, factory: factories[n.ID], elementwise: elementwise(n.Op), needTime: needsTime(n)}
			p.needTime = p.needTime || st.needTime
			p.steps = append(p.steps, st)
		}
	}
	for si := range p.steps {
		st := &p.steps[si]
		for _, a := range st.node.Args {
			if plan.Nodes[a].Op == ir.OpConst || slices.Contains(st.reads, a) {
				continue
			}
			st.reads = append(st.reads, a)
			p.readers[a] = append(p.readers[a], si)
			if p.stepOf[a] >= 0 {
				st.argSteps++
			}
		}
	}
	return p
}

// reachedErrors returns, for every node, the first error of a node
// reachable from it (itself first, then its arguments in order, depth
// first), given each node's own error. One pass over the arena, which is
// in topological order: a walk per feature was quadratic on chains of
// features (issue 8: 8k features took 37 s).
func reachedErrors(plan *ir.Plan, own func(ir.NodeID) error) []error {
	reached := make([]error, len(plan.Nodes))
	for _, n := range plan.Nodes {
		reached[n.ID] = own(n.ID)
		for _, a := range n.Args {
			if reached[n.ID] != nil {
				break
			}
			reached[n.ID] = reached[a]
		}
	}
	return reached
}

// reservedName says which output column a feature name would duplicate.
func reservedName(name string, in inputInfo) string {
	switch name {
	case in.timeColumn:
		return "time column " + strconv.Quote(name)
	case in.symbolColumn:
		return "symbol column " + strconv.Quote(name)
	}
	return ""
}

func markNeeded(plan *ir.Plan, id ir.NodeID, needed []bool) {
	if needed[id] {
		return
	}
	needed[id] = true
	for _, a := range plan.Nodes[id].Args {
		markNeeded(plan, a, needed)
	}
}

// needsTime reports whether a node measures durations between rows.
func needsTime(n *ir.Node) bool {
	return n.Window.Dur > 0 || n.HalfLife.Dur > 0
}
