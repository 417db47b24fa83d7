package catalog

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// ColBarEnd is the time column of bar tables (the time of a bar's last
// trade).
const ColBarEnd = "bar_end"

// BarSchema is a bar table (cdm_bars_<kind>, package bars): one row per
// bar of one symbol.
var BarSchema = iceberg.NewSchema(0,
	opt(1, ColSymbol, iceberg.PrimitiveTypes.String, "instrument symbol"),
	opt(2, "bar_start", tsTZ, "time of the bar's first trade, UTC, microseconds"),
	opt(3, ColBarEnd, tsTZ, "time of the bar's last trade, UTC, microseconds"),
	opt(4, "open", iceberg.PrimitiveTypes.Float64, "first trade's price"),
	opt(5, "high", iceberg.PrimitiveTypes.Float64, "highest price"),
	opt(6, "low", iceberg.PrimitiveTypes.Float64, "lowest price"),
	opt(7, "close", iceberg.PrimitiveTypes.Float64, "last trade's price"),
	opt(8, "volume", iceberg.PrimitiveTypes.Float64, "summed size"),
	opt(9, "dollar_value", iceberg.PrimitiveTypes.Float64, "summed price*size"),
	opt(10, "vwap", iceberg.PrimitiveTypes.Float64, "dollar_value / volume"),
	opt(11, "trade_count", iceberg.PrimitiveTypes.Int64, "trades in the bar"),
	opt(12, "buy_volume", iceberg.PrimitiveTypes.Float64, "size of the trades whose taker side is buy"),
	opt(13, "complete", iceberg.PrimitiveTypes.Bool, "false when the bar was cut by the end of a UTC day or of the data"),
)

// BarTable is the definition of every bar table: partitioned like the
// trade table, by identity(symbol) and day(bar_end).
var BarTable = TableDef{
	Schema:     BarSchema,
	Partition:  []PartitionField{{ColSymbol, iceberg.IdentityTransform{}}, {ColBarEnd, iceberg.DayTransform{}}},
	TimeColumn: ColBarEnd,
}

// StageRecords writes batches (any field ids; names and types as the
// table's) as data files of tbl, uncommitted: the worker half of a write.
// On error nothing it wrote remains. The batches are released.
func (w *Warehouse) StageRecords(ctx context.Context, tbl *table.Table, batches iter.Seq2[arrow.RecordBatch, error]) ([]iceberg.DataFile, error) {
	target, err := arrowSchema(tbl)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", tableName(tbl), err)
	}
	return w.writeFiles(ctx, tbl, target, withTableSchema(batches, target))
}

// CommitReplace deletes the rows matching del and adds files in one
// transaction of tbl (retrying on concurrent writers); the files are
// removed when it fails.
func (w *Warehouse) CommitReplace(ctx context.Context, tbl *table.Table, del iceberg.BooleanExpression, files []iceberg.DataFile, props iceberg.Properties) (int64, error) {
	return w.commit(ctx, tbl, del, files, props)
}

// RemoveStaged deletes uncommitted data files, best effort.
func (w *Warehouse) RemoveStaged(ctx context.Context, tbl *table.Table, files []iceberg.DataFile) {
	w.removeFiles(ctx, tbl, files)
}

// BarScope is the rows of a bar table a run over symbols and [start, end)
// replaces: bar_end in the range (every bar lies in one UTC day).
func BarScope(symbols []string, start, end time.Time) iceberg.BooleanExpression {
	return TableQuery{Symbols: symbols, Start: start, End: end}.filterOn(ColBarEnd)
}

// TimeColumn is the time column of a warehouse table, by which its rows
// are ordered, filtered and warmed up: event_time for trades, bar_end for
// bar tables, timestamp for ft_features (see timeColumnOf). It is a
// property of the table, so every reader of a source (fetches, batch
// runs, shards) takes it from here rather than assuming event_time.
func TimeColumn(tbl *table.Table) string {
	return timeColumnOf(tableName(tbl), tbl.Schema())
}
