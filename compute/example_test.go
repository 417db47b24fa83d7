package compute_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
)

// A server computing several requests at once gives them one pool, so that
// together they compute on at most its size of goroutines (plus each
// request's own), whatever each request's Parallelism.
func ExampleNewPool() {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "event_time", Type: arrow.FixedWidthTypes.Timestamp_ms},
		{Name: "trade_price", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := range 5 {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(i * 1000))
		b.Field(1).(*array.Float64Builder).Append(float64(10 + i))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
	defer tbl.Release()

	pool := compute.NewPool(2)
	specs := []ir.Spec{{Name: "sma_2", Formula: "rolling_mean(close, 2)"}}
	out := make([]string, 3)
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() {
			res, err := compute.ComputeFeatures(context.Background(), specs, []compute.Frame{{Name: "trades", Table: tbl}},
				compute.Options{Pool: pool, Parallelism: 4})
			if err != nil {
				out[i] = err.Error()
				return
			}
			defer res.Release()
			out[i] = fmt.Sprint(res.Table.Column(1).Data().Chunk(0))
		})
	}
	wg.Wait()
	for _, s := range out {
		fmt.Println(s)
	}
	// Output:
	// [(null) 10.5 11.5 12.5 13.5]
	// [(null) 10.5 11.5 12.5 13.5]
	// [(null) 10.5 11.5 12.5 13.5]
}
