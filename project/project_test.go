package project

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featuredag/fdag/catalog"
)

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoad: types from DIR and DIR/features on top of the built-ins, a
// feature set and fdag.yaml beside them skipped, the warehouse opened only
// when asked for and reopened after Close.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "fdag.yaml"), "catalog:\n  namespace: research\n")
	write(t, filepath.Join(dir, "types.yaml"), "feature_types:\n  - name: spread\n    inputs: [a, b]\n    formula: a - b\n")
	write(t, filepath.Join(dir, FeaturesDir, "more.yml"), "feature_types:\n  - name: log_return\n    inputs: [price]\n    params: {k: 1}\n    formula: log(price) - log(lag(price, k))\n")
	write(t, filepath.Join(dir, FeaturesDir, "set.yaml"), "features:\n  - name: ret_1\n    formula: log(close)\n")
	p, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, name := range []string{"spread", "log_return", "ewm_price"} {
		if _, ok := p.Registry.Lookup(name); !ok {
			t.Errorf("type %s missing (have %v)", name, p.Registry.Names())
		}
	}
	if p.Catalog.Namespace != "research" {
		t.Errorf("catalog config %+v", p.Catalog)
	}
	if _, err := os.Stat(filepath.Join(dir, catalog.StateDir)); !os.IsNotExist(err) {
		t.Errorf("Load created the warehouse: %v", err)
	}
	if p.Opened() {
		t.Error("opened before Warehouse")
	}
	ctx := context.Background()
	wh, err := p.Warehouse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := p.Warehouse(ctx); again != wh {
		t.Error("a second call opened another warehouse")
	}
	if wh.Namespace() != "research" {
		t.Errorf("namespace %s", wh.Namespace())
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Warehouse(ctx); err != nil {
		t.Errorf("reopen after Close: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"fdag.yaml":         {"fdag.yaml": "catalog:\n  typo: 1\n"},
		"features/bad.yaml": {"features/bad.yaml": "feature_types:\n  - name: x\n    formula: log(\n"},
		"bad_types.yaml":    {"bad_types.yaml": "feature_types: [1, 2]\n"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for f, text := range files {
				write(t, filepath.Join(dir, f), text)
			}
			_, err := Load(dir, Options{})
			if err == nil || !strings.Contains(err.Error(), filepath.Base(name)) {
				t.Errorf("error %v does not name %s", err, name)
			}
		})
	}
}
