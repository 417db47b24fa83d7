package ir

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"testing"
)

// TestFeatureTypeDocs: docs/feature_types.md is TypesMarkdown's output,
// and every example spec in it compiles against trade columns.
func TestFeatureTypeDocs(t *testing.T) {
	got := TypesMarkdown()
	// Regenerate with: go test ./ir -run TestFeatureTypeDocs -update
	golden(t, filepath.Join("..", "docs", "feature_types.md"), got)
	if *update {
		return
	}
	specs := regexp.MustCompile("(?m)^- spec: `(.*)`$").FindAllStringSubmatch(got, -1)
	if len(specs) != len(Builtin().Names()) {
		t.Fatalf("%d example specs for %d types", len(specs), len(Builtin().Names()))
	}
	for _, m := range specs {
		var s Spec
		if err := json.Unmarshal([]byte(m[1]), &s); err != nil {
			t.Fatalf("%s: %v", m[1], err)
		}
		p := Compile([]Spec{s}, Options{SourceColumns: []string{"event_time", "symbol", "trade_price", "trade_size", "x"}})
		if err := p.Features[0].Err; err != nil {
			t.Errorf("example %s: %v", m[1], err)
		}
	}
}
