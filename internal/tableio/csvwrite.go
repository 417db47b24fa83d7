package tableio

import (
	"bufio"
	"context"
	"errors"

	"io"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// appendFunc appends the text of row i of one column (never null).
type appendFunc func(b []byte, i int) []byte

func writeCSV(ctx context.Context, w io.Writer, rdr array.RecordReader) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	schema := rdr.Schema()
	line := make([]byte, 0, 1024)
	for j, f := range schema.Fields() {
		if j > 0 {
			line = append(line, ',')
		}
		line = appendCSVString(line, f.Name)
	}
	line = append(line, '\n')
	if _, err := bw.Write(line); err != nil {
		return err
	}
	for rdr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec := rdr.RecordBatch()
		cols := make([]arrow.Array, rec.NumCols())
		fns := make([]appendFunc, rec.NumCols())
		for j := range cols {
			cols[j] = rec.Column(j)
			fns[j] = formatterFor(cols[j])
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			line = line[:0]
			for j, c := range cols {
				if j > 0 {
					line = append(line, ',')
				}
				if c.IsNull(i) {
					continue // an empty field is a null
				}
				line = fns[j](line, i)
			}
			line = append(line, '\n')
			if _, err := bw.Write(line); err != nil {
				return err
			}
		}
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return bw.Flush()
}

func formatterFor(a arrow.Array) appendFunc {
	switch c := a.(type) {
	case *array.Float64:
		return func(b []byte, i int) []byte { return appendFloat(b, c.Value(i), 64) }
	case *array.Float32:
		return func(b []byte, i int) []byte { return appendFloat(b, float64(c.Value(i)), 32) }
	case *array.Int64:
		return func(b []byte, i int) []byte { return strconv.AppendInt(b, c.Value(i), 10) }
	case *array.Int32:
		return func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(c.Value(i)), 10) }
	case *array.Uint64:
		return func(b []byte, i int) []byte { return strconv.AppendUint(b, c.Value(i), 10) }
	case *array.Boolean:
		return func(b []byte, i int) []byte { return strconv.AppendBool(b, c.Value(i)) }
	case *array.String:
		return func(b []byte, i int) []byte { return appendCSVString(b, c.Value(i)) }
	case *array.LargeString:
		return func(b []byte, i int) []byte { return appendCSVString(b, c.Value(i)) }
	case *array.Timestamp:
		unit := c.DataType().(*arrow.TimestampType).Unit
		per := int64(unit.Multiplier()) // nanoseconds per unit
		perSec := int64(1_000_000_000) / per
		return func(b []byte, i int) []byte {
			v := int64(c.Value(i))
			sec, frac := v/perSec, v%perSec
			if frac < 0 {
				sec, frac = sec-1, frac+perSec
			}
			return appendTimestamp(b, sec, frac*per)
		}
	}
	// Other types: Arrow's own text form, quoted when needed.
	return func(b []byte, i int) []byte { return appendCSVString(b, a.ValueStr(i)) }
}

// appendFloat writes the shortest text that reads back to the same value,
// with NaN and infinities spelled as Python and Polars read them.
func appendFloat(b []byte, v float64, bits int) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "inf"...)
	case math.IsInf(v, -1):
		return append(b, "-inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, bits)
}

// appendCSVString quotes s only when it must (RFC 4180). An empty string is
// written as "" so that it stays distinct from a null on the page.
func appendCSVString(b []byte, s string) []byte {
	if s != "" && !strings.ContainsAny(s, ",\"\r\n") && s[0] != ' ' && s[len(s)-1] != ' ' {
		return append(b, s...)
	}
	b = append(b, '"')
	for {
		k := strings.IndexByte(s, '"')
		if k < 0 {
			break
		}
		b = append(b, s[:k+1]...)
		b = append(b, '"')
		s = s[k+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}
