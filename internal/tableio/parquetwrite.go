package tableio

import (
	"context"
	"encoding/base64"
	"encoding/binary"
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
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// columnWriter writes a flat Arrow schema (no lists, structs or maps) to
// Parquet, encoding and compressing the column chunks of each batch in
// parallel, one goroutine per column at a time.
//
// pqarrow's FileWriter encodes one column after the other on one core: at
// 26 columns of 10M rows that was most of `fdag compute`'s time (bench/
// README.md). Column chunks of a buffered row group are independent (each
// has its own pages, statistics and metadata builder), so they can be
// written concurrently; the row group's close then copies the chunks to
// the file in column order, which is the only serial part. DOUBLE and
// INT64 columns are written by plainChunk, the others by arrow-go's
// column writers. The file is what pqarrow.FileWriter with WithStoreSchema
// writes (arrow-go's file metadata builder and page writers lay it out):
// the same Parquet schema and the Arrow schema stored under ARROW:schema,
// so pyarrow, Polars and tableio.Read read it back exactly (time zones and
// the fdag.features metadata included).
type columnWriter struct {
	schema   *arrow.Schema
	pqSchema *schema.Schema
	props    *parquet.WriterProperties
	sink     *TellWriter
	meta     *metadata.FileMetaDataBuilder
	rg       *metadata.RowGroupMetaDataBuilder // nil between row groups
	rgCount  int16
	rgRows   int64 // rows in rg
	maxRows  int64 // per row group
	nullable []bool
	dict     []bool // dictionary-encoded
	workers  int
	// per column: plainChunk's writer, or arrow-go's column writer of the
	// row group with a write context (its buffers are not safe for
	// concurrent use) and a definition-levels buffer
	plain []*plainChunk
	few   []*stringDictionary // dictionary-encoded string columns
	cols  []file.ColumnChunkWriter
	ctxs  []context.Context
	defs  [][]int16
}

// TellWriter is a file as arrow-go's page writers take it: a writer that
// says how many bytes went through it (N, Tell).
type TellWriter struct {
	W io.Writer
	N int64
}

func (t *TellWriter) Write(p []byte) (int, error) {
	n, err := t.W.Write(p)
	t.N += int64(n)
	return n, err
}

// Tell is the bytes written so far.
func (t *TellWriter) Tell() int64 { return t.N }

var parquetMagic = []byte("PAR1")

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
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	n := sc.NumFields()
	cw := &columnWriter{schema: sc, pqSchema: pqSchema, props: props, sink: &TellWriter{W: w},
		meta: metadata.NewFileMetadataBuilder(pqSchema, props, meta), maxRows: props.MaxRowGroupLength(), workers: workers,
		nullable: make([]bool, n), dict: make([]bool, n), plain: make([]*plainChunk, n), few: make([]*stringDictionary, n), cols: make([]file.ColumnChunkWriter, n),
		ctxs: make([]context.Context, n), defs: make([][]int16, n)}
	for j, f := range sc.Fields() {
		descr := pqSchema.Column(j)
		cw.nullable[j] = f.Nullable
		cw.dict[j] = props.DictionaryEnabledFor(descr.Path())
		if plainColumn(f, descr, props) {
			if cw.plain[j], err = newPlainChunk(f, descr, props); err != nil {
				return nil, err
			}
			continue
		}
		cw.ctxs[j] = pqarrow.NewArrowWriteContext(ctx, &arrProps)
		// (arrow-go's cost fallback to PLAIN, for uncompressed columns,
		// weighs the values' plain size, which only its own path sees)
		if cw.dict[j] && f.Type.ID() == arrow.STRING && !props.DictionaryCostFallbackEnabledFor(descr.Path()) {
			cw.few[j] = &stringDictionary{mem: props.Allocator()}
		}
	}
	if _, err := cw.sink.Write(parquetMagic); err != nil {
		return nil, err
	}
	return cw, nil
}

