// Package project loads an fdag project directory: its configuration
// (fdag.yaml), its FeatureType registry (the built-in types, then the YAML
// files of DIR and of DIR/features) and its warehouse, opened on first use.
// Every program loads a project through it (fdag, fdag-flight, a GoNB
// notebook), so one directory gives the same types and the same tables
// everywhere.
package project

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/ir"
)

// FeaturesDir is the subdirectory of a project whose YAML files are read
// for FeatureTypes too (feature sets may live there: files that declare no
// types are skipped).
const FeaturesDir = "features"

// Options of Load.
type Options struct {
	Mem    memory.Allocator // of the warehouse's reads and writes; nil: memory.DefaultAllocator
	Logger *slog.Logger     // nil: slog.Default()
}

// Project is a loaded project directory. It is safe for concurrent use.
type Project struct {
	// Dir is the project directory as given.
	Dir string
	// Catalog is the `catalog:` key of fdag.yaml (zero: the embedded
	// SQLite catalog and local warehouse under Dir/.fdag).
	Catalog catalog.Config
	// Registry holds the built-in FeatureTypes and the project's own,
	// which override built-ins of the same name.
	Registry *ir.Registry

	opts Options
	mu   sync.Mutex
	wh   *catalog.Warehouse
}

// Load reads the configuration and the FeatureTypes of dir. It does not
// touch the warehouse: that is opened by the first call of Warehouse, so a
// program that only computes in memory never creates one. A malformed
// fdag.yaml or FeatureType file is an error naming the file.
func Load(dir string, opts Options) (*Project, error) {
	if dir == "" {
		dir = "."
	}
	cfg, err := catalog.LoadConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("project %s: %w", dir, err)
	}
	reg, err := LoadRegistry(dir)
	if err != nil {
		return nil, err
	}
	if opts.Mem == nil {
		opts.Mem = memory.DefaultAllocator
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Project{Dir: dir, Catalog: cfg, Registry: reg, opts: opts}, nil
}

// LoadRegistry returns the built-in registry extended with the
// FeatureTypes of dir and dir/features. Files that declare no types (fdag.yaml,
// feature sets) are skipped; a directory without YAML is no error.
func LoadRegistry(dir string) (*ir.Registry, error) {
	reg := ir.Builtin()
	for _, d := range []string{dir, filepath.Join(dir, FeaturesDir)} {
		if !hasYAML(d) {
			continue
		}
		if err := reg.LoadDir(d); err != nil {
			return nil, fmt.Errorf("project %s: %w", dir, err)
		}
	}
	return reg, nil
}

func hasYAML(dir string) bool {
	for _, pat := range []string{"*.yaml", "*.yml"} {
		if m, _ := filepath.Glob(filepath.Join(dir, pat)); len(m) > 0 {
			return true
		}
	}
	return false
}

// Warehouse returns the project's warehouse, opening it (and creating the
// embedded catalog and directories) on the first call. A failed open is
// not remembered: the next call tries again.
func (p *Project) Warehouse(ctx context.Context) (*catalog.Warehouse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wh != nil {
		return p.wh, nil
	}
	wh, err := catalog.Open(ctx, p.Dir, p.Catalog, catalog.Options{Mem: p.opts.Mem, Logger: p.opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("project %s: %w", p.Dir, err)
	}
	p.wh = wh
	return wh, nil
}

// Opened reports whether the warehouse has been opened.
func (p *Project) Opened() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.wh != nil
}

// Close closes the warehouse if it was opened. The project can be used
// again afterwards (Warehouse reopens it).
func (p *Project) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wh == nil {
		return nil
	}
	err := p.wh.Close()
	p.wh = nil
	return err
}
