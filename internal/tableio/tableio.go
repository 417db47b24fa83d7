// Package tableio reads and writes whole Arrow tables as Parquet or CSV
// files, choosing the format by file extension. It is the file boundary of
// the command line: everything behind it sees only Arrow.
package tableio

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Format is a file format tableio understands.
type Format int

const (
	FormatUnknown Format = iota
	FormatParquet
	FormatCSV
)

func (f Format) String() string {
	switch f {
	case FormatParquet:
		return "parquet"
	case FormatCSV:
		return "csv"
	}
	return "unknown"
}

// FormatOf tells the format of path from its extension: .parquet or .pq for
// Parquet, .csv for CSV (case-insensitive).
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".parquet", ".pq":
		return FormatParquet, nil
	case ".csv":
		return FormatCSV, nil
	}
	return FormatUnknown, fmt.Errorf("%s: unknown file format (want .parquet, .pq or .csv)", path)
}

// DefaultBatchRows is the number of rows per record batch read from CSV or
// Parquet. Batches of 64K-256K rows keep memory traffic in the sweet spot
// measured in DEPENDENCIES.md.
const DefaultBatchRows = 1 << 16

// DefaultRowGroupRows is the length of a Parquet row group written. The
// writer holds a whole row group's encoded column chunks in memory until
// the group is complete (a column chunk is contiguous in the file), so the
// row group, not the file, bounds the writer's memory: at 1M rows per group
// a 26-column feature table held 160 MB of pages, grown by reallocation,
// and the fresh memory's page faults cost more CPU than the encoding saved
// (bench/README.md). 64K rows (DuckDB writes 122,880, Polars 262,144) keep
// a group of float columns near 0.4 MB per column chunk.
const DefaultRowGroupRows = DefaultBatchRows

// ReadOptions configures Read. The zero value infers every column's type
// from the whole file and converts nothing.
type ReadOptions struct {
	// TimeColumn names the event-time column. With TimeUnit set, an integer
	// time column is turned into timestamp[TimeUnit, UTC].
	TimeColumn string
	// TimeUnit is "", "s", "ms", "us" or "ns": the unit of an integer
	// TimeColumn. Empty leaves an integer time column as it is.
	TimeUnit string
	// InferRows bounds CSV type inference to the first InferRows data rows,
	// which saves a pass over a huge file; a later value that does not parse
	// as the inferred type is then an error. 0 infers from every row.
	InferRows int
	// BatchRows is the number of rows per chunk of a CSV read
	// (default DefaultBatchRows).
	BatchRows int
}

// WriteOptions configures Write. The zero value is fine.
type WriteOptions struct {
	// RowGroupRows is the Parquet row-group length (default
	// DefaultRowGroupRows).
	RowGroupRows int
	// Compression of Parquet pages (default Snappy).
	Compression Compression
	// Workers bounds the columns a Parquet write encodes at once
	// (default GOMAXPROCS).
	Workers int

	// parquetMem, in tests, replaces the Parquet writer's recycler.
	parquetMem memory.Allocator
}

// Read reads the whole table in path. The caller releases it.
func Read(ctx context.Context, path string, mem memory.Allocator, opts ReadOptions) (arrow.Table, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	unit, err := parseTimeUnit(opts.TimeUnit)
	if err != nil {
		return nil, err
	}
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	var tbl arrow.Table
	switch format {
	case FormatParquet:
		tbl, err = readParquet(ctx, path, mem)
	case FormatCSV:
		tbl, err = readCSV(ctx, path, mem, opts, unit)
	}
	if err != nil {
		return nil, err
	}
	if opts.TimeColumn == "" || opts.TimeUnit == "" {
		return tbl, nil
	}
	out, err := integerTimeToTimestamp(tbl, opts.TimeColumn, unit)
	tbl.Release()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// Write writes tbl to path, replacing it only once the whole file is
// written (a failed write leaves no partial file behind).
func Write(ctx context.Context, path string, tbl arrow.Table, opts WriteOptions) error {
	rdr := array.NewTableReader(tbl, DefaultBatchRows)
	defer rdr.Release()
	return WriteRecords(ctx, path, rdr, opts)
}

// WriteRecords writes every batch of rdr to path, so that a producer of
// batches (a generator, a streaming computation) never needs the whole
// table in memory.
func WriteRecords(ctx context.Context, path string, rdr array.RecordReader, opts WriteOptions) (err error) {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// The Parquet writer closes a writer that is an io.Closer; the buffer
	// keeps the file open until it is flushed and renamed here.
	bw := newAsyncWriter(tmp)
	defer bw.Flush() // (a no-op after the Flush below)
	switch format {
	case FormatParquet:
		err = writeParquet(ctx, bw, rdr, opts)
	case FormatCSV:
		err = writeCSV(ctx, bw, rdr)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// CreateTemp makes the file 0600; an output file gets the mode any
	// tool's output has (0644), not one only its writer can read.
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func parseTimeUnit(s string) (arrow.TimeUnit, error) {
	switch s {
	case "s":
		return arrow.Second, nil
	case "ms":
		return arrow.Millisecond, nil
	case "us", "":
		return arrow.Microsecond, nil
	case "ns":
		return arrow.Nanosecond, nil
	}
	return 0, fmt.Errorf("unknown time unit %q (want s, ms, us or ns)", s)
}

// integerTimeToTimestamp returns tbl with the integer column name
// reinterpreted as timestamp[unit, UTC]. The values buffers are shared, not
// copied: an int64 and a timestamp array have the same layout. A column that
// already holds timestamps is kept as it is.
func integerTimeToTimestamp(tbl arrow.Table, name string, unit arrow.TimeUnit) (arrow.Table, error) {
	schema := tbl.Schema()
	idx := schema.FieldIndices(name)
	if len(idx) == 0 {
		return nil, fmt.Errorf("time column %q not found", name)
	}
	i := idx[0]
	field := schema.Field(i)
	switch field.Type.ID() {
	case arrow.TIMESTAMP:
		tbl.Retain()
		return tbl, nil
	case arrow.INT64:
	default:
		return nil, fmt.Errorf("time column %q: a time unit needs an integer column, got %s", name, field.Type)
	}
	old := tbl.Column(i).Data().Chunks()
	if err := checkUnitRange(name, unitName(unit), old); err != nil {
		return nil, err
	}
	tsType := &arrow.TimestampType{Unit: unit, TimeZone: "UTC"}
	chunks := make([]arrow.Array, len(old))
	for k, c := range old {
		d := c.Data()
		nd := array.NewData(tsType, d.Len(), d.Buffers(), nil, d.NullN(), d.Offset())
		chunks[k] = array.MakeFromData(nd)
		nd.Release()
	}
	fields := schema.Fields()
	fields[i] = arrow.Field{Name: field.Name, Type: tsType, Nullable: field.Nullable, Metadata: field.Metadata}
	meta := schema.Metadata()
	newSchema := arrow.NewSchema(fields, &meta)

	cols := make([]arrow.Column, tbl.NumCols())
	for k := range cols {
		if k == i {
			chunked := arrow.NewChunked(tsType, chunks)
			cols[k] = *arrow.NewColumn(fields[k], chunked)
			chunked.Release()
			continue
		}
		cols[k] = *tbl.Column(k)
	}
	for _, c := range chunks {
		c.Release()
	}
	out := array.NewTable(newSchema, cols, tbl.NumRows())
	cols[i].Release()
	return out, nil
}
