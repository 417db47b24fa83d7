package tableio

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// OpenParquet opens the Parquet file path for reading batch by batch:
// DefaultBatchRows rows at a time, the columns of a batch decoded in
// parallel, only the named columns (in the file's order; names the file
// lacks are skipped, none of them found is an error; nil reads every
// column). Unlike Read it holds no more than a row group's compressed
// bytes and a batch of rows, so a caller that consumes batches as they
// come (fdag compute) reads, computes and writes at once instead of one
// after the other. The caller releases the reader, which closes the file.
func OpenParquet(ctx context.Context, path string, mem memory.Allocator, columns []string) (array.RecordReader, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	pf, fr, err := openParquetFile(path, mem)
	if err != nil {
		return nil, err
	}
	var indices []int
	if columns != nil {
		want := make(map[string]bool, len(columns))
		for _, c := range columns {
			want[c] = true
		}
		for _, fld := range fr.Manifest.Fields {
			if !want[fld.Field.Name] {
				continue
			}
			if !fld.IsLeaf() {
				pf.Close()
				return nil, fmt.Errorf("read %s: column %q is nested; only flat columns are chosen by name", path, fld.Field.Name)
			}
			indices = append(indices, fld.ColIndex)
		}
		if len(indices) == 0 {
			pf.Close()
			return nil, fmt.Errorf("read %s: none of the columns %q is in the file", path, columns)
		}
	}
	rr, err := fr.GetRecordReader(ctx, indices, nil)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	r := &parquetRecords{RecordReader: rr, pf: pf, path: path}
	r.refs.Store(1)
	return r, nil
}

// parquetRecords closes the file with its last release and names it in
// errors.
type parquetRecords struct {
	pqarrow.RecordReader
	pf   *file.Reader
	path string
	refs atomic.Int64
}

func (r *parquetRecords) Err() error {
	if err := r.RecordReader.Err(); err != nil {
		return fmt.Errorf("read %s: %w", r.path, err)
	}
	return nil
}

func (r *parquetRecords) Retain() {
	r.refs.Add(1)
	r.RecordReader.Retain()
}

func (r *parquetRecords) Release() {
	r.RecordReader.Release()
	if r.refs.Add(-1) == 0 {
		r.pf.Close()
	}
}
