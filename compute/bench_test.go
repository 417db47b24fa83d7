package compute

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/ir"
)

// BenchmarkDemoFeatureSet computes the 24-feature demo set (every built-in,
// windows 20/100/1000 and durations) over synthetic trades of 4 symbols.
// FDAG_BENCH_ROWS sets the size (default 1M; the figure is 10M):
//
//	FDAG_BENCH_ROWS=10000000 go test ./compute -run '^$' -bench DemoFeatureSet -benchtime 3x
func BenchmarkDemoFeatureSet(b *testing.B) {
	rows := 1_000_000
	if s := os.Getenv("FDAG_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("FDAG_BENCH_ROWS=%q: %v", s, err)
		}
		rows = n
	}
	specs, err := ir.LoadSpecs("../testdata/features/demo.yaml")
	if err != nil {
		b.Fatal(err)
	}
	tbl := demodata.Generate(demodata.Config{Rows: rows, Seed: 1}, memory.DefaultAllocator)
	defer tbl.Release()
	frames := []Frame{{Name: "trades", Table: tbl}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		res, err := ComputeFeatures(context.Background(), specs, frames, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Failed()) > 0 {
			b.Fatalf("failed: %v", res.Failed())
		}
		res.Release()
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkDemoFeatureSetSerial is the same on one core, to show scaling.
func BenchmarkDemoFeatureSetSerial(b *testing.B) {
	specs, err := ir.LoadSpecs("../testdata/features/demo.yaml")
	if err != nil {
		b.Fatal(err)
	}
	tbl := demodata.Generate(demodata.Config{Rows: 1_000_000, Seed: 1}, memory.DefaultAllocator)
	defer tbl.Release()
	frames := []Frame{{Name: "trades", Table: tbl}}
	b.ResetTimer()
	for range b.N {
		res, err := ComputeFeatures(context.Background(), specs, frames, Options{Parallelism: 1})
		if err != nil {
			b.Fatal(err)
		}
		res.Release()
	}
	b.ReportMetric(1e6*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
