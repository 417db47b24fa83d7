package compute

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/ir"
)

// BenchmarkDemoFeatureSetGrouped runs the demo set over the same kind of
// data laid out symbol by symbol (each symbol's rows contiguous), to
// separate the cost of scattering interleaved rows from the kernels.
func BenchmarkDemoFeatureSetGrouped(b *testing.B) {
	specs, err := ir.LoadSpecs("../testdata/features/demo.yaml")
	if err != nil {
		b.Fatal(err)
	}
	var recs []arrow.RecordBatch
	for i, s := range demodata.DefaultSymbols {
		t := demodata.Generate(demodata.Config{Rows: 250_000, Seed: int64(i), Symbols: []string{s}}, memory.DefaultAllocator)
		tr := array.NewTableReader(t, 1<<20)
		for tr.Next() {
			r := tr.RecordBatch()
			r.Retain()
			recs = append(recs, r)
		}
		tr.Release()
		t.Release()
	}
	tbl := array.NewTableFromRecords(recs[0].Schema(), recs)
	defer tbl.Release()
	frames := []Frame{{Name: "trades", Table: tbl}}
	b.ResetTimer()
	for range b.N {
		res, err := ComputeFeatures(context.Background(), specs, frames, Options{})
		if err != nil {
			b.Fatal(err)
		}
		res.Release()
	}
	b.ReportMetric(1e6*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
