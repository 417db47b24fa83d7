package catalog

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
)

// LabelsTable holds the process stage's labels (package labels, fdag
// labels): one row per (label spec, symbol, event).
const LabelsTable = "cdm_labels"

// LabelSchema is cdm_labels. Labels look forward by definition (the
// return after the event, the barrier touched later), so the table is
// never a feature source (CheckFeatureSource).
var LabelSchema = iceberg.NewSchema(0,
	opt(1, ColSymbol, iceberg.PrimitiveTypes.String, "instrument symbol"),
	opt(2, ColEventTime, tsTZ, "time of the event: the trade's event_time or the bar's bar_end"),
	opt(3, ColSeq, iceberg.PrimitiveTypes.Int32, "0-based ordinal of the event among the symbol's events at the same event_time"),
	opt(4, "method", iceberg.PrimitiveTypes.String, "fixed_horizon, triple_barrier, meta, trend_scan, excess_median or tail_sets"),
	opt(5, "label_spec", iceberg.PrimitiveTypes.String, "the method with every parameter, canonical: triple_barrier:pt=2:sl=1:vol=100:horizon=1h"),
	opt(6, "source", iceberg.PrimitiveTypes.String, "the events' table: cdm_trade_enriched or a bar table"),
	opt(7, "t1", tsTZ, "when the label is decided: the horizon's row, the first barrier touched, the chosen trend's end; null with the label"),
	opt(8, "ret", iceberg.PrimitiveTypes.Float64, "the return from the event to t1 (meta: side-adjusted; excess_median: the excess over the median)"),
	opt(9, "label", iceberg.PrimitiveTypes.Float64, "-1, 0 or 1 (meta: 0 or 1); null when it cannot be decided (no future, no volatility yet)"),
	opt(10, "barrier", iceberg.PrimitiveTypes.Int32, "triple_barrier and meta: 1 profit-take, -1 stop-loss, 0 vertical; else null"),
	opt(11, "t_value", iceberg.PrimitiveTypes.Float64, "trend_scan: the t-value of the chosen slope; else null"),
	opt(12, ColTradeID, iceberg.PrimitiveTypes.Int64, "trade id of the event when the events are trades"),
	opt(13, "processed_time", tsTZ, "when the label was computed"),
)

// LabelTable is cdm_labels' definition: partitioned by identity(method)
// and day(event_time), so a read of one method's labels over some days
// opens only their files and a re-run of a spec over whole days replaces
// rows of those partitions only.
var LabelTable = TableDef{
	Schema:     LabelSchema,
	Partition:  []PartitionField{{"method", iceberg.IdentityTransform{}}, {ColEventTime, iceberg.DayTransform{}}},
	TimeColumn: ColEventTime,
}

// ErrLabelsAsSource is the error of a feature request over cdm_labels.
var ErrLabelsAsSource = errors.New("labels look forward: features are never computed over them")

// CheckFeatureSource refuses the label table as the source of features:
// every label holds the future of its event (its return, the barrier it
// touches), and a feature computed over it would leak that future into
// the model's inputs. Join labels to features by (symbol, timestamp)
// instead.
func CheckFeatureSource(name string) error {
	if name == LabelsTable || strings.HasPrefix(name, LabelsTable+"_") {
		return fmt.Errorf("source table %s: %w; compute features over cdm_trade_enriched or a bar table and join the labels to them by (symbol, time)", name, ErrLabelsAsSource)
	}
	return nil
}

// LabelScope is the rows of cdm_labels a run of spec over events of source
// for symbols in [start, end) replaces.
func LabelScope(spec, source string, symbols []string, start, end time.Time) iceberg.BooleanExpression {
	return TableQuery{Symbols: symbols, Start: start, End: end,
		Equal: map[string][]string{"label_spec": {spec}, "source": {source}}}.filterOn(ColEventTime)
}
