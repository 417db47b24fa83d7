package ir

import (
	"cmp"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/featuredag/fdag/formula"
)

// FeatureType is a reusable formula over abstract inputs and parameters,
// such as log_return: log(price) - log(lag(price, k)). A Spec instantiates
// it by naming actual columns (or features) for the inputs and values for
// the parameters.
type FeatureType struct {
	Name    string `yaml:"name"`
	Formula string `yaml:"formula"`
	// Inputs are the abstract input names used in Formula. An instance
	// that does not map one gets the abstract name itself as identifier.
	Inputs []string `yaml:"inputs"`
	// Params are the parameters with their defaults: numbers or duration
	// strings. A parameter whose default is null must be given by every
	// instance.
	Params    map[string]any `yaml:"params"`
	Doc       string         `yaml:"doc"`
	Namespace string         `yaml:"namespace"` // default namespace of instances; "" means DefaultNamespace
	// Source is where the type was loaded from: "builtin" or a file path.
	Source string `yaml:"-"`
}

var featureTypeKeys = []string{"name", "formula", "inputs", "params", "doc", "namespace"}

// Registry holds FeatureTypes by name. The zero value is an empty registry.
// It is not safe for concurrent mutation (lookups may run concurrently);
// Builtin returns a fresh copy for each caller to extend.
type Registry struct {
	types map[string]*FeatureType
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{types: map[string]*FeatureType{}} }

//go:embed builtin/*.yaml
var builtinFS embed.FS

var (
	builtinOnce sync.Once
	builtinReg  *Registry
	builtinErr  error
)

// Builtin returns a new registry holding the built-in FeatureTypes
// (ir/builtin/*.yaml). The caller may extend or override it (LoadDir)
// without affecting other callers.
func Builtin() *Registry {
	builtinOnce.Do(func() {
		builtinReg = NewRegistry()
		builtinErr = builtinReg.loadFS(builtinFS, "builtin", "builtin", false)
	})
	if builtinErr != nil {
		// The files are compiled into the binary and tested; a failure
		// here is a bug in this package, not a user error.
		panic("ir: built-in feature types: " + builtinErr.Error())
	}
	return builtinReg.Clone()
}

// Clone returns a copy that can be changed independently.
func (r *Registry) Clone() *Registry {
	c := NewRegistry()
	for name, t := range r.types {
		c.types[name] = t.clone()
	}
	return c
}

func (t *FeatureType) clone() *FeatureType {
	c := *t
	c.Inputs = slices.Clone(t.Inputs)
	if t.Params != nil {
		c.Params = make(map[string]any, len(t.Params))
		for k, v := range t.Params {
			c.Params[k] = v
		}
	}
	return &c
}

// Lookup returns the type with that name.
func (r *Registry) Lookup(name string) (*FeatureType, bool) {
	if r == nil {
		return nil, false
	}
	t, ok := r.types[name]
	return t, ok
}

