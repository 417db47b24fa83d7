package nbview

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// WithColumns returns wide with the named columns of src appended, for
// plotting a price beside the features computed from it. src must be
// row-aligned with wide (compute's output is aligned with its input), so
// the row counts must match. The schema metadata (the feature statuses) of
// wide is kept. The caller releases the returned table; wide and src are
// not released.
func WithColumns(wide, src arrow.Table, names ...string) (arrow.Table, error) {
	if wide.NumRows() != src.NumRows() {
		return nil, fmt.Errorf("WithColumns: %d rows in the wide table but %d in the source; they must be row-aligned", wide.NumRows(), src.NumRows())
	}
	fields := wide.Schema().Fields()
	cols := make([]arrow.Column, 0, len(fields)+len(names))
	for i := range int(wide.NumCols()) {
		cols = append(cols, *wide.Column(i))
	}
	for _, name := range names {
		idx := fieldIndex(src.Schema(), name)
		if idx < 0 {
			return nil, fmt.Errorf("WithColumns: no column %q in the source (columns: %s)", name, columnNames(src.Schema()))
		}
		if fieldIndex(wide.Schema(), name) >= 0 {
			return nil, fmt.Errorf("WithColumns: the wide table already has a column %q", name)
		}
		fields = append(fields, src.Schema().Field(idx))
		cols = append(cols, *src.Column(idx))
	}
	md := wide.Schema().Metadata()
	return array.NewTable(arrow.NewSchema(fields, &md), cols, wide.NumRows()), nil
}
