package compute

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
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
	benchDemoSet(b, demodata.DefaultSymbols, Options{})
}

// BenchmarkDemoFeatureSetSerial is the same on one core, to show scaling.
func BenchmarkDemoFeatureSetSerial(b *testing.B) {
	benchDemoSet(b, demodata.DefaultSymbols, Options{Parallelism: 1})
}

// BenchmarkOneSymbol computes the demo set over one symbol's trades: with
// one symbol, only the engine's parallelism inside a symbol (DAG nodes and
// chunks at once, schedule.go) uses more than one core. Run it at 1 and 2
// cores, beside the 4-symbol set, to see the scaling (issue 14's goal is
// >= 1.7x on 2 cores at 10M rows):
//
//	FDAG_BENCH_ROWS=10000000 go test ./compute -run '^$' -bench 'OneSymbol$|DemoFeatureSet$' -cpu 1,2 -benchtime 3x
func BenchmarkOneSymbol(b *testing.B) {
	benchDemoSet(b, demodata.DefaultSymbols[:1], Options{})
}

func benchDemoSet(b *testing.B, symbols []string, opts Options) {
	specs, tbl := demoInput(b, symbols)
	defer tbl.Release()
	frames := []Frame{{Name: "trades", Table: tbl}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		res, err := ComputeFeatures(context.Background(), specs, frames, opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Failed()) > 0 {
			b.Fatalf("failed: %v", res.Failed())
		}
		res.Release()
	}
	b.ReportMetric(float64(tbl.NumRows())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// demoInput is the demo feature set and FDAG_BENCH_ROWS (default 1M) rows
// of synthetic trades over symbols.
func demoInput(b *testing.B, symbols []string) ([]ir.Spec, arrow.Table) {
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
	return specs, demodata.Generate(demodata.Config{Rows: rows, Seed: 1, Symbols: symbols}, memory.DefaultAllocator)
}