// Names returns the names of all types, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.types))
	for n := range r.types {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Add validates t and adds it, replacing any type of the same name.
func (r *Registry) Add(t FeatureType) error {
	if err := t.normalize(); err != nil {
		return fmt.Errorf("feature type %q: %w", t.Name, err)
	}
	if r.types == nil {
		r.types = map[string]*FeatureType{}
	}
	t.Source = cmp.Or(t.Source, "added")
	r.types[t.Name] = &t
	return nil
}

// LoadDir loads the users' FeatureType files of a project directory: every
// *.yaml and *.yml file directly in dir that declares types, either one type
// as a top-level mapping with "name" and "formula", or a list under a
// top-level "feature_types" key. Other YAML files there (fdag.yaml, feature
// sets with "features") are skipped, so types and feature sets can share
// the directory and even a file.
//
// A user type replaces a built-in of the same name: a project can pin or
// fix a formula without waiting for a release. Two user files declaring the
// same name are an error, as is any invalid type; errors name the file and
// the type. On error nothing is added.
func (r *Registry) LoadDir(dir string) error {
	return r.loadFS(os.DirFS(dir), ".", dir, true)
}

func (r *Registry) loadFS(fsys fs.FS, dir, display string, userFiles bool) error {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return err
	}
	staged := map[string]*FeatureType{}
	var errs []error
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		data, err := fs.ReadFile(fsys, pathJoin(dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		file := filepath.Join(display, e.Name())
		if !userFiles {
			file = display + "/" + e.Name()
		}
		types, err := parseFeatureTypes(data, file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, t := range types {
			if prev, ok := staged[t.Name]; ok {
				errs = append(errs, fmt.Errorf("%s: feature type %q is already declared in %s", file, t.Name, prev.Source))
				continue
			}
			staged[t.Name] = t
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if r.types == nil {
		r.types = map[string]*FeatureType{}
	}
	for name, t := range staged {
		r.types[name] = t
	}
	return nil
}

func pathJoin(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

// parseFeatureTypes returns the types a YAML file declares (none for a
// file that is not a type file).
func parseFeatureTypes(data []byte, file string) ([]*FeatureType, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil
	}
	root := doc.Content[0]
	var items []*yaml.Node
	switch list := mappingValue(root, "feature_types"); {
	case list != nil:
		if list.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("%s:%d: feature_types must be a list", file, list.Line)
		}
		items = list.Content
	case mappingValue(root, "name") != nil && mappingValue(root, "formula") != nil && mappingValue(root, "features") == nil:
		items = []*yaml.Node{root}
	default:
		return nil, nil
	}
	var out []*FeatureType
	var errs []error
	for i, item := range items {
		name := fmt.Sprintf("#%d", i+1)
		if item.Kind == yaml.MappingNode {
			if n := mappingValue(item, "name"); n != nil && n.Value != "" {
				name = fmt.Sprintf("%q", n.Value)
			}
		}
		fail := func(err error) {
			errs = append(errs, fmt.Errorf("%s:%d: feature type %s: %w", file, item.Line, name, err))
		}
		if err := checkKeys(item, featureTypeKeys); err != nil {
			fail(err)
			continue
		}
		t := &FeatureType{}
		if err := item.Decode(t); err != nil {
			fail(err)
			continue
		}
		if err := t.normalize(); err != nil {
			fail(err)
			continue
		}
		t.Source = file
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}

// normalize validates t and turns its parameter defaults into float64 or
// string, the two kinds substitution knows.
func (t *FeatureType) normalize() error {
	if err := validIdent(t.Name); err != nil {
		return err
	}
	if strings.TrimSpace(t.Formula) == "" {
		return errors.New("formula is required")
	}
	seen := map[string]bool{}
	for _, in := range t.Inputs {
		if err := validIdent(in); err != nil {
			return fmt.Errorf("input: %w", err)
		}
		if seen[in] {
			return fmt.Errorf("input %q is declared twice", in)
		}
		seen[in] = true
	}
	for k, v := range t.Params {
		if err := validIdent(k); err != nil {
			return fmt.Errorf("param: %w", err)
		}
		if seen[k] {
			return fmt.Errorf("%q is both an input and a param", k)
		}
		nv, err := paramValue(v)
		if err != nil {
			return fmt.Errorf("param %s: %w", k, err)
		}
		t.Params[k] = nv
	}
	// The formula must compile with the defaults in place, so a broken
	// type fails when it is loaded rather than in every instance.
	spec := Spec{Name: t.Name, Type: t.Name}
	if _, err := instantiate(t, spec, true); err != nil {
		return err
	}
	return nil
}

// paramValue normalises a parameter value from JSON or YAML: numbers to
// float64, strings (durations) kept, nil kept (a required parameter).
func paramValue(v any) (any, error) {
	switch v := v.(type) {
	case nil, string:
		return v, nil
	case float64:
		return v, nil
	case float32:
		return float64(v), nil
	case int:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case uint64:
		return float64(v), nil
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("invalid number %s", v)
		}
		return f, nil
	}
	return nil, fmt.Errorf("must be a number or a duration string, got %T", v)
}

// numberLit turns a parameter value into the literal a formula would hold:
// integral values are integer literals, so that lag(x, k) accepts k = 5
// given as 5.0 by a JSON decoder.
func numberLit(v float64, pos formula.PosRange) *formula.NumberLit {
	isInt := v == math.Trunc(v) && math.Abs(v) <= 1<<53
	return &formula.NumberLit{Value: v, Text: formula.Format(&formula.NumberLit{Value: v, IsInt: isInt}), IsInt: isInt, Pos: pos}
}
