package tableio

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// hardValuesTable has every case plainChunk must write as arrow-go does:
// float64 columns with nulls (leading, scattered, whole pages and row
// groups of them), NaN with two payloads, -0 and +0 (alone and mixed),
// infinities, pages of NaN only; int64 with the extremes; timestamps in
// microseconds (nullable and not) and in seconds (which pqarrow converts,
// so written by arrow-go's writer), and dictionary string columns with
// and without nulls.
func hardValuesTable(mem memory.Allocator, rows int) arrow.Table {
	fields := []arrow.Field{
		{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "t_null", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}, Nullable: true},
		{Name: "t_s", Type: &arrow.TimestampType{Unit: arrow.Second}, Nullable: true},
		{Name: "symbol", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "walk", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "zeros", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "nan_inf", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "sparse", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "dense", Type: arrow.PrimitiveTypes.Float64},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "side", Type: arrow.BinaryTypes.String, Nullable: true},
	}
	sc := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	nan2 := math.Float64frombits(0x7ff8000000000bad)
	walk := 0.0
	for i := range rows {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(1_700_000_000_000_000 + int64(i)))
		if i%5 == 2 {
			b.Field(1).AppendNull()
			b.Field(2).AppendNull()
		} else {
			b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(int64(i) * 1_000_000_007))
			b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(int64(i) - 7))
		}
		b.Field(3).(*array.StringBuilder).Append([]string{"A", "BB", "CCC"}[i%3])
		walk += float64(i%7) - 3.1
		wb := b.Field(4).(*array.Float64Builder)
		if i < 17 || (i/20000)%3 == 1 { // leading nulls, then whole pages of them
			wb.AppendNull()
		} else {
			wb.Append(walk)
		}
		// -0 alone for a page, then -0 and +0 mixed
		zb := b.Field(5).(*array.Float64Builder)
		switch {
		case i < 20000:
			zb.Append(math.Copysign(0, -1))
		case i%2 == 0:
			zb.Append(0)
		default:
			zb.Append(math.Copysign(0, -1))
		}
		// NaN only for a page, then NaN among infinities and values
		nb := b.Field(6).(*array.Float64Builder)
		switch {
		case i < 20000:
			nb.Append([]float64{math.NaN(), nan2}[i%2])
		case i%4 == 0:
			nb.Append(math.Inf(1))
		case i%4 == 1:
			nb.Append(math.Inf(-1))
		case i%4 == 2:
			nb.Append(nan2)
		default:
			nb.Append(float64(i) * 1e300)
		}
		sb := b.Field(7).(*array.Float64Builder)
		if i%3 == 0 {
			sb.Append(float64(i) / 3)
		} else {
			sb.AppendNull()
		}
		b.Field(8).(*array.Float64Builder).Append(math.Sin(float64(i)))
		ib := b.Field(9).(*array.Int64Builder)
		switch i % 11 {
		case 0:
			ib.Append(math.MinInt64)
		case 1:
			ib.Append(math.MaxInt64)
		case 2:
			ib.AppendNull()
		default:
			ib.Append(int64(i) - 50000)
		}
		if i%7 == 3 {
			b.Field(10).AppendNull()
		} else {
			b.Field(10).(*array.StringBuilder).Append([]string{"buy", "sell"}[i%2])
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewTableFromRecords(sc, []arrow.RecordBatch{rec})
}

