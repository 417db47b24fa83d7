package catalog

import (
	"strings"
	"testing"

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