// startRowGroup begins a row group: its metadata, a chunk per column.
func (cw *columnWriter) startRowGroup() error {
	cw.rg, cw.rgRows = cw.meta.AppendRowGroup(), 0
	for j := range cw.schema.NumFields() {
		ccb := cw.rg.NextColumnChunk()
		if cw.plain[j] != nil {
			cw.plain[j].start(ccb)
			continue
		}
		path := ccb.Descr().Path()
		pager, err := file.NewPageWriter(cw.sink, cw.props.CompressionFor(path), cw.props.CompressionLevelFor(path), ccb,
			cw.rgCount, int16(j), cw.props.Allocator(), true, nil, nil)
		if err != nil {
			return err
		}
		cw.cols[j] = file.NewColumnChunkWriter(ccb, pager, cw.props)
		if cw.few[j] != nil {
			cw.few[j].start()
		}
	}
	return nil
}

// write appends rec, starting a new row group whenever the current one is
// full.
func (cw *columnWriter) write(rec arrow.RecordBatch) error {
	if !rec.Schema().Equal(cw.schema) {
		return fmt.Errorf("record schema does not match the writer's:\nrecord: %s\nwriter: %s", rec.Schema(), cw.schema)
	}
	for off, n := int64(0), rec.NumRows(); off < n; {
		if cw.rg == nil || cw.rgRows >= cw.maxRows {
			if err := cw.closeRowGroup(); err != nil {
				return err
			}
			if err := cw.startRowGroup(); err != nil {
				return err
			}
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
	if cw.plain[j] != nil {
		if err := cw.plain[j].write(arr); err != nil {
			return fmt.Errorf("column %s: %w", cw.schema.Field(j).Name, err)
		}
		return nil
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
	if cw.few[j] != nil {
		if done, err := cw.few[j].write(cw.cols[j], arr, def); done || err != nil {
			if err != nil {
				return fmt.Errorf("column %s: %w", cw.schema.Field(j).Name, err)
			}
			return nil
		}
	}
	if err := pqarrow.WriteArrowToColumn(cw.ctxs[j], cw.cols[j], arr, def, nil, cw.nullable[j]); err != nil {
		return fmt.Errorf("column %s: %w", cw.schema.Field(j).Name, err)
	}
	return nil
}

// closeRowGroup compresses the last page of every column chunk in
// parallel, then writes the chunks to the file in column order. A column
// chunk's last page would otherwise be built at that serial close: with
// row groups of a page or a few, much of the file, compressed on one core.
// Dictionary-encoded columns keep their pages for the close, which writes
// the dictionary page first.
func (cw *columnWriter) closeRowGroup() error {
	if cw.rg == nil {
		return nil
	}
	err := cw.eachColumn(func(j int) error {
		switch {
		case cw.plain[j] != nil:
			return cw.plain[j].flushPage()
		case cw.dict[j]:
			return nil
		}
		if f, ok := cw.cols[j].(interface{ FlushBufferedDataPages() error }); ok {
			return f.FlushBufferedDataPages()
		}
		return nil
	})
	for j := range cw.schema.NumFields() {
		var cerr error
		switch {
		case cw.plain[j] != nil && err == nil:
			cerr = cw.plain[j].writeTo(cw.sink, cw.rgCount, int16(j))
		case cw.plain[j] != nil:
			cw.plain[j].release()
		default:
			cerr = cw.cols[j].Close()
			cw.cols[j] = nil
		}
		if err == nil {
			err = cerr
		}
	}
	if err == nil {
		cw.rg.SetNumRows(int(cw.rgRows))
		err = cw.rg.Finish(0, cw.rgCount)
	}
	cw.rg = nil
	cw.rgCount++
	return err
}

// close finishes the file: the last row group and the footer.
func (cw *columnWriter) close() error {
	if err := cw.closeRowGroup(); err != nil {
		return err
	}
	md, err := cw.meta.Finish()
	if err != nil {
		return err
	}
	n, err := md.WriteTo(cw.sink, nil)
	if err != nil {
		return err
	}
	var tail [8]byte
	binary.LittleEndian.PutUint32(tail[:], uint32(n))
	copy(tail[4:], parquetMagic)
	_, err = cw.sink.Write(tail[:])
	return err
}
