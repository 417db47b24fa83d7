package ir

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/featuredag/fdag/formula"
	"github.com/featuredag/fdag/formula/qlib"
)

// DefaultAliases are the column aliases of the original system: formulas
// written against bar data (close, volume) run on trade data. They are
// declared with the function table (formula.DefaultAliases), whose
// reference lists them.
var DefaultAliases = formula.DefaultAliases

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
	// BoundedWarmup says the input will be a requested range plus the
	// warmup its lookback asks for (a fetch, a batch run), not every row
	// of the symbol: cumulative functions (cum_sum, ...), whose value
	// depends on where the rows begin, then fail with an error at their
	// call instead of silently restarting at the warmup's first row.
	BoundedWarmup bool
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
	columns map[string]bool  // nil: any name is a column
	byName  map[string]int   // first feature of each name
	named   map[string][]int // every feature of each name (duplicates are errors)
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
// `{"name": "trade_price", "formula": "log(trade_price)"}` reads the column;
// another feature using such a name (a feature that is also a column or an
// alias) fails, naming both readings, and so do all features of a
// duplicated name.
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
	c := &compiler{specs: specs, opts: opts, aliases: opts.Aliases, byName: map[string]int{}, named: map[string][]int{}, inlined: map[[2]int]NodeID{}}
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
		c.named[s.Name] = append(c.named[s.Name], i)
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

// sameName lists the other features named like feature i ("#2", ...).
func (c *compiler) sameName(i int) []string {
	var out []string
	for _, j := range c.named[c.specs[i].Name] {
		if j != i {
			out = append(out, fmt.Sprintf("#%d", j+1))
		}
	}
	return out
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
	if others := c.sameName(i); len(others) > 0 {
		// Every feature of the name fails: keeping the first would let the
		// request succeed with one of two formulas picked silently.
		pr.err = fmt.Errorf("duplicate feature name (also feature %s)", strings.Join(others, ", "))
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
		if err := c.unmappedInputs(t, s); err != nil {
			pr.err = err
			return
		}
		// Positions of later errors refer to the instance's own text
		// (the type's formula with this spec's inputs and values), which
		// is what the user needs to see under the caret.
		src = formula.Format(normalizeDurations(sub))
	}
	compile := formula.Compile
	if s.Type == "" && s.FormulaDialect() == DialectQlib {
		// Translated into fdag's tree at the positions of the Qlib text,
		// so everything below (and every error) works as for fdag's own.
		compile = qlib.Compile
	}
	n, err := compile(src)
	if n != nil {
		f.Canonical = formula.Format(normalizeDurations(n.Root))
	}
	if err != nil {
		pr.err = err
		return
	}
	pr.ast, pr.src = n, src
}

// unmappedInputs refuses a type instance whose spec leaves inputs unmapped
// that name nothing of the input either. An unmapped input stands for the
// column (alias, feature) of its own name; when there is none, resolving
// it would point into the type's formula, which the user never wrote
// ("r: 1:5: unknown identifier price"), instead of at the missing mapping.
// Without known columns (explain without data) any name may be a column.
func (c *compiler) unmappedInputs(t *FeatureType, s Spec) error {
	if c.columns == nil {
		return nil
	}
	var missing, example []string
	for _, in := range t.Inputs {
		if _, mapped := s.Inputs[in]; mapped {
			continue
		}
		if _, isFeature := c.byName[in]; (isFeature && in != s.Name) || c.columns[in] {
			continue
		}
		if _, isAlias := c.aliases[in]; isAlias {
			continue // resolution reports an alias of a missing column itself
		}
		missing = append(missing, in)
		example = append(example, fmt.Sprintf("%q: COLUMN", in))
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("feature type %s needs input %s, which the spec does not map and which is no column, alias or feature: give \"inputs\": {%s}",
			t.Name, missing[0], example[0])
	}
	return fmt.Errorf("feature type %s needs inputs %s, which the spec does not map and which are no column, alias or feature: give \"inputs\": {%s}",
		t.Name, strings.Join(missing, ", "), strings.Join(example, ", "))
}
