package tableio

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// colKind is the inferred type of a CSV column. Inference only ever widens:
// int64 to float64, and any disagreement to string.
type colKind uint8

const (
	kindNull colKind = iota // no value seen yet
	kindInt
	kindFloat
	kindBool
	kindTime
	kindString
)

// colType is what inference learned about one column.
type colType struct {
	kind colKind
	// nanos: some timestamp text has digits below the microsecond.
	nanos bool
	// unit is set for an integer time column read as timestamp (TimeUnit).
	unit    arrow.TimeUnit
	intTime bool
}

func (c colType) arrowType() arrow.DataType {
	switch c.kind {
	case kindInt:
		if c.intTime {
			return &arrow.TimestampType{Unit: c.unit, TimeZone: "UTC"}
		}
		return arrow.PrimitiveTypes.Int64
	case kindFloat:
		return arrow.PrimitiveTypes.Float64
	case kindBool:
		return arrow.FixedWidthTypes.Boolean
	case kindTime:
		if c.nanos {
			return arrow.FixedWidthTypes.Timestamp_ns
		}
		return arrow.FixedWidthTypes.Timestamp_us
	}
	return arrow.BinaryTypes.String
}

// observe widens c to cover the non-empty text s.
func (c *colType) observe(s string) {
	switch c.kind {
	case kindString:
		return
	case kindInt:
		if isInt(s) {
			return
		}
		if isFloat(s) {
			c.kind = kindFloat
			return
		}
	case kindFloat:
		if isFloat(s) {
			return
		}
	case kindBool:
		if isBool(s) {
			return
		}
	case kindTime:
		if _, _, digits, ok := parseTimestamp(s); ok {
			c.nanos = c.nanos || digits > 6
			return
		}
	case kindNull:
		switch {
		case isInt(s):
			c.kind = kindInt
		case isFloat(s):
			c.kind = kindFloat
		case isBool(s):
			c.kind = kindBool
		default:
			if _, _, digits, ok := parseTimestamp(s); ok {
				c.kind, c.nanos = kindTime, digits > 6
			} else {
				c.kind = kindString
			}
		}
		return
	}
	c.kind = kindString
}

func isInt(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

func isFloat(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// isBool accepts only words: 0 and 1 are integers.
func isBool(s string) bool {
	_, ok := parseBool(s)
	return ok
}

func parseBool(s string) (v, ok bool) {
	switch s {
	case "true", "True", "TRUE":
		return true, true
	case "false", "False", "FALSE":
		return false, true
	}
	return false, false
}

// csvSource reads records and knows where each field came from.
type csvSource struct {
	path   string
	r      *csv.Reader
	header []string
}

func openCSV(path string, f io.Reader) (*csvSource, error) {
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	r.ReuseRecord = true
	r.FieldsPerRecord = -1 // checked here, to say how many were expected
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty file: a header line is required", path)
	}
	if err != nil {
		return nil, csvError(path, err)
	}
	header = append([]string(nil), header...)
	if len(header) > 0 {
		header[0] = trimBOM(header[0])
	}
	return &csvSource{path: path, r: r, header: header}, nil
}

func trimBOM(s string) string {
	if len(s) >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF {
		return s[3:]
	}
	return s
}

// next returns the next record, or io.EOF.
func (s *csvSource) next() ([]string, error) {
	rec, err := s.r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, csvError(s.path, err)
	}
	if len(rec) != len(s.header) {
		line, _ := s.r.FieldPos(0)
		return nil, fmt.Errorf("%s:%d: expected %d fields as in the header, got %d", s.path, line, len(s.header), len(rec))
	}
	return rec, nil
}

func (s *csvSource) line(field int) int {
	line, _ := s.r.FieldPos(field)
	return line
}

func csvError(path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %w", path, pe.Line, pe.Err)
	}
	return fmt.Errorf("read %s: %w", path, err)
}

