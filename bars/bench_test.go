package bars

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// benchKinds is every kind once, sized for synthTrades' prices near 1e5
// and about 10k trades a day: the default EWMA window (10000 trades) and
// E[T] bounded below, as a user would run them.
const benchKinds = "time:1m,tick:500,volume:1000,dollar:1e7," +
	"tick_imbalance:500:min=100,volume_imbalance:500:min=100,dollar_imbalance:500:min=100," +
	"tick_run:500:min=100,volume_run:500:min=100,dollar_run:500:min=100"

// BenchmarkAllKinds computes every bar kind in one pass over
// FDAG_BENCH_TRADES synthetic trades (default 1M; the README's figure uses
// 10M with -benchtime=1x), pushed in 64K-trade batches.
func BenchmarkAllKinds(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("FDAG_BENCH_TRADES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	// Two million trades a day, as BTCUSDT on a busy day.
	tr := synthTrades(9, n, max(1, n/2_000_000), -1)
	specs, err := ParseSpecs(benchKinds)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	bars := 0
	for range b.N {
		e, err := New(memory.DefaultAllocator, "SYM", specs, Columns{})
		if err != nil {
			b.Fatal(err)
		}
		for lo := 0; lo < len(tr.Time); lo += 1 << 16 {
			if err := e.PushTrades(slice(tr, lo, min(len(tr.Time), lo+1<<16))); err != nil {
				b.Fatal(err)
			}
		}
		e.Finish(time.UnixMicro(tr.Time[len(tr.Time)-1] + 1))
		bars = 0
		for i := range specs {
			rec := e.Take(i)
			bars += int(rec.NumRows())
			rec.Release()
		}
	}
	b.ReportMetric(float64(len(tr.Time))*float64(b.N)/b.Elapsed().Seconds(), "trades/s")
	b.ReportMetric(float64(bars), "bars")
}
