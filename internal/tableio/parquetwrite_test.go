package tableio

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/internal/cputime"
)

// wideTable is a table shaped like `fdag compute` output: a UTC timestamp,
// a symbol and nFeat float64 random walks with nulls at each column's start
// (warmup) and a few NaN, in batches of batchRows.
func wideTable(mem memory.Allocator, rows, nFeat, batchRows int) arrow.Table {
	fields := []arrow.Field{
		{Name: "event_time", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "symbol", Type: arrow.BinaryTypes.String, Nullable: true},
	}
	for k := range nFeat {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("f%d", k), Type: arrow.PrimitiveTypes.Float64, Nullable: true})
	}
	meta := arrow.NewMetadata([]string{"fdag.features"}, []string{`[]`})
	sc := arrow.NewSchema(fields, &meta)
	rng := rand.New(rand.NewPCG(1, 2))
	syms := []string{"BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"}
	walk := make([]float64, nFeat)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	var recs []arrow.RecordBatch
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	for i := range rows {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(t0 + int64(i)*1000))
		b.Field(1).(*array.StringBuilder).Append(syms[rng.IntN(len(syms))])
		for k := range nFeat {
			walk[k] += rng.NormFloat64()
			fb := b.Field(2 + k).(*array.Float64Builder)
			switch {
			case i < 10*k:
				fb.AppendNull()
			case i%997 == k:
				fb.Append(math.NaN())
			default:
				fb.Append(walk[k])
			}
		}
		if (i+1)%batchRows == 0 || i == rows-1 {
			recs = append(recs, b.NewRecordBatch())
		}
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	return array.NewTableFromRecords(sc, recs)
}

// TestParquetCodecsRoundTrip writes a wide table with every codec, in row
// groups smaller than and not aligned with the batches, with one and with
// several workers, and reads back the same values, nulls, NaN, types and
// schema metadata.
func TestParquetCodecsRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	orig := wideTable(mem, 3017, 5, 1000)
	defer orig.Release()
	dir := t.TempDir()
	for _, c := range Compressions {
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/workers=%d", c, workers), func(t *testing.T) {
				path := filepath.Join(dir, fmt.Sprintf("%s-%d.parquet", c, workers))
				if err := Write(ctx, path, orig, WriteOptions{RowGroupRows: 700, Compression: c, Workers: workers}); err != nil {
					t.Fatal(err)
				}
				back, err := Read(ctx, path, mem, ReadOptions{})
				if err != nil {
					t.Fatal(err)
				}
				defer back.Release()
				if !back.Schema().Metadata().Equal(orig.Schema().Metadata()) || back.NumCols() != orig.NumCols() {
					t.Fatalf("schema\n%s\nwant\n%s", back.Schema(), orig.Schema())
				}
				for j := range int(orig.NumCols()) {
					want, got := fmt.Sprint(columnValues(orig, j)), fmt.Sprint(columnValues(back, j))
					if f, g := orig.Schema().Field(j), back.Schema().Field(j); f.Name != g.Name || !arrow.TypeEqual(f.Type, g.Type) {
						t.Errorf("field %d: %s %s, want %s %s", j, g.Name, g.Type, f.Name, f.Type)
					}
					if want != got {
						t.Errorf("column %s differs", orig.Schema().Field(j).Name)
					}
				}
			})
		}
	}
}

func TestParseCompression(t *testing.T) {
	for _, s := range []string{"", "snappy", "LZ4", "zstd", "none"} {
		if _, err := ParseCompression(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	if _, err := ParseCompression("gzip"); err == nil || err.Error() != `unknown compression "gzip" (want snappy, lz4, zstd, none)` {
		t.Errorf("gzip: %v", err)
	}
}

// BenchmarkWriteParquet writes 1M rows x 24 float64 features (+ time,
// symbol) per codec, with 1 worker (pqarrow's serial order) and with
// GOMAXPROCS workers; FDAG_BENCH_WIDE=FILE.parquet writes that table
// instead (an `fdag compute` output, whose values compress as real
// features do). Reports MB/s of the output file and its size.
//
//	go test ./internal/tableio -run '^$' -bench WriteParquet -benchtime 3x
func BenchmarkWriteParquet(b *testing.B) {
	ctx := context.Background()
	var tbl arrow.Table
	if p := os.Getenv("FDAG_BENCH_WIDE"); p != "" {
		var err error
		if tbl, err = Read(ctx, p, memory.DefaultAllocator, ReadOptions{}); err != nil {
			b.Fatal(err)
		}
	} else {
		tbl = wideTable(memory.DefaultAllocator, 1_000_000, 24, DefaultBatchRows)
	}
	defer tbl.Release()
	dir := b.TempDir()
	for _, c := range Compressions {
		for _, workers := range []int{1, 0} {
			b.Run(fmt.Sprintf("%s/workers=%d", c, workers), func(b *testing.B) {
				path := filepath.Join(dir, "out.parquet")
				cpu0 := cputime.Process()
				for b.Loop() {
					if err := Write(ctx, path, tbl, WriteOptions{Compression: c, Workers: workers}); err != nil {
						b.Fatal(err)
					}
				}
				st, err := os.Stat(path)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric((cputime.Process()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
				b.ReportMetric(float64(st.Size())/1e6, "file-MB")
				b.ReportMetric(float64(tbl.NumRows())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}

// TestRecycledMemoryWritesTheSameFile writes a wide table (nulls, NaN, a
// dictionary-encoded string column, row groups not aligned with batches)
// with every codec from the Go heap and from a recycler whose reused bytes
// are poisoned: the files are byte for byte the same, so no encoder reads
// memory it did not write, and every buffer is freed.
func TestRecycledMemoryWritesTheSameFile(t *testing.T) {
	ctx := context.Background()
	tbl := wideTable(memory.DefaultAllocator, 150_000, 4, 20_000)
	defer tbl.Release()
	dir := t.TempDir()
	for _, c := range Compressions {
		t.Run(string(c), func(t *testing.T) {
			ref, poisoned := filepath.Join(dir, string(c)+"-ref.parquet"), filepath.Join(dir, string(c)+"-recycled.parquet")
			if err := Write(ctx, ref, tbl, WriteOptions{RowGroupRows: 45_000, Compression: c, parquetMem: memory.DefaultAllocator}); err != nil {
				t.Fatal(err)
			}
			rec := &recycler{limit: recycleLimit, poison: 0xA5}
			mem := memory.NewCheckedAllocator(rec)
			if err := Write(ctx, poisoned, tbl, WriteOptions{RowGroupRows: 45_000, Compression: c, parquetMem: mem}); err != nil {
				t.Fatal(err)
			}
			mem.AssertSize(t, 0)
			if rec.reused == 0 {
				t.Error("no buffer was reused")
			}
			a, err := os.ReadFile(ref)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(poisoned)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("the file written from recycled memory differs (%d and %d bytes)", len(a), len(b))
			}
		})
	}
}
