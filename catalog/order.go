package catalog

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// readOrder is the order in which ReadTable returns the rows of a table
// with schema sc: time first (the table's time column), then symbol, then
// the row identity (seq of ft_features, trade_id), then feature_name, each
// when the schema has it. A scan returns rows file by file, and
// ft_features' files are split by feature and day, so without this a read
// of two features comes back as all of one, then all of the other.
func readOrder(timeCol string, sc *arrow.Schema) []string {
	var keys []string
	for _, k := range []string{timeCol, ColSymbol, ColSeq, ColTradeID, "feature_name", "label_spec"} {
		if sc.HasField(k) && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// sortRows returns tbl's rows ordered by the key columns (string,
// timestamp or integer columns; nulls last), stably, as one chunk per
// column. A table already in order is returned as is (retained). The
// caller releases the result.
func sortRows(ctx context.Context, mem memory.Allocator, tbl arrow.Table, keys []string) (arrow.Table, error) {
	n := int(tbl.NumRows())
	if n < 2 {
		tbl.Retain()
		return tbl, nil
	}
	cols := make([]arrow.Array, tbl.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i := range cols {
		c, err := flatten(tbl.Column(i), mem)
		if err != nil {
			return nil, err
		}
		cols[i] = c
	}
	var cmps []func(i, j int) int
	for _, k := range keys {
		idx := tbl.Schema().FieldIndices(k)
		if len(idx) == 0 {
			continue
		}
		c, err := compareOn(cols[idx[0]])
		if err != nil {
			return nil, fmt.Errorf("order by %s: %w", k, err)
		}
		cmps = append(cmps, c)
	}
	less := func(i, j int) int {
		for _, c := range cmps {
			if r := c(i, j); r != 0 {
				return r
			}
		}
		return 0
	}
	order := make([]int, n)
	sorted := true
	for i := range order {
		order[i] = i
		if i > 0 && sorted && less(i-1, i) > 0 {
			sorted = false
		}
	}
	if sorted {
		tbl.Retain()
		return tbl, nil
	}
	slices.SortStableFunc(order, less)
	idxB := array.NewInt64Builder(mem)
	idxB.Reserve(n)
	for _, o := range order {
		idxB.UnsafeAppend(int64(o))
	}
	idx := idxB.NewArray()
	idxB.Release()
	defer idx.Release()
	taken := make([]arrow.Array, len(cols))
	defer func() {
		for _, c := range taken {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, c := range cols {
		t, err := compute.TakeArray(compute.WithAllocator(ctx, mem), c, idx)
		if err != nil {
			return nil, err
		}
		taken[i] = t
	}
	chunks := make([][]arrow.Array, len(taken))
	for i, c := range taken {
		chunks[i] = []arrow.Array{c}
	}
	return array.NewTableFromSlice(tbl.Schema(), chunks), nil
}

// compareOn compares two rows of a key column, nulls last.
func compareOn(a arrow.Array) (func(i, j int) int, error) {
	nulls := func(i, j int) (int, bool) {
		ni, nj := a.IsNull(i), a.IsNull(j)
		switch {
		case ni && nj:
			return 0, true
		case ni:
			return 1, true
		case nj:
			return -1, true
		}
		return 0, false
	}
	var values func(i, j int) int
	switch v := a.(type) {
	case *array.String:
		values = func(i, j int) int { return strings.Compare(v.Value(i), v.Value(j)) }
	case *array.LargeString:
		values = func(i, j int) int { return strings.Compare(v.Value(i), v.Value(j)) }
	case *array.Timestamp:
		values = func(i, j int) int { return cmp.Compare(v.Value(i), v.Value(j)) }
	case *array.Int64:
		values = func(i, j int) int { return cmp.Compare(v.Value(i), v.Value(j)) }
	case *array.Int32:
		values = func(i, j int) int { return cmp.Compare(v.Value(i), v.Value(j)) }
	default:
		return nil, fmt.Errorf("cannot order by %s", a.DataType())
	}
	if a.NullN() == 0 {
		return values, nil
	}
	return func(i, j int) int {
		if r, ok := nulls(i, j); ok {
			return r
		}
		return values(i, j)
	}, nil
}
