package kernels

import (
	"fmt"
	"slices"
	"sync"

	"github.com/featuredag/fdag/formula"
)

// Builder makes the factory of a kernel from the parameters of its call, as
// the formula checker bound them. It returns an error, never panics, for
// parameters it cannot use.
type Builder func(p formula.Params) (Factory, error)

// Registry binds primitive names (the names of ir's op table: "+", "neg",
// "log", "lag", "rolling_mean") to kernels. Each family file adds its
// kernels with a RegisterXxx function, as arrow-go's compute registry does;
// compute lowers every IR node through Default().
type Registry struct {
	m           map[string]Builder
	elementwise map[string]bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{m: map[string]Builder{}, elementwise: map[string]bool{}}
}

// Add binds name to b. Binding a name twice is a programming error.
func (r *Registry) Add(name string, b Builder) {
	if _, dup := r.m[name]; dup {
		panic("kernels: " + name + " registered twice")
	}
	r.m[name] = b
}

// addStateless binds name to a stateless elementwise kernel, which accepts
// broadcast constants.
func (r *Registry) addStateless(name string, op Op) {
	r.Add(name, func(formula.Params) (Factory, error) { return Shared(op), nil })
	r.elementwise[name] = true
}

// Lookup returns the builder bound to name.
func (r *Registry) Lookup(name string) (Builder, bool) {
	b, ok := r.m[name]
	return b, ok
}

// Stateless reports whether name's kernel is elementwise: stateless, one
// value for every symbol, accepting Scalar arguments.
func (r *Registry) Stateless(name string) bool { return r.elementwise[name] }

// Names lists the registered names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Default returns the registry of every kernel family.
var Default = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	RegisterElementwise(r)
	RegisterShift(r)
	RegisterRolling(r)
	RegisterDecay(r)
	RegisterCumulative(r)
	return r
})

// windowed wraps a window kernel's constructor: it checks the window
// (exactly one of rows and duration positive) and min_samples before the
// constructor sees them.
func windowed(mk func(p formula.Params) Factory) Builder {
	return func(p formula.Params) (Factory, error) {
		w := p.Window
		if (w.Rows > 0) == (w.Dur > 0) || w.Rows < 0 || w.Dur < 0 {
			return nil, fmt.Errorf("window must be a positive number of rows or a positive duration, got rows=%d dur=%dns", w.Rows, w.Dur)
		}
		if p.MinSamples < 0 {
			return nil, fmt.Errorf("min_samples must not be negative, got %d", p.MinSamples)
		}
		return mk(p), nil
	}
}

// halfLifed wraps a decay kernel's constructor: it checks the half-life.
func halfLifed(mk func(p formula.Params) Factory) Builder {
	return func(p formula.Params) (Factory, error) {
		h := p.HalfLife
		if (h.Rows > 0) == (h.Dur > 0) || h.Dur < 0 || !(h.Rows >= 0) {
			return nil, fmt.Errorf("half-life must be a positive number of rows or a positive duration, got rows=%v dur=%dns", h.Rows, h.Dur)
		}
		return mk(p), nil
	}
}
