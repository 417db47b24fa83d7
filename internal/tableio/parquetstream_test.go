package tableio

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestOpenParquetBatches reads a file of several row groups batch by batch,
// all columns and a chosen few, and gets what Read gets: the same values in
// batches of at most DefaultBatchRows, the chosen columns in the file's
// order, names the file lacks skipped.
func TestOpenParquetBatches(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	rows := 2*DefaultBatchRows + 123
	orig := wideTable(mem, rows, 3, 10_000)
	defer orig.Release()
	path := filepath.Join(t.TempDir(), "wide.parquet")
	if err := Write(ctx, path, orig, WriteOptions{RowGroupRows: 50_000}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		columns []string
		want    []string
	}{
		{nil, []string{"event_time", "symbol", "f0", "f1", "f2"}},
		{[]string{"f2", "event_time", "no_such_column"}, []string{"event_time", "f2"}},
	} {
		t.Run(strings.Join(tc.want, ","), func(t *testing.T) {
			rdr, err := OpenParquet(ctx, path, mem, tc.columns)
			if err != nil {
				t.Fatal(err)
			}
			defer rdr.Release()
			var names []string
			for _, f := range rdr.Schema().Fields() {
				names = append(names, f.Name)
			}
			if fmt.Sprint(names) != fmt.Sprint(tc.want) {
				t.Fatalf("columns %v, want %v", names, tc.want)
			}
			var recs []arrow.RecordBatch
			for rdr.Next() {
				rec := rdr.RecordBatch()
				if rec.NumRows() > DefaultBatchRows {
					t.Errorf("batch of %d rows, more than %d", rec.NumRows(), DefaultBatchRows)
				}
				rec.Retain()
				recs = append(recs, rec)
			}
			if err := rdr.Err(); err != nil {
				t.Fatal(err)
			}
			got := array.NewTableFromRecords(rdr.Schema(), recs)
			defer got.Release()
			for _, r := range recs {
				r.Release()
			}
			if got.NumRows() != int64(rows) {
				t.Fatalf("%d rows, want %d", got.NumRows(), rows)
			}
			for j, name := range tc.want {
				k := orig.Schema().FieldIndices(name)[0]
				if fmt.Sprint(columnValues(got, j)) != fmt.Sprint(columnValues(orig, k)) {
					t.Errorf("column %s differs", name)
				}
				if !arrow.TypeEqual(got.Schema().Field(j).Type, orig.Schema().Field(k).Type) {
					t.Errorf("column %s: type %s, want %s", name, got.Schema().Field(j).Type, orig.Schema().Field(k).Type)
				}
			}
		})
	}
	if _, err := OpenParquet(ctx, path, mem, []string{"x"}); err == nil || !strings.Contains(err.Error(), `none of the columns ["x"]`) {
		t.Errorf("no column found: %v", err)
	}
	if _, err := OpenParquet(ctx, filepath.Join(t.TempDir(), "missing.parquet"), mem, nil); err == nil || !strings.Contains(err.Error(), "missing.parquet") {
		t.Errorf("missing file: %v", err)
	}
}
