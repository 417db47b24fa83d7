package ir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/featuredag/fdag/formula"
	"github.com/featuredag/fdag/formula/qlib"
)

// Defaults of the optional spec keys (DESIGN.md, "Feature specs").
const (
	DefaultVersion   = "v1.0"
	DefaultNamespace = "signal"
)

// Spec is one requested feature, as in DESIGN.md: either inline
// ({"name": "ret_1", "formula": "..."}) or an instance of a registered
// FeatureType ({"name": "ret_5", "type": "log_return", "inputs": {...},
// "params": {...}}).
type Spec struct {
	Name      string            `json:"name" yaml:"name"`
	Formula   string            `json:"formula,omitempty" yaml:"formula,omitempty"`
	Type      string            `json:"type,omitempty" yaml:"type,omitempty"`
	Inputs    map[string]string `json:"inputs,omitempty" yaml:"inputs,omitempty"`
	Params    map[string]any    `json:"params,omitempty" yaml:"params,omitempty"`
	Version   string            `json:"version,omitempty" yaml:"version,omitempty"`     // default "v1.0"
	Namespace string            `json:"namespace,omitempty" yaml:"namespace,omitempty"` // default "signal"
	// Dialect is the language of Formula: "fdag" (the default) or "qlib"
	// (Qlib's expressions, docs/qlib.md). Left empty, a formula with a
	// $field is Qlib's.
	Dialect string `json:"dialect,omitempty" yaml:"dialect,omitempty"`
}

// Dialects a spec may name.
const (
	DialectFdag = "fdag"
	DialectQlib = qlib.Name
)

// FormulaDialect is the dialect Formula is written in: Dialect, or Qlib's
// when it is empty and the formula has a $field.
func (s Spec) FormulaDialect() string {
	if s.Dialect == "" && qlib.Detect(s.Formula) {
		return DialectQlib
	}
	if s.Dialect == "" {
		return DialectFdag
	}
	return s.Dialect
}

// WithDefaults returns s with Version and Namespace filled in when empty.
func (s Spec) WithDefaults() Spec {
	if s.Version == "" {
		s.Version = DefaultVersion
	}
	if s.Namespace == "" {
		s.Namespace = DefaultNamespace
	}
	return s
}

// Validate checks what can be checked of one spec on its own: a name that
// formulas can refer to, and exactly one of formula and type. Uniqueness
// within a request is Compile's job (it needs the other specs).
func (s Spec) Validate() error {
	if err := validIdent(s.Name); err != nil {
		return err
	}
	switch {
	case s.Formula == "" && s.Type == "":
		return errors.New(`a spec needs a "formula" or a "type"`)
	case s.Formula != "" && s.Type != "":
		return errors.New(`a spec has either a "formula" or a "type", not both`)
	case s.Formula != "" && (len(s.Inputs) > 0 || len(s.Params) > 0):
		// Silently ignoring them would hide a spec that meant to be a type
		// instance.
		return errors.New(`"inputs" and "params" apply only to a spec with a "type"`)
	case s.Dialect != "" && s.Dialect != DialectFdag && s.Dialect != DialectQlib:
		return fmt.Errorf(`unknown dialect %q (expected %q or %q)`, s.Dialect, DialectFdag, DialectQlib)
	case s.Type != "" && s.Dialect == DialectQlib:
		return errors.New(`"dialect": "qlib" applies to a "formula"; feature types are written in fdag's language`)
	}
	return nil
}

// validIdent accepts exactly the names a formula can refer to: the parser
// is the judge, so keywords and odd characters are rejected the same way
// they would be inside a formula.
func validIdent(name string) error {
	if name == "" {
		return errors.New("name is required")
	}
	n, err := formula.Parse(name)
	if id, ok := n.(*formula.Ident); err != nil || !ok || id.Name != name {
		return fmt.Errorf("name %q is not a valid identifier (letters, digits and _, not starting with a digit, not a Python keyword)", name)
	}
	return nil
}

// LoadSpecs reads specs from a JSON (.json) or YAML (.yaml, .yml, anything
// else) file. The file holds a list of specs, or a feature set: an object
// whose "features" key holds the list (other keys, such as a set name or
// feature_types, are ignored here).
func LoadSpecs(path string) ([]Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	format := "yaml"
	if strings.EqualFold(filepath.Ext(path), ".json") {
		format = "json"
	}
	specs, err := ParseSpecs(data, format)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return specs, nil
}

// ParseSpecs decodes specs from data in format "json" or "yaml" ("yml"
// too); an empty format means JSON when data is valid JSON, else YAML.
// Unknown keys in a spec are errors, so that a misspelt "formla" is not
// silently dropped. Specs are returned as written (no defaults applied).
func ParseSpecs(data []byte, format string) ([]Spec, error) {
	switch strings.ToLower(format) {
	case "":
		if json.Valid(data) {
			return parseSpecsJSON(data)
		}
		return parseSpecsYAML(data)
	case "json":
		return parseSpecsJSON(data)
	case "yaml", "yml":
		return parseSpecsYAML(data)
	}
	return nil, fmt.Errorf("unknown spec format %q (expected json or yaml)", format)
}

func parseSpecsJSON(data []byte) ([]Spec, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var set struct {
			Features json.RawMessage `json:"features"`
		}
		if err := json.Unmarshal(trimmed, &set); err != nil {
			return nil, err
		}
		if set.Features == nil {
			return nil, errors.New(`expected a list of specs or an object with "features"`)
		}
		trimmed = set.Features
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	// Numbers stay as written, so that params keep their integer-ness.
	dec.UseNumber()
	var specs []Spec
	if err := dec.Decode(&specs); err != nil {
		return nil, err
	}
	return specs, nil
}

func parseSpecsYAML(data []byte) ([]Spec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, errors.New("empty document")
	}
	root := doc.Content[0]
	if root.Kind == yaml.MappingNode {
		list := mappingValue(root, "features")
		if list == nil {
			return nil, errors.New(`expected a list of specs or a mapping with "features"`)
		}
		root = list
	}
	if root.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("line %d: expected a list of specs", root.Line)
	}
	specs := make([]Spec, 0, len(root.Content))
	for _, item := range root.Content {
		if err := checkKeys(item, specKeys); err != nil {
			return nil, err
		}
		var s Spec
		if err := item.Decode(&s); err != nil {
			return nil, err
		}
		specs = append(specs, s)
	}
	return specs, nil
}

var specKeys = []string{"name", "formula", "type", "inputs", "params", "version", "namespace", "dialect"}

// mappingValue returns the value of key in a YAML mapping, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// checkKeys rejects keys outside allowed (yaml.v3 cannot do it for
// Node.Decode).
func checkKeys(m *yaml.Node, allowed []string) error {
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping", m.Line)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		ok := false
		for _, a := range allowed {
			ok = ok || k.Value == a
		}
		if !ok {
			return fmt.Errorf("line %d: unknown key %q (expected one of %s)", k.Line, k.Value, strings.Join(allowed, ", "))
		}
	}
	return nil
}
