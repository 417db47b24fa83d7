package compute

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/ir"
)

// BenchmarkComputeChain computes chains of n features, each using the one
// before it, over 100 rows: the cost is planning, which must stay
// near-linear in n (issue 8: a walk per feature to find its errors made
// 8k features take 37 s here).
func BenchmarkComputeChain(b *testing.B) {
	tbl := tradeTable(b, memory.DefaultAllocator, genTrades(8, 100), 100)
	defer tbl.Release()
	for _, n := range []int{1000, 4000, 16000} {
		specs := make([]ir.Spec, n)
		specs[0] = ir.Spec{Name: "f0", Formula: "log(close)"}
		for i := 1; i < n; i++ {
			specs[i] = ir.Spec{Name: fmt.Sprintf("f%d", i), Formula: fmt.Sprintf("f%d + 1", i-1)}
		}
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for range b.N {
				res, err := ComputeFeatures(context.Background(), specs, []Frame{{Name: "t", Table: tbl}}, Options{})
				if err != nil {
					b.Fatal(err)
				}
				res.Release()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/feature")
		})
	}
}
