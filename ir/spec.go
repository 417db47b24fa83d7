package ir

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
}
