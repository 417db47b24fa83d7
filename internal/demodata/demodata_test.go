package demodata

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/internal/tableio"
)

func TestSameSeedSameBytes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	write := func(name string, seed int64) []byte {
		tbl := Generate(Config{Rows: 50_000, Seed: seed, BatchRows: 7_000}, mem)
		defer tbl.Release()
		path := filepath.Join(dir, name)
		if err := tableio.Write(context.Background(), path, tbl, tableio.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, ext := range []string{".parquet", ".csv"} {
		a, b := write("a"+ext, 7), write("b"+ext, 7)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: same seed, different bytes", ext)
		}
		if c := write("c"+ext, 8); bytes.Equal(a, c) {
			t.Errorf("%s: different seeds, same bytes", ext)
		}
	}
}

func TestLooksLikeAFeed(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	const rows = 200_000
	tbl := Generate(Config{Rows: rows, Seed: 1, BatchRows: rows}, mem)
	defer tbl.Release()
	if tbl.NumRows() != rows {
		t.Fatalf("rows = %d", tbl.NumRows())
	}
	rdr := array.NewTableReader(tbl, rows)
	defer rdr.Release()
	rdr.Next()
	rec := rdr.RecordBatch()
	sym := rec.Column(0).(*array.String)
	ts := rec.Column(2).(*array.Timestamp)
	price := rec.Column(3).(*array.Float64)
	size := rec.Column(4).(*array.Float64)
	ids := rec.Column(6).(*array.Int64)

	lastID := map[string]int64{}
	perSymbol := map[string]int{}
	shared := 0
	for i := range rows {
		if i > 0 && ts.Value(i) < ts.Value(i-1) {
			t.Fatalf("row %d: time goes back", i)
		}
		if ts.Value(i)%1000 != 0 {
			t.Fatalf("row %d: time not on a millisecond", i)
		}
		if (i > 0 && ts.Value(i) == ts.Value(i-1)) || (i+1 < rows && ts.Value(i) == ts.Value(i+1)) {
			shared++
		}
		s := sym.Value(i)
		if ids.Value(i) <= lastID[s] {
			t.Fatalf("row %d: trade_id %d not increasing for %s", i, ids.Value(i), s)
		}
		lastID[s] = ids.Value(i)
		perSymbol[s]++
		if price.Value(i) <= 0 || size.Value(i) <= 0 {
			t.Fatalf("row %d: price %v size %v", i, price.Value(i), size.Value(i))
		}
	}
	frac := float64(shared) / rows
	if frac < 0.20 || frac > 0.40 {
		t.Errorf("%.1f%% of rows share a timestamp, want 20-40%%", 100*frac)
	}
	if len(perSymbol) != len(DefaultSymbols) {
		t.Errorf("symbols = %v", perSymbol)
	}
	t.Logf("shared timestamps: %.1f%%, rows per symbol %v, span %v", 100*frac, perSymbol,
		time.Duration(ts.Value(rows-1)-ts.Value(0))*time.Microsecond)
}

func BenchmarkGenerate1M(b *testing.B) {
	for b.Loop() {
		Generate(Config{Rows: 1_000_000}, memory.DefaultAllocator).Release()
	}
}
