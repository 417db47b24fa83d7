package catalog

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// RowError is a bad value at a row of the input (0-based, counted over all
// batches of one source). Callers that know the file and line numbering
// (CSV header, 1-based lines) turn Row into a line.
type RowError struct {
	Row    int64
	Column string
	Msg    string
}

func (e *RowError) Error() string {
	return fmt.Sprintf("row %d: column %q: %s", e.Row, e.Column, e.Msg)
}

// conformer maps batches of any compatible schema to a table's Arrow
// schema: columns matched by name, numeric and timestamp types cast (a
// timestamp without a time zone is taken as UTC), missing columns null.
// requiredCols must be present and non-null in every row.
type conformer struct {
	target       *arrow.Schema
	requiredCols []string
	mem          memory.Allocator
	rows         int64 // rows seen so far, for RowError.Row
	// dropped lists the input columns the table has no column for, in
	// input order, from the first batch: they are not stored, and the
	// caller says so (a misspelt column was dropped silently).
	dropped []string
	seen    bool
}

func (c *conformer) conform(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	n := rec.NumRows()
	in := rec.Schema()
	if !c.seen {
		c.seen = true
		for _, f := range in.Fields() {
			if len(c.target.FieldIndices(f.Name)) == 0 {
				c.dropped = append(c.dropped, f.Name)
			}
		}
	}
	cols := make([]arrow.Array, len(c.target.Fields()))
	defer func() {
		for _, a := range cols {
			if a != nil {
				a.Release()
			}
		}
	}()
	ctx = compute.WithAllocator(ctx, c.mem)
	for i, f := range c.target.Fields() {
		idx := in.FieldIndices(f.Name)
		if len(idx) == 0 {
			for _, r := range c.requiredCols {
				if r == f.Name {
					return nil, fmt.Errorf("column %q is missing (have: %s)", f.Name, fieldNames(in))
				}
			}
			cols[i] = array.MakeArrayOfNull(c.mem, f.Type, int(n))
			continue
		}
		src := rec.Column(idx[0])
		a, err := c.castColumn(ctx, f, src)
		if err != nil {
			return nil, err
		}
		cols[i] = a
		for _, r := range c.requiredCols {
			if r == f.Name && a.NullN() > 0 {
				for row := 0; row < a.Len(); row++ {
					if a.IsNull(row) {
						return nil, &RowError{Row: c.rows + int64(row), Column: f.Name, Msg: "null or empty value in a required column"}
					}
				}
			}
		}
	}
	c.rows += n
	return array.NewRecordBatch(c.target, cols, n), nil
}

func (c *conformer) castColumn(ctx context.Context, f arrow.Field, src arrow.Array) (arrow.Array, error) {
	st, tt := src.DataType(), f.Type
	if arrow.TypeEqual(st, tt) {
		src.Retain()
		return src, nil
	}
	ok := false
	switch tt.ID() {
	case arrow.STRING:
		ok = st.ID() == arrow.STRING || st.ID() == arrow.LARGE_STRING || st.ID() == arrow.STRING_VIEW
	case arrow.FLOAT64:
		ok = arrow.IsInteger(st.ID()) || arrow.IsFloating(st.ID()) || st.ID() == arrow.NULL
	case arrow.INT64:
		ok = arrow.IsInteger(st.ID()) || st.ID() == arrow.NULL
	case arrow.TIMESTAMP:
		if ts, isTS := st.(*arrow.TimestampType); isTS {
			if ts.TimeZone == "" || ts.TimeZone == "UTC" || ts.TimeZone == "Z" || ts.TimeZone == "+00:00" {
				// reinterpret as UTC, then convert the unit
				data := array.NewData(&arrow.TimestampType{Unit: ts.Unit, TimeZone: "UTC"}, src.Len(),
					src.Data().Buffers(), nil, src.NullN(), src.Data().Offset())
				utc := array.MakeFromData(data)
				data.Release()
				defer utc.Release()
				src = utc
				ok = true
			} else {
				ok = true // a fixed zone: casting keeps the instant
			}
		}
		ok = ok || st.ID() == arrow.NULL
	}
	if !ok && isString(st) && (tt.ID() == arrow.FLOAT64 || tt.ID() == arrow.INT64) {
		// A CSV column holding one bad number is read as strings; name the
		// first value that is not a number, so the caller can say FILE:LINE.
		if err := c.firstUnparsable(f, src, tt); err != nil {
			return nil, err
		}
		ok = true // every value parses: the cast below converts them
	}
	if !ok {
		return nil, fmt.Errorf("column %q: cannot store %s as %s", f.Name, st, tt)
	}
	if arrow.TypeEqual(src.DataType(), tt) {
		src.Retain()
		return src, nil
	}
	out, err := compute.CastArray(ctx, src, compute.SafeCastOptions(tt))
	if err != nil {
		return nil, fmt.Errorf("column %q: cast %s to %s: %w", f.Name, st, tt, err)
	}
	return out, nil
}

func isString(t arrow.DataType) bool {
	return t.ID() == arrow.STRING || t.ID() == arrow.LARGE_STRING || t.ID() == arrow.STRING_VIEW
}

// firstUnparsable returns a RowError for the first non-null value of src
// that is not a number of type tt, or nil when every value is one.
func (c *conformer) firstUnparsable(f arrow.Field, src arrow.Array, tt arrow.DataType) error {
	for row := 0; row < src.Len(); row++ {
		if src.IsNull(row) {
			continue
		}
		v := strings.TrimSpace(src.ValueStr(row))
		var err error
		if tt.ID() == arrow.INT64 {
			_, err = strconv.ParseInt(v, 10, 64)
		} else {
			_, err = strconv.ParseFloat(v, 64)
		}
		if err != nil {
			return &RowError{Row: c.rows + int64(row), Column: f.Name, Msg: fmt.Sprintf("cannot parse %q as %s", v, tt)}
		}
	}
	return nil
}

func fieldNames(s *arrow.Schema) string {
	out := ""
	for i, f := range s.Fields() {
		if i > 0 {
			out += ", "
		}
		out += f.Name
	}
	return out
}
