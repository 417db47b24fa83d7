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
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	_ "github.com/featuredag/fdag/internal/snappyfast" // Snappy pages in a fraction of the time
)

func readParquet(ctx context.Context, path string, mem memory.Allocator) (arrow.Table, error) {
	pf, fr, err := openParquetFile(path, mem)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
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

// openParquetFile opens path for pqarrow, which decodes columns in
// parallel (with a handful of columns, the cheapest speed-up of a large
// read) in batches of DefaultBatchRows. The caller closes pf, which closes
// the file.
func openParquetFile(path string, mem memory.Allocator) (pf *file.Reader, fr *pqarrow.FileReader, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	if pf, err = file.NewParquetReader(f, file.WithReadProps(parquet.NewReaderProperties(mem))); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	if fr, err = pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{Parallel: true, BatchSize: DefaultBatchRows}, mem); err != nil {
		pf.Close()
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return pf, fr, nil
}

// tableColumns lists tbl's columns (sharing, not retaining, their data).
func tableColumns(tbl arrow.Table) []arrow.Column {
	cols := make([]arrow.Column, tbl.NumCols())
	for j := range cols {
		cols[j] = *tbl.Column(j)
	}
	return cols
}

// dataPageBytes is the Parquet data page size written. arrow-go builds a
// page in two Go buffers (uncompressed, compressed) that belong to the
// column chunk's writer, and every row group has new writers: with 1 MiB
// pages and 64K-row groups each page's buffers were fresh memory, zeroed
// as they grew. 128 KiB pages reuse them for the chunk's other pages; Snappy
// compresses in 64 KiB blocks, so the pages compress as well.
const dataPageBytes = 128 << 10

func writeParquet(ctx context.Context, w io.Writer, rdr array.RecordReader, wopts WriteOptions) error {
	rowGroup := wopts.RowGroupRows
	if rowGroup <= 0 {
		rowGroup = DefaultRowGroupRows
	}
	mem := wopts.parquetMem
	if mem == nil {
		mem = newRecycler(recycleLimit)
	}
	props, err := parquetProps(rdr.Schema(), int64(rowGroup), wopts.Compression, mem)
	if err != nil {
		return err
	}
	// Storing the Arrow schema keeps timestamp time zones and the schema
	// metadata (fdag.features) exact on a round trip.
	arrProps := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())
	var bw batchWriter
	if flatSchema(rdr.Schema()) {
		bw, err = newColumnWriter(ctx, rdr.Schema(), w, props, arrProps, wopts.Workers)
	} else {
		// pqarrow's writer, one column after the other, for the nested
		// schemas columnWriter does not take
		var fw *pqarrow.FileWriter
		fw, err = pqarrow.NewFileWriter(rdr.Schema(), w, props, arrProps)
		bw = serialWriter{fw}
	}
	if err != nil {
		return err
	}
	for rdr.Next() {
		if err := ctx.Err(); err != nil {
			bw.close()
			return err
		}
		if err := bw.write(rdr.RecordBatch()); err != nil {
			bw.close()
			return err
		}
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		bw.close()
		return err
	}
	return bw.close()
}

// parquetProps are the writer properties of a Parquet write of schema
// sc.
func parquetProps(sc *arrow.Schema, rowGroup int64, c Compression, mem memory.Allocator) (*parquet.WriterProperties, error) {
	codec, err := c.codec()
	if err != nil {
		return nil, err
	}
	opts := []parquet.WriterProperty{
		parquet.WithAllocator(mem),
		parquet.WithCompression(codec),
		parquet.WithMaxRowGroupLength(rowGroup),
		// Dictionary-encoding float columns costs a hash per value and
		// rarely pays: it was most of the write time of a wide feature
		// table. Strings (symbol, side, venue) keep it.
		parquet.WithDictionaryDefault(false),
		parquet.WithDataPageSize(dataPageBytes),
	}
	if c == ZSTD {
		opts = append(opts, parquet.WithCompressionLevel(1))
	}
	for _, f := range sc.Fields() {
		if f.Type.ID() == arrow.STRING || f.Type.ID() == arrow.LARGE_STRING {
			opts = append(opts, parquet.WithDictionaryFor(f.Name, true))
		}
	}
	return parquet.NewWriterProperties(opts...), nil
}

// batchWriter writes record batches to a Parquet file.
type batchWriter interface {
	write(arrow.RecordBatch) error
	close() error
}

type serialWriter struct{ fw *pqarrow.FileWriter }

func (s serialWriter) write(rec arrow.RecordBatch) error { return s.fw.WriteBuffered(rec) }
func (s serialWriter) close() error                      { return s.fw.Close() }
