package ir

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/featuredag/fdag/formula"
)

// DefaultAliases are the column aliases of the original system: formulas
// written against bar data (close, volume) run on trade data.
var DefaultAliases = map[string]string{"close": "trade_price", "volume": "trade_size"}

// Options configures Compile. The zero value compiles against the built-in
// registry and the default aliases, taking unknown names as source columns.
type Options struct {
	Registry *Registry         // nil: Builtin()
	Aliases  map[string]string // nil: DefaultAliases; an empty map disables aliases
	// SourceColumns are the columns of the input. nil means "not known"
	// (explain without data): any identifier that is not a feature or an
	// alias is then taken as a source column.
	SourceColumns []string
	// NoCSE gives every feature its own nodes (sharing only within the
	// feature), so tests can check that sharing changes no result.
	NoCSE bool
}

// Feature is one requested feature in the plan, in request order.
type Feature struct {
	Spec Spec // defaults applied (version, namespace)
	// Root is the node computing the feature; -1 when Err != nil.
	Root NodeID
	// Canonical is the formula after FeatureType substitution, in
	// formula.Format's canonical text with durations normalised ('60s' ->
	// '1m'); "" when the formula does not parse.
	Canonical string
	// ID is a stable hash of name, version and canonical formula: the
	// feature_id of the narrow output. Changing the formula changes it;
	// reformatting it does not.
	ID       string
	Lookback Lookback
	Err      error // a *FeatureError, or nil
}

// OK reports whether the feature compiled.
func (f *Feature) OK() bool { return f.Err == nil }

// FeatureError is the failure of one feature. Error() reads
// "NAME: line:col: message" (one line per problem); Render adds the formula
// line and a caret under the position, as cel-go does. Err is the
// underlying *formula.Error, formula.Errors or plain error.
type FeatureError struct {
	Name  string
	Index int // position in the request
	Err   error
}

func (e *FeatureError) label() string {
	if e.Name == "" {
		return fmt.Sprintf("feature #%d", e.Index+1)
	}
	return e.Name
}

func (e *FeatureError) Error() string {
	var es formula.Errors
	if errors.As(e.Err, &es) && len(es) > 1 {
		lines := make([]string, len(es))
		for i, x := range es {
			lines[i] = e.label() + ": " + x.Error()
		}
		return strings.Join(lines, "\n")
	}
	return e.label() + ": " + e.Err.Error()
}

// Render is Error with each formula problem followed by its source line and
// a caret.
func (e *FeatureError) Render() string {
	var es formula.Errors
	if errors.As(e.Err, &es) {
		parts := make([]string, len(es))
		for i, x := range es {
			parts[i] = e.label() + ": " + x.Render()
		}
		return strings.Join(parts, "\n")
	}
	return e.label() + ": " + formula.Render(e.Err)
}

func (e *FeatureError) Unwrap() error { return e.Err }

// prepared is one feature between parsing and building.
type prepared struct {
	ast  *formula.Checked
	src  string // the text ast positions refer to
	deps []dep  // identifiers naming other features, in source order
	err  error  // the unwrapped cause; wrapped in FeatureError at the end
}

type dep struct {
	feature int
	pos     formula.PosRange
}

type compiler struct {
	specs   []Spec
	opts    Options
	aliases map[string]string
	columns map[string]bool // nil: any name is a column
	byName  map[string]int  // first feature of each name
	prep    []prepared
	b       *builder
	roots   []NodeID
	inlined map[[2]int]NodeID // NoCSE: (scope, feature) -> root built in that scope
}

// Compile turns a request's specs into one Plan. It never fails as a
// whole: each feature carries its own error, and one feature's failure
// affects only the features that use it.
//
// Per spec: validate, substitute a FeatureType instance into a formula,
// parse and check, then resolve identifiers in this order: abstract input or
// param (type instances, by substitution), another feature of the request
// (an edge to its root node), a source column, an alias whose target is a
// source column. A feature naming itself skips the feature step, so
// `{"name": "trade_price", "formula": "log(trade_price)"}` reads the column.
func Compile(specs []Spec, opts Options) *Plan {
	p, _ := CompileContext(context.Background(), specs, opts)
	return p
}