// writeArrowGo writes tbl with pqarrow's own FileWriter under the
// properties of writeParquet: the reference plainChunk is held to.
func writeArrowGo(t *testing.T, path string, tbl arrow.Table, rowGroup int64, c Compression) {
	t.Helper()
	props, err := parquetProps(tbl.Schema(), rowGroup, c, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := pqarrow.NewFileWriter(tbl.Schema(), f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteTable(tbl, rowGroup); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPlainChunksEqualArrowGo writes tables of hard values with the
// column writer (plainChunk for the float64, int64 and timestamp columns)
// and with pqarrow's FileWriter: the values read back are bit for bit the
// originals (NaN payloads and the sign of zero included), and every row
// group's column chunks have the same statistics (min, max, null count,
// value count), row counts and encodings. Sizes: empty, one row, a
// partial page, and row groups of several pages not aligned with them,
// with every codec.
func TestPlainChunksEqualArrowGo(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, rows := range []int{0, 1, 1000, 70_001} {
		for _, c := range Compressions {
			t.Run(fmt.Sprintf("rows=%d/%s", rows, c), func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
				defer mem.AssertSize(t, 0)
				tbl := hardValuesTable(mem, rows)
				defer tbl.Release()
				ours, ref := filepath.Join(dir, "ours.parquet"), filepath.Join(dir, "ref.parquet")
				const rowGroup = 45_000
				if err := Write(ctx, ours, tbl, WriteOptions{RowGroupRows: rowGroup, Compression: c}); err != nil {
					t.Fatal(err)
				}
				writeArrowGo(t, ref, tbl, rowGroup, c)
				back, err := Read(ctx, ours, mem, ReadOptions{})
				if err != nil {
					t.Fatal(err)
				}
				defer back.Release()
				want, err := Read(ctx, ref, mem, ReadOptions{})
				if err != nil {
					t.Fatal(err)
				}
				defer want.Release()
				if back.NumRows() != int64(rows) || !back.Schema().Equal(want.Schema()) {
					t.Fatalf("read %d rows of %s, want %d of %s", back.NumRows(), back.Schema(), rows, want.Schema())
				}
				for j := range int(tbl.NumCols()) {
					got := columnBits(back, j)
					if !slices.Equal(got, columnBits(want, j)) {
						t.Errorf("column %s: values differ from arrow-go's file", tbl.Schema().Field(j).Name)
					}
					// seconds come back as milliseconds from either file
					if tbl.Schema().Field(j).Name != "t_s" && !slices.Equal(got, columnBits(tbl, j)) {
						t.Errorf("column %s: values differ from the table written", tbl.Schema().Field(j).Name)
					}
				}
				if !plainColumn(tbl.Schema().Field(4), mustParquetColumn(t, ours, 4), mustProps(t, tbl, c)) ||
					plainColumn(tbl.Schema().Field(2), mustParquetColumn(t, ours, 2), mustProps(t, tbl, c)) {
					t.Error("plainColumn chooses the wrong columns")
				}
				compareFooters(t, ours, ref)
			})
		}
	}
}

// columnBits is columnValues with floats as their bits (NaN payloads,
// signed zeros).
func columnBits(tbl arrow.Table, j int) []any {
	vs := columnValues(tbl, j)
	for i, v := range vs {
		if f, ok := v.(float64); ok {
			vs[i] = math.Float64bits(f)
		}
	}
	return vs
}

func mustProps(t *testing.T, tbl arrow.Table, c Compression) *parquet.WriterProperties {
	t.Helper()
	props, err := parquetProps(tbl.Schema(), DefaultRowGroupRows, c, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	return props
}

func openFooter(t *testing.T, path string) *metadata.FileMetaData {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return r.MetaData()
}

func mustParquetColumn(t *testing.T, path string, j int) *schema.Column {
	t.Helper()
	return openFooter(t, path).Schema.Column(j)
}

// compareFooters checks that two files have the same row groups, and
// column chunks of the same statistics, value counts and encodings.
func compareFooters(t *testing.T, ours, ref string) {
	t.Helper()
	a, b := openFooter(t, ours), openFooter(t, ref)
	// An empty table is no row group for columnWriter, one empty one for
	// pqarrow.
	if a.NumRows != b.NumRows || (a.NumRows > 0 && a.NumRowGroups() != b.NumRowGroups()) {
		t.Fatalf("%d rows in %d row groups, want %d in %d", a.NumRows, a.NumRowGroups(), b.NumRows, b.NumRowGroups())
	}
	if !a.KeyValueMetadata().Equals(b.KeyValueMetadata()) || !a.Schema.Equals(b.Schema) {
		t.Error("schema or key-value metadata differ")
	}
	for g := range min(a.NumRowGroups(), b.NumRowGroups()) {
		ra, rb := a.RowGroup(g), b.RowGroup(g)
		if ra.NumRows() != rb.NumRows() {
			t.Errorf("row group %d: %d rows, want %d", g, ra.NumRows(), rb.NumRows())
		}
		for j := range ra.NumColumns() {
			ca, err := ra.ColumnChunk(j)
			if err != nil {
				t.Fatal(err)
			}
			cb, err := rb.ColumnChunk(j)
			if err != nil {
				t.Fatal(err)
			}
			name := a.Schema.Column(j).Name()
			if ca.NumValues() != cb.NumValues() || fmt.Sprint(ca.Encodings()) != fmt.Sprint(cb.Encodings()) ||
				ca.Compression() != cb.Compression() {
				t.Errorf("row group %d, %s: %d values, %v, %v; want %d, %v, %v", g, name,
					ca.NumValues(), ca.Encodings(), ca.Compression(), cb.NumValues(), cb.Encodings(), cb.Compression())
			}
			sa, err := ca.Statistics()
			if err != nil {
				t.Fatal(err)
			}
			sb, err := cb.Statistics()
			if err != nil {
				t.Fatal(err)
			}
			if (sa == nil) != (sb == nil) {
				t.Errorf("row group %d, %s: statistics %v, want %v", g, name, sa, sb)
				continue
			}
			if sa == nil {
				continue
			}
			ea, _ := sa.Encode()
			eb, _ := sb.Encode()
			if ea.HasMin != eb.HasMin || ea.HasMax != eb.HasMax || !bytes.Equal(ea.Min, eb.Min) || !bytes.Equal(ea.Max, eb.Max) ||
				ea.HasNullCount != eb.HasNullCount || ea.NullCount != eb.NullCount || ea.HasDistinctCount != eb.HasDistinctCount {
				t.Errorf("row group %d, %s: statistics %+v, want %+v", g, name, ea, eb)
			}
		}
	}
}
