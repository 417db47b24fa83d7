package nbview

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/internal/demodata"
)

// DemoTrades returns rows synthetic trades over the given symbols (the
// demo's four when none are given), the same generator as `fdag demo-data`:
// columns symbol, venue, event_time (timestamp us), trade_price, trade_size,
// side, trade_id, interleaved across symbols in time order. The same seed
// gives the same table. Notebooks outside this module cannot import the
// generator itself (it is internal), hence this door. The caller releases
// the table.
func DemoTrades(rows int, seed int64, symbols ...string) arrow.Table {
	return demodata.Generate(demodata.Config{Symbols: symbols, Rows: rows, Seed: seed}, memory.DefaultAllocator)
}