func readCSV(ctx context.Context, path string, mem memory.Allocator, opts ReadOptions, unit arrow.TimeUnit) (arrow.Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()

	// Pass 1: infer each column's type from the data.
	src, err := openCSV(path, f)
	if err != nil {
		return nil, err
	}
	types := make([]colType, len(src.header))
	// An integer time column (--time-unit) with one value that is not an
	// integer would be read as text and refused without a place: the first
	// such value's line is kept to name it.
	timeIdx, badTime, badLine := -1, "", 0
	if opts.TimeColumn != "" && opts.TimeUnit != "" {
		timeIdx = slices.Index(src.header, opts.TimeColumn)
	}
	for n := 0; opts.InferRows <= 0 || n < opts.InferRows; n++ {
		if n%DefaultBatchRows == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		for j, s := range rec {
			if s != "" {
				types[j].observe(s)
			}
		}
		if timeIdx >= 0 && badLine == 0 && rec[timeIdx] != "" && !isInt(rec[timeIdx]) {
			badTime, badLine = rec[timeIdx], src.line(timeIdx)
		}
	}
	if badLine > 0 {
		return nil, fmt.Errorf("%s:%d: column %q: cannot parse %q as an integer time in %s (--time-unit)", path, badLine, opts.TimeColumn, badTime, opts.TimeUnit)
	}
	if opts.TimeColumn != "" && opts.TimeUnit != "" {
		for j, name := range src.header {
			if name == opts.TimeColumn && types[j].kind == kindInt {
				types[j].intTime, types[j].unit = true, unit
			}
		}
	}

	// Pass 2: parse into Arrow, one record batch at a time.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if src, err = openCSV(path, f); err != nil {
		return nil, err
	}
	fields := make([]arrow.Field, len(types))
	for j, t := range types {
		fields[j] = arrow.Field{Name: src.header[j], Type: t.arrowType(), Nullable: true}
	}
	schema := arrow.NewSchema(fields, nil)
	batchRows := opts.BatchRows
	if batchRows <= 0 {
		batchRows = DefaultBatchRows
	}
	b := newBatchParser(src, schema, types, mem, batchRows)
	defer b.release()
	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, err := b.next()
		if err != nil {
			return nil, err
		}
		if rec == nil {
			break
		}
		recs = append(recs, rec)
	}
	for j, t := range types {
		if t.intTime {
			cols := make([]arrow.Array, len(recs))
			for k, r := range recs {
				cols[k] = r.Column(j)
			}
			if err := checkUnitRange(src.header[j], opts.TimeUnit, cols); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	return array.NewTableFromRecords(schema, recs), nil
}

// batchParser turns CSV records into record batches of the inferred types.
type batchParser struct {
	src       *csvSource
	types     []colType
	builders  *array.RecordBuilder
	batchRows int
	done      bool
}

func newBatchParser(src *csvSource, schema *arrow.Schema, types []colType, mem memory.Allocator, batchRows int) *batchParser {
	return &batchParser{src: src, types: types, builders: array.NewRecordBuilder(mem, schema), batchRows: batchRows}
}

func (b *batchParser) release() { b.builders.Release() }

// next returns the next batch, or nil at the end.
func (b *batchParser) next() (arrow.RecordBatch, error) {
	if b.done {
		return nil, nil
	}
	b.builders.Reserve(b.batchRows)
	n := 0
	for ; n < b.batchRows; n++ {
		rec, err := b.src.next()
		if errors.Is(err, io.EOF) {
			b.done = true
			break
		}
		if err != nil {
			return nil, err
		}
		for j, s := range rec {
			if err := b.appendField(j, s); err != nil {
				return nil, err
			}
		}
	}
	if n == 0 {
		return nil, nil
	}
	return b.builders.NewRecordBatch(), nil
}

func (b *batchParser) appendField(j int, s string) error {
	fb := b.builders.Field(j)
	if s == "" {
		fb.AppendNull()
		return nil
	}
	t := b.types[j]
	switch t.kind {
	case kindInt:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return b.parseError(j, s, "int64")
		}
		if t.intTime {
			fb.(*array.TimestampBuilder).Append(arrow.Timestamp(v))
		} else {
			fb.(*array.Int64Builder).Append(v)
		}
	case kindFloat:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return b.parseError(j, s, "float64")
		}
		fb.(*array.Float64Builder).Append(v)
	case kindBool:
		v, ok := parseBool(s)
		if !ok {
			return b.parseError(j, s, "bool")
		}
		fb.(*array.BooleanBuilder).Append(v)
	case kindTime:
		sec, nsec, digits, ok := parseTimestamp(s)
		if !ok || (digits > 6 && !t.nanos) {
			return b.parseError(j, s, t.arrowType().String())
		}
		var v int64
		if t.nanos {
			v = sec*1_000_000_000 + nsec
		} else {
			v = sec*1_000_000 + nsec/1000
		}
		fb.(*array.TimestampBuilder).Append(arrow.Timestamp(v))
	default:
		fb.(*array.StringBuilder).Append(s)
	}
	return nil
}

func (b *batchParser) parseError(j int, s, typ string) error {
	return fmt.Errorf("%s:%d: column %q: cannot parse %q as %s", b.src.path, b.src.line(j), b.src.header[j], s, typ)
}
