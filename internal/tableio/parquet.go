package tableio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

func readParquet(ctx context.Context, path string, mem memory.Allocator) (arrow.Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f, file.WithReadProps(parquet.NewReaderProperties(mem)))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer pf.Close()
	// Columns are decoded in parallel: with a handful of columns this is
	// the cheapest speed-up of a large read.
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{Parallel: true, BatchSize: DefaultBatchRows}, mem)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	tbl, err := fr.ReadTable(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	// ReadTable drops the schema metadata (fdag.features among it); the
	// file's Arrow schema still has it.
	full, err := fr.Schema()
	if err != nil || !full.HasMetadata() || tbl.Schema().HasMetadata() {
		return tbl, nil
	}
	meta := full.Metadata()
	out := array.NewTable(arrow.NewSchema(tbl.Schema().Fields(), &meta), tableColumns(tbl), tbl.NumRows())
	tbl.Release()
	return out, nil
}

// tableColumns lists tbl's columns (sharing, not retaining, their data).
func tableColumns(tbl arrow.Table) []arrow.Column {
	cols := make([]arrow.Column, tbl.NumCols())
	for j := range cols {
		cols[j] = *tbl.Column(j)
	}
	return cols
}

func writeParquet(ctx context.Context, w io.Writer, rdr array.RecordReader, wopts WriteOptions) error {
	rowGroup := wopts.RowGroupRows
	if rowGroup <= 0 {
		rowGroup = DefaultBatchRows * 16
	}
	opts := []parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithMaxRowGroupLength(int64(rowGroup)),
		// Dictionary-encoding float columns costs a hash per value and
		// rarely pays: it was most of the write time of a wide feature
		// table. Strings (symbol, side, venue) keep it.
		parquet.WithDictionaryDefault(false),
	}
	for _, f := range rdr.Schema().Fields() {
		if f.Type.ID() == arrow.STRING || f.Type.ID() == arrow.LARGE_STRING {
			opts = append(opts, parquet.WithDictionaryFor(f.Name, true))
		}
	}
	props := parquet.NewWriterProperties(opts...)
	// Storing the Arrow schema keeps timestamp time zones and the schema
	// metadata (fdag.features) exact on a round trip.
	fw, err := pqarrow.NewFileWriter(rdr.Schema(), w, props,
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return err
	}
	for rdr.Next() {
		if err := ctx.Err(); err != nil {
			fw.Close()
			return err
		}
		if err := fw.WriteBuffered(rdr.RecordBatch()); err != nil {
			fw.Close()
			return err
		}
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		fw.Close()
		return err
	}
	return fw.Close()
}
