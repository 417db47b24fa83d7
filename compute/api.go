// Package compute evaluates an IR plan over Arrow data: the lowering table
// from IR primitives to kernels, and the lazy executor that runs a plan per
// symbol in cache-sized chunks.
package compute

import (
	"runtime"

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
	Parallelism  int               // workers at most; <= 0: GOMAXPROCS
	Pool         *Pool             // shared bound on computing goroutines; nil: the process's, GOMAXPROCS
	NoCSE        bool              // build one subgraph per feature (for tests)
	ChunkRows    int               // <= 0: DefaultChunkRows
}

func (o Options) withDefaults() Options {
	if o.TimeColumn == "" {
		o.TimeColumn = "event_time"
	}
	if o.SymbolColumn == "" {
		o.SymbolColumn = "symbol"
	}
	if o.Registry == nil {
		o.Registry = ir.Builtin()
	}
	if o.Mem == nil {
		o.Mem = memory.DefaultAllocator
	}
	if o.Parallelism <= 0 {
		o.Parallelism = runtime.GOMAXPROCS(0)
	}
	if o.ChunkRows <= 0 {
		o.ChunkRows = DefaultChunkRows
	}
	return o
}

func (o Options) pool() *Pool {
	if o.Pool == nil {
		return defaultPool
	}
	return o.Pool
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

// Release frees the result's table.
func (r *Result) Release() {
	if r != nil && r.Table != nil {
		r.Table.Release()
		r.Table = nil
	}
}

// Failed returns the statuses of the features that failed.
func (r *Result) Failed() []FeatureStatus {
	var out []FeatureStatus
	for _, s := range r.Statuses {
		if s.Status != StatusSuccess {
			out = append(out, s)
		}
	}
	return out
}