// CompileContext is Compile that stops soon after ctx is done, returning
// ctx's error and no plan: a server compiling a client's request must not
// keep going after the client has gone (issue 8: a 30,000-feature chain
// kept compiling 90 CPU-seconds past its client's 3 s deadline).
func CompileContext(ctx context.Context, specs []Spec, opts Options) (*Plan, error) {
	// Every loop over the features checks ctx; each step is one feature's
	// work, so a cancel is seen within about one feature's compile.
	if opts.Registry == nil {
		opts.Registry = Builtin()
	}
	c := &compiler{specs: specs, opts: opts, aliases: opts.Aliases, byName: map[string]int{}, inlined: map[[2]int]NodeID{}}
	if c.aliases == nil {
		c.aliases = DefaultAliases
	}
	if opts.SourceColumns != nil {
		c.columns = make(map[string]bool, len(opts.SourceColumns))
		for _, col := range opts.SourceColumns {
			c.columns[col] = true
		}
	}
	p := &Plan{Features: make([]Feature, len(specs))}
	c.prep = make([]prepared, len(specs))
	for i, s := range specs {
		if _, dup := c.byName[s.Name]; !dup && s.Name != "" {
			c.byName[s.Name] = i
		}
		p.Features[i] = Feature{Spec: s.WithDefaults(), Root: -1}
	}
	for i := range specs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c.prepare(i, &p.Features[i])
	}
	for i := range specs {
		c.findDeps(i)
	}
	c.failCycles()
	c.b = newBuilder()
	c.roots = make([]NodeID, len(specs))
	for _, i := range c.buildOrder() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c.build(i)
	}
	for i := range p.Features {
		f := &p.Features[i]
		if err := c.prep[i].err; err != nil {
			f.Err = &FeatureError{Name: specs[i].Name, Index: i, Err: err}
			continue
		}
		f.Root = c.roots[i]
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.finish(c.b.nodes)
	return p, nil
}

// prepare validates spec i and parses its formula.
func (c *compiler) prepare(i int, f *Feature) {
	s, pr := c.specs[i], &c.prep[i]
	defer func() {
		raw := f.Canonical
		if raw == "" {
			raw = s.Formula
			if s.Type != "" {
				raw = "type " + s.Type
			}
		}
		sum := sha256.Sum256([]byte(f.Spec.Name + "\x00" + f.Spec.Version + "\x00" + raw))
		f.ID = hex.EncodeToString(sum[:16])
	}()
	if err := s.Validate(); err != nil {
		pr.err = err
		return
	}
	if first := c.byName[s.Name]; first != i {
		pr.err = fmt.Errorf("duplicate feature name (also feature #%d)", first+1)
		return
	}
	src := s.Formula
	if s.Type != "" {
		t, ok := c.opts.Registry.Lookup(s.Type)
		if !ok {
			msg := fmt.Sprintf("unknown feature type %q", s.Type)
			if sug := suggest(s.Type, c.opts.Registry.Names()); sug != "" {
				msg += fmt.Sprintf("; did you mean %q?", sug)
			}
			pr.err = errors.New(msg)
			return
		}
		if t.Namespace != "" && s.Namespace == "" {
			f.Spec.Namespace = t.Namespace
		}
		sub, err := instantiate(t, s, false)
		if err != nil {
			pr.err = err
			return
		}
		// Positions of later errors refer to the instance's own text
		// (the type's formula with this spec's inputs and values), which
		// is what the user needs to see under the caret.
		src = formula.Format(normalizeDurations(sub))
	}
	n, err := formula.Compile(src)
	if n != nil {
		f.Canonical = formula.Format(normalizeDurations(n.Root))
	}
	if err != nil {
		pr.err = err
		return
	}
	pr.ast, pr.src = n, src
}

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

