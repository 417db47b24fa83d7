package catalog

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// TestTablePropertiesUseIcebergKeys guards against properties Iceberg does
// not know: a misspelt key is stored and silently ignored by every writer.
func TestTablePropertiesUseIcebergKeys(t *testing.T) {
	for name, def := range KnownTables {
		props := tableProperties(def)
		for key := range props {
			if strings.HasPrefix(key, "write.parquet.") &&
				!strings.HasPrefix(key, "write.parquet.dict-encoding-enabled.column.") &&
				key != table.ParquetCompressionKey {
				t.Errorf("table %s: property %q is not one Iceberg's writers read", name, key)
			}
		}
		if props[table.ParquetCompressionKey] == "" {
			t.Errorf("table %s: no %s", name, table.ParquetCompressionKey)
		}
	}
	if got := tableProperties(KnownTables[FeaturesTable])[table.ParquetCompressionKey]; got != "snappy" {
		t.Errorf("ft_features codec = %q, want snappy (featureWriteProperties)", got)
	}
}

// A ft_features created before its write properties existed gets them
// when fdag next opens it for writing (its commits could not prove files
// within a replaced scope with truncated bounds); a property set by hand
// stays as it is, and a second open changes nothing.
func TestOldFeaturesTableGetsWriteProperties(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	w := openTemp(t, mem)
	createOldFeaturesTable(t, w, FeatureSchema, iceberg.Properties{table.ParquetCompressionKey: "zstd"})
	tbl, err := w.Table(ctx, FeaturesTable)
	if err != nil {
		t.Fatal(err)
	}
	props := tbl.Properties()
	if got := props[table.ParquetCompressionKey]; got != "zstd" {
		t.Errorf("hand-set codec became %q", got)
	}
	for _, col := range []string{"feature_name", "feature_version", ColSymbol} {
		if got := props[metricsModeKey+col]; got != "full" {
			t.Errorf("%s%s = %q, want full", metricsModeKey, col, got)
		}
	}
	if got := props["write.parquet.dict-encoding-enabled.column."+ColTimestamp]; got != "false" {
		t.Errorf("timestamp dictionary property = %q", got)
	}
	again, err := w.Table(ctx, FeaturesTable)
	if err != nil {
		t.Fatal(err)
	}
	if again.MetadataLocation() != tbl.MetadataLocation() {
		t.Errorf("a second open wrote new metadata %s (was %s)", again.MetadataLocation(), tbl.MetadataLocation())
	}
}
