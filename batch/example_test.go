package batch_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/batch"
	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/ir"
	"github.com/featuredag/fdag/project"
)

// A batch run from a project directory: load the project (its fdag.yaml,
// FeatureTypes and warehouse), then compute two features for two symbols
// over two days, one shard per (symbol, day), committed to ft_features in
// one transaction.
func ExampleRun() {
	dir, _ := os.MkdirTemp("", "fdag-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	proj, err := project.Load(dir, project.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer proj.Close()
	wh, err := proj.Warehouse(ctx)
	if err != nil {
		log.Fatal(err)
	}
	ingestExampleTrades(ctx, wh)

	day := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	sum, err := batch.Run(ctx, wh, batch.RunRequest{
		Request: batch.Request{
			Specs: []ir.Spec{
				{Name: "ret_1", Formula: "log(close) - log(lag(close, 1))"},
				{Name: "vol_50", Formula: "rolling_std(ret_1, 50)"},
			},
			Symbols:  []string{"BTCUSDT", "ETHUSDT"},
			Start:    day,
			End:      day.Add(48 * time.Hour),
			Registry: proj.Registry,
		},
		Retries: 1,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("committed:", sum.Committed)
	fmt.Println("shards:", sum.Totals.Shards, "failed:", sum.Totals.ShardsFailed)
	fmt.Println("narrow rows = 2 features x rows in:", sum.Totals.RowsOut == 2*sum.Totals.RowsIn)
	for _, s := range sum.Shards {
		fmt.Println(s.Symbol, s.Start.Format(time.DateOnly), s.Status)
	}
	// Output:
	// committed: true
	// shards: 4 failed: 0
	// narrow rows = 2 features x rows in: true
	// BTCUSDT 2024-01-02 ok
	// BTCUSDT 2024-01-03 ok
	// ETHUSDT 2024-01-02 ok
	// ETHUSDT 2024-01-03 ok
}

// ingestExampleTrades writes two days of synthetic trades.
func ingestExampleTrades(ctx context.Context, wh *catalog.Warehouse) {
	rdr := demodata.NewReader(demodata.Config{Rows: 20_000, Seed: 1, Symbols: []string{"BTCUSDT", "ETHUSDT"},
		MeanGap: 17 * time.Second, Start: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}, memory.DefaultAllocator)
	defer rdr.Release()
	src := catalog.Source{Name: "demo", Batches: func(yield func(arrow.RecordBatch, error) bool) {
		for rdr.Next() {
			if !yield(rdr.RecordBatch(), nil) {
				return
			}
		}
	}}
	if _, err := wh.Ingest(ctx, catalog.TradesTable, src); err != nil {
		log.Fatal(err)
	}
}
