package tableio

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// columnWriter writes a flat Arrow schema (no lists, structs or maps) to
// Parquet, encoding and compressing the column chunks of each batch in
// parallel, one goroutine per column at a time.
//
// pqarrow's FileWriter encodes one column after the other on one core: at
// 26 columns of 10M rows that was most of `fdag compute`'s time (bench/
// README.md). Column chunks of a buffered row group are independent (each
// has its own page buffer, encoder, statistics and metadata builder), so
// they can be written concurrently; the row group's Close then copies the
// buffers to the file in column order, which is the only serial part. The
// file is what pqarrow.FileWriter with WithStoreSchema writes: the same
// Parquet schema and the Arrow schema stored under ARROW:schema, so
// pyarrow, Polars and tableio.Read read it back exactly (time zones and
// the fdag.features metadata included).
type columnWriter struct {
	schema   *arrow.Schema
	fw       *file.Writer
	rgw      file.BufferedRowGroupWriter
	rgRows   int64 // rows in rgw
	maxRows  int64 // per row group
	nullable []bool
	dict     []bool // dictionary-encoded
	workers  int
	// per column: a write context (its buffers are not safe for
	// concurrent use) and a definition-levels buffer
	ctxs []context.Context
	defs [][]int16
}

// flatSchema reports whether every field of sc is a primitive or string
// column, which columnWriter handles.
func flatSchema(sc *arrow.Schema) bool {
	for _, f := range sc.Fields() {
		switch f.Type.ID() {
		case arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST, arrow.LIST_VIEW, arrow.LARGE_LIST_VIEW,
			arrow.STRUCT, arrow.MAP, arrow.DICTIONARY, arrow.EXTENSION, arrow.SPARSE_UNION, arrow.DENSE_UNION,
			arrow.RUN_END_ENCODED:
			return false
		}
	}
	return true
}

func newColumnWriter(ctx context.Context, sc *arrow.Schema, w io.Writer, props *parquet.WriterProperties, arrProps pqarrow.ArrowWriterProperties, workers int) (*columnWriter, error) {
	pqSchema, err := pqarrow.ToParquet(sc, props, arrProps)
	if err != nil {
		return nil, err
	}
	meta := make(metadata.KeyValueMetadata, 0, sc.Metadata().Len()+1)
	for i, k := range sc.Metadata().Keys() {
		meta.Append(k, sc.Metadata().Values()[i])
	}
	// As pqarrow.WithStoreSchema (a flat schema needs none of its list
	// field renaming).
	meta.Append("ARROW:schema", base64.StdEncoding.EncodeToString(flight.SerializeSchema(sc, props.Allocator())))
	fw, err := file.NewParquetWriterWithError(w, pqSchema.Root(), file.WithWriterProps(props), file.WithWriteMetadata(meta))
	if err != nil {
		return nil, err
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	cw := &columnWriter{schema: sc, fw: fw, maxRows: props.MaxRowGroupLength(), workers: workers,
		nullable: make([]bool, sc.NumFields()), dict: make([]bool, sc.NumFields()), ctxs: make([]context.Context, sc.NumFields()), defs: make([][]int16, sc.NumFields())}
	for j, f := range sc.Fields() {
		cw.nullable[j] = f.Nullable
		cw.dict[j] = props.DictionaryEnabledFor(pqSchema.Column(j).Path())
		cw.ctxs[j] = pqarrow.NewArrowWriteContext(ctx, &arrProps)
	}
	return cw, nil
}

// write appends rec, starting a new row group whenever the current one is
// full.
func (cw *columnWriter) write(rec arrow.RecordBatch) error {
	if !rec.Schema().Equal(cw.schema) {
		return fmt.Errorf("record schema does not match the writer's:\nrecord: %s\nwriter: %s", rec.Schema(), cw.schema)
	}
	for off, n := int64(0), rec.NumRows(); off < n; {
		if cw.rgw == nil || cw.rgRows >= cw.maxRows {
			if err := cw.closeRowGroup(); err != nil {
				return err
			}
			rgw, err := cw.fw.AppendBufferedRowGroupChecked()
			if err != nil {
				return err
			}
			cw.rgw, cw.rgRows = rgw, 0
		}
		take := min(n-off, cw.maxRows-cw.rgRows)
		part := rec
		if off > 0 || take < n {
			part = rec.NewSlice(off, off+take)
		}
		err := cw.writeColumns(part)
		if part != rec {
			part.Release()
		}
		if err != nil {
			return err
		}
		cw.rgRows += take
		off += take
	}
	return nil
}

// writeColumns writes each column of rec to its column chunk, workers
// columns at a time.
func (cw *columnWriter) writeColumns(rec arrow.RecordBatch) error {
	return cw.eachColumn(func(j int) error { return cw.writeColumn(j, rec.Column(j)) })
}

// eachColumn calls f for every column index, workers columns at a time.
func (cw *columnWriter) eachColumn(f func(j int) error) error {
	ncols := cw.schema.NumFields()
	errs := make([]error, ncols)
	next := make(chan int, ncols)
	for j := range ncols {
		next <- j
	}
	close(next)
	var wg sync.WaitGroup
	for range min(cw.workers, ncols) {
		wg.Go(func() {
			for j := range next {
				errs[j] = f(j)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (cw *columnWriter) writeColumn(j int, arr arrow.Array) error {
	col, err := cw.rgw.Column(j)
	if err != nil {
		return err
	}
	var def []int16
	if cw.nullable[j] {
		// A flat nullable column: definition level 1 for a value, 0 for a
		// null.
		n := arr.Len()
		if cap(cw.defs[j]) < n {
			cw.defs[j] = make([]int16, n)
		}
		def = cw.defs[j][:n]
		if arr.NullN() == 0 {
			for i := range def {
				def[i] = 1
			}
		} else {
			for i := range def {
				def[i] = 0
				if arr.IsValid(i) {
					def[i] = 1
				}
			}
		}
	}
	if err := pqarrow.WriteArrowToColumn(cw.ctxs[j], col, arr, def, nil, cw.nullable[j]); err != nil {
		return fmt.Errorf("column %s: %w", cw.schema.Field(j).Name, err)
	}
	return nil
}

// closeRowGroup compresses the last page of every column chunk in
// parallel, then lets the row group's Close write the chunks to the file
// in column order. A column chunk's last page is otherwise built at that
// Close, one column after the other: with row groups shorter than a page
// (64K doubles are 512 KiB, a page 1 MiB) that was every page of the file,
// compressed on one core. Dictionary-encoded columns keep their pages for
// Close, which writes the dictionary page first.
func (cw *columnWriter) closeRowGroup() error {
	if cw.rgw == nil {
		return nil
	}
	err := cw.eachColumn(func(j int) error {
		if cw.dict[j] {
			return nil
		}
		col, err := cw.rgw.Column(j)
		if err != nil {
			return err
		}
		if f, ok := col.(interface{ FlushBufferedDataPages() error }); ok {
			return f.FlushBufferedDataPages()
		}
		return nil
	})
	if cerr := cw.rgw.Close(); err == nil {
		err = cerr
	}
	cw.rgw = nil
	return err
}

// close finishes the file.
func (cw *columnWriter) close() error {
	if err := cw.closeRowGroup(); err != nil {
		cw.fw.Close()
		return err
	}
	return cw.fw.Close()
}