// build turns feature i's formula into nodes.
func (c *compiler) build(i int) {
	pr := &c.prep[i]
	if pr.err != nil {
		return
	}
	scope := 0
	if c.opts.NoCSE {
		scope = i + 1
	}
	x := &exprBuilder{c: c, self: i, scope: scope, checked: pr.ast}
	root, err := x.expr(pr.ast.Root)
	if err != nil {
		err.Src = pr.src
		pr.err = err
		return
	}
	c.roots[i] = root
}

// exprBuilder lowers one feature's AST; self is the feature whose
// identifiers are being resolved (it differs from the scope's feature when
// NoCSE inlines a referenced feature).
type exprBuilder struct {
	c       *compiler
	self    int
	scope   int
	checked *formula.Checked // self's formula, whose calls are bound
}

func errAt(pos formula.PosRange, format string, args ...any) *formula.Error {
	return &formula.Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (x *exprBuilder) add(n Node) NodeID { return x.c.b.add(x.scope, n) }

func (x *exprBuilder) expr(n formula.Node) (NodeID, *formula.Error) {
	switch n := n.(type) {
	case *formula.NumberLit:
		return x.add(Node{Op: OpConst, Value: n.Value}), nil
	case *formula.ParenExpr:
		return x.expr(n.X)
	case *formula.Ident:
		return x.ident(n)
	case *formula.UnaryExpr:
		a, err := x.expr(n.X)
		if err != nil || n.Op == formula.OpAdd {
			return a, err
		}
		return x.add(Node{Op: OpNeg, Args: []NodeID{a}}), nil
	case *formula.BinaryExpr:
		l, err := x.expr(n.L)
		if err != nil {
			return 0, err
		}
		r, err := x.expr(n.R)
		if err != nil {
			return 0, err
		}
		op, ok := binaryOf[n.Op]
		if !ok {
			return 0, errAt(n.OpPos, "unsupported operator %s", n.Op)
		}
		return x.add(Node{Op: op, Args: []NodeID{l, r}}), nil
	case *formula.Call:
		return x.call(n)
	case *formula.StringLit:
		// Check rejects strings outside window positions; kept for a
		// hand-built tree.
		return 0, errAt(n.Pos, "string %q is only allowed as a window or half-life argument", n.Value)
	}
	return 0, errAt(formula.PosRange{}, "missing expression")
}

func (x *exprBuilder) ident(id *formula.Ident) (NodeID, *formula.Error) {
	c := x.c
	if j, ok := c.refersToFeature(x.self, id.Name); ok {
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

// call builds a checked call from its binding: its series arguments, then
// the function's expansion or its primitive with the bound Params.
func (x *exprBuilder) call(call *formula.Call) (NodeID, *formula.Error) {
	b := x.checked.Bound(call)
	if b == nil {
		// Check reports every call it cannot bind; kept for a hand-built tree.
		return 0, errAt(call.Pos, "call of %s was not checked", call.Func)
	}
	args := make([]NodeID, len(b.Series))
	for i, s := range b.Series {
		a, err := x.expr(s)
		if err != nil {
			return 0, err
		}
		args[i] = a
	}
	if expand, ok := expansions[b.Func.Name]; ok {
		return expand(x, b, args), nil
	}
	op := FuncOp(b.Func.Name)
	if op == OpInvalid {
		// TestOpTable makes this unreachable.
		return 0, errAt(call.FuncPos, "function %s is not supported by the IR", b.Func.Name)
	}
	return x.add(Node{Op: op, Args: args, Params: b.Params}), nil
}

// suggest returns the candidate closest to name when it is close enough to
// be a likely typo.
func suggest(name string, cands []string) string {
	// Beyond about a third of the name a "suggestion" is a guess.
	best, bestD := "", max(1, len([]rune(name))/3)+1
	for _, c := range cands {
		if d := editDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
