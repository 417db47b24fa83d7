package catalog

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/internal/cputime"
	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/ir"
)

// go test ./catalog -run '^$' -bench . -benchtime 3x

// BenchmarkIngest: 1M synthetic trades, 4 symbols over ~3 days, into a
// fresh embedded warehouse, one commit.
func BenchmarkIngest(b *testing.B) {
	ctx := context.Background()
	gen := demodata.Generate(demodata.Config{Rows: 1_000_000, Seed: 1, MeanGap: 260 * time.Millisecond}, nil)
	defer gen.Release()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		w, err := Open(ctx, b.TempDir(), Config{}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		st, err := w.Ingest(ctx, TradesTable, tableSource("bench", gen))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(st.Rows)/st.Elapsed.Seconds(), "rows/s")
		w.Close()
	}
}

var benchSpecs = []ir.Spec{
	{Name: "ret_1", Formula: "log(close) - log(lag(close, 1))"},
	{Name: "ret_5", Formula: "log(close) - log(lag(close, 5))"},
	{Name: "mean_20", Formula: "rolling_mean(close, 20)"},
	{Name: "std_100", Formula: "rolling_std(close, 100)"},
	{Name: "vol_5m", Formula: "rolling_sum(volume, '5m')"},
	{Name: "max_1m", Formula: "rolling_max(close, '1m')"},
	{Name: "ewm_50", Formula: "ewm_mean(close, 50)"},
	{Name: "decay", Formula: "decay_accum(volume, '30s')"},
}

// benchWide computes benchSpecs over rows synthetic trades.
func benchWide(b *testing.B, rows int) (*compute.Result, []FeatureInfo) {
	gen := demodata.Generate(demodata.Config{Rows: rows, Seed: 2, MeanGap: time.Duration(3 * float64(24*time.Hour) / float64(rows))}, nil)
	defer gen.Release()
	res, err := compute.ComputeFeatures(context.Background(), benchSpecs, []compute.Frame{{Name: "t", Table: gen}}, compute.Options{})
	if err != nil {
		b.Fatal(err)
	}
	plan := ir.Compile(benchSpecs, ir.Options{SourceColumns: fieldNamesOf(gen.Schema())})
	return res, FeatureInfos(plan, res.Statuses)
}

// BenchmarkWriteFeatures: wide-to-narrow, Parquet files and one replacing
// commit of 250K rows x 8 features = 2M narrow rows.
func BenchmarkWriteFeatures(b *testing.B) {
	ctx := context.Background()
	res, feats := benchWide(b, 250_000)
	defer res.Release()
	w, err := Open(ctx, b.TempDir(), Config{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	scope := FeatureScope{}
	for _, f := range feats {
		scope.Features = append(scope.Features, FeatureKey{f.Name, f.Version})
	}
	b.ResetTimer()
	var rows int64
	cpu0 := cputime.Process()
	for b.Loop() {
		st, err := w.WriteFeatures(ctx, scope, WideToNarrow(res.Table, feats, NarrowOptions{}))
		if err != nil {
			b.Fatal(err)
		}
		rows += st.Rows
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "narrow-rows/s")
	b.ReportMetric(float64(rows)/(cputime.Process()-cpu0).Seconds(), "narrow-rows/cpu-s")
}

// BenchmarkFeatureQuery measures the documented query (one feature, one
// symbol, a day) on ft_features as partitioned by fdag and on the same rows
// in an unpartitioned table: files planned and time.
func BenchmarkFeatureQuery(b *testing.B) {
	ctx := context.Background()
	res, feats := benchWide(b, 250_000)
	defer res.Release()
	w, err := Open(ctx, b.TempDir(), Config{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	part, err := w.Table(ctx, FeaturesTable)
	if err != nil {
		b.Fatal(err)
	}
	flat, err := w.cat.CreateTable(ctx, w.ident("ft_features_flat"), FeatureSchema,
		icecat.WithProperties(iceberg.Properties{"format-version": "2"}))
	if err != nil {
		b.Fatal(err)
	}
	for _, tbl := range []*table.Table{part, flat} {
		files, err := w.writeFiles(ctx, tbl, NarrowSchema(), WideToNarrow(res.Table, feats, NarrowOptions{}))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.commit(ctx, tbl, nil, files, nil); err != nil {
			b.Fatal(err)
		}
	}
	q := TableQuery{Symbols: []string{"ETHUSDT"}, Equal: map[string][]string{"feature_name": {"std_100"}},
		Start: day0.Add(24 * time.Hour), End: day0.Add(48 * time.Hour)}
	for _, name := range []string{FeaturesTable, "ft_features_flat"} {
		b.Run(name, func(b *testing.B) {
			tbl, err := w.LoadTable(ctx, name)
			if err != nil {
				b.Fatal(err)
			}
			scan := tbl.Scan(table.WithRowFilter(q.Filter(FeaturesTable)))
			tasks, err := scan.PlanFiles(ctx)
			scan.Close()
			if err != nil {
				b.Fatal(err)
			}
			var rows int64
			for b.Loop() {
				t, err := w.ReadTable(ctx, name, q)
				if err != nil {
					b.Fatal(err)
				}
				rows = t.NumRows()
				t.Release()
			}
			all := tbl.Scan()
			allTasks, err := all.PlanFiles(ctx)
			all.Close()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(tasks)), "files-read")
			b.ReportMetric(float64(len(allTasks)), "files-total")
			b.ReportMetric(float64(rows), "rows")
		})
	}
}

// BenchmarkDedupFilter: the duplicate check of an ingest alone (dedup.go)
// over 1M synthetic trades into an empty table: what the rule costs.
func BenchmarkDedupFilter(b *testing.B) {
	ctx := context.Background()
	gen := demodata.Generate(demodata.Config{Rows: 1_000_000, Seed: 1, MeanGap: 260 * time.Millisecond}, nil)
	defer gen.Release()
	w, err := Open(ctx, b.TempDir(), Config{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	tbl, err := w.Table(ctx, TradesTable)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		d := newDedup(w, TradesTable, tbl, KnownTables[TradesTable])
		tr := array.NewTableReader(gen, 1<<16)
		for tr.Next() {
			out, err := d.filter(ctx, tr.RecordBatch(), memory.DefaultAllocator)
			if err != nil {
				b.Fatal(err)
			}
			out.Release()
		}
		tr.Release()
	}
	b.ReportMetric(float64(gen.NumRows())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
