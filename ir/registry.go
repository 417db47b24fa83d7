package ir

// Registry holds FeatureTypes by name.
type Registry struct{}
