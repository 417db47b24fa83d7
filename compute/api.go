// Package compute evaluates an IR plan over Arrow data: the lowering table
// from IR primitives to kernels, and the lazy executor that runs a plan per
// symbol in cache-sized chunks.
package compute

import (
	"context"
	"errors"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/ir"
)

// Frame is one named source table, as the original compute_features took a
// dict of frames. Every column a request uses is taken from the first frame
// that holds it; frames that contribute columns must be row-aligned with the
// frame holding the time column.
type Frame struct {
	Name  string
	Table arrow.Table
}

// Options configures one computation. The zero value uses the defaults.
type Options struct {
	TimeColumn   string            // default "event_time"
	SymbolColumn string            // default "symbol"; absent from the data means one symbol
	Aliases      map[string]string // nil: ir.DefaultAliases
	Registry     *ir.Registry      // nil: the built-in registry
	Mem          memory.Allocator  // nil: memory.DefaultAllocator
	Parallelism  int               // <= 0: GOMAXPROCS
	NoCSE        bool              // build one subgraph per feature (for tests)
}

// Status values of FeatureStatus.
const (
	StatusSuccess = "success"
	StatusError   = "error"
)

// FeatureStatus is the outcome of one requested feature, in request order.
type FeatureStatus struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// MetadataKey is the schema metadata key holding the JSON list of
// FeatureStatus.
const MetadataKey = "fdag.features"

// Result is the wide output: Table is aligned row for row with the input and
// holds the time column, the symbol column when present and one float64
// column per successful feature, in request order. The caller releases Table.
type Result struct {
	Table    arrow.Table
	Statuses []FeatureStatus
}

// ErrNotImplemented is temporary while the executor is being written.
var ErrNotImplemented = errors.New("compute: not implemented")

// ComputeFeatures mirrors the original FeatureEngine.compute_features(specs,
// frames). It fails as a whole only when nothing can run (no time column,
// misaligned frames, no valid feature); one feature's failure is reported in
// its status and never stops the others.
func ComputeFeatures(ctx context.Context, specs []ir.Spec, frames []Frame, opts Options) (*Result, error) {
	return nil, ErrNotImplemented
}
