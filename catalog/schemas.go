package catalog

import (
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	_ "github.com/featuredag/fdag/internal/snappyfast" // the Snappy of featureWriteProperties, fast
)

// Table names.
const (
	TradesTable   = "cdm_trade_enriched"
	FeaturesTable = "ft_features"
)

// Column names shared by the tables.
const (
	ColSymbol    = "symbol"
	ColEventTime = "event_time"
	ColTradeID   = "trade_id"
	ColTimestamp = "timestamp"
	ColSeq       = "seq"
)

// TableDef is the schema and partitioning of a table fdag creates.
type TableDef struct {
	Schema *iceberg.Schema
	// Partition lists (source column, transform) pairs.
	Partition []PartitionField
	// TimeColumn is the event-time column (timestamptz, microseconds).
	TimeColumn string
	// Key, when set, is (symbol, an int64 id column): the columns that
	// identify a row, which ingest keeps unique (dedup.go).
	Key []string
	// Properties are table properties set when fdag creates the table
	// (Iceberg's write.* settings, which every writer of the table honours).
	Properties iceberg.Properties
}

// PartitionField is one field of a partition spec.
type PartitionField struct {
	Column    string
	Transform iceberg.Transform
}

func (d TableDef) spec() (iceberg.PartitionSpec, error) {
	var opts []iceberg.PartitionOption
	for _, p := range d.Partition {
		name := p.Column
		if _, ok := p.Transform.(iceberg.IdentityTransform); !ok {
			name = p.Column + "_" + p.Transform.String()
		}
		f, _ := d.Schema.FindFieldByName(p.Column)
		opts = append(opts, iceberg.AddPartitionFieldBySourceID(f.ID, name, p.Transform, d.Schema, nil))
	}
	return iceberg.NewPartitionSpecOpts(opts...)
}

func opt(id int, name string, t iceberg.Type, doc string) iceberg.NestedField {
	return iceberg.NestedField{ID: id, Name: name, Type: t, Doc: doc}
}

var tsTZ = iceberg.PrimitiveTypes.TimestampTz

// TradeSchema is cdm_trade_enriched: one row per trade. trade_id is the
// exchange's trade id as int64 (Binance, Tardis and the synthetic feed all
// use integer ids; a feed with string ids would hash or number them at
// ingest). side is the taker (aggressor) side, "buy" or "sell". All columns
// are optional in Iceberg terms, so every writer's Arrow schema (nullable
// by default) fits.
var TradeSchema = iceberg.NewSchema(0,
	opt(1, ColSymbol, iceberg.PrimitiveTypes.String, "instrument symbol, e.g. BTCUSDT"),
	opt(2, "venue", iceberg.PrimitiveTypes.String, "exchange, e.g. binance"),
	opt(3, ColEventTime, tsTZ, "exchange trade time, UTC, microseconds"),
	opt(4, "trade_price", iceberg.PrimitiveTypes.Float64, "price"),
	opt(5, "trade_size", iceberg.PrimitiveTypes.Float64, "quantity in the base asset"),
	opt(6, "side", iceberg.PrimitiveTypes.String, "taker side: buy or sell"),
	opt(7, ColTradeID, iceberg.PrimitiveTypes.Int64, "exchange trade id"),
)

// TradeArrowSchema is cdm_trade_enriched in Arrow terms (strings, float64,
// int64, timestamp[us, UTC], all nullable): what readers and writers of
// trades exchange.
var TradeArrowSchema = mustArrowSchema(TradeSchema)

func mustArrowSchema(s *iceberg.Schema) *arrow.Schema {
	sc, err := table.SchemaToArrowSchema(s, nil, false, false)
	if err != nil {
		panic(fmt.Sprintf("schema %v: %v", s, err)) // a static schema: a bug, caught by any test
	}
	fields := sc.Fields()
	for i := range fields {
		fields[i].Metadata = arrow.Metadata{} // the Iceberg docs stay in the catalog
	}
	return arrow.NewSchema(fields, nil)
}

// FeatureSchema is ft_features, the narrow schema of docs/contracts.md.
// Field ids are numbered as the catalog assigns them on creation (depth
// first: the list element takes 10).
//
// seq and trade_id (added after the first release, at the end, so tables
// created before them are evolved in place: see Warehouse.Table) identify
// the source row a value belongs to when several rows of a symbol share a
// timestamp, as 14-60% of real trades do. The join key of the narrow rows
// back to wide rows is (symbol, timestamp, seq): seq numbers the rows of one
// (symbol, timestamp) 0, 1, ... in the input's order (time, then trade id
// when the source has one), so it is the same for every feature of a run.
var FeatureSchema = iceberg.NewSchema(0,
	opt(1, ColSymbol, iceberg.PrimitiveTypes.String, "instrument symbol"),
	opt(2, "feature_name", iceberg.PrimitiveTypes.String, "feature name of the request"),
	opt(3, "feature_version", iceberg.PrimitiveTypes.String, "feature version, default v1.0"),
	opt(4, "feature_id", iceberg.PrimitiveTypes.String, "stable hash of name, version and canonical formula"),
	opt(5, ColTimestamp, tsTZ, "event time of the row the value belongs to"),
	opt(6, "feature_namespace", iceberg.PrimitiveTypes.String, "category, default signal"),
	opt(7, "feature_value_numeric", iceberg.PrimitiveTypes.Float64, "scalar value"),
	opt(8, "feature_value_json", iceberg.PrimitiveTypes.String, "complex value or error detail as JSON"),
	opt(9, "feature_value_array", &iceberg.ListType{ElementID: 10, Element: iceberg.PrimitiveTypes.Float64}, "vector value"),
	opt(11, "status", iceberg.PrimitiveTypes.String, "success, error or partial"),
	opt(12, "processed_time", tsTZ, "when the value was computed"),
	opt(13, ColSeq, iceberg.PrimitiveTypes.Int32, "0-based ordinal of the source row among the symbol's rows at the same timestamp, in input order; join key (symbol, timestamp, seq)"),
	opt(14, ColTradeID, iceberg.PrimitiveTypes.Int64, "trade id of the source row, when the source has one"),
)

// KnownTables are the tables fdag creates on first write, by name.
//
// cdm_trade_enriched is partitioned by identity(symbol) and day(event_time):
// a read for a few symbols and days opens only their files.
//
// ft_features is partitioned by identity(feature_name) and day(timestamp):
// the documented query filters by feature_name, and a re-run replaces one
// (feature, day) range by dropping whole files; rows inside each file are
// sorted by (symbol, timestamp) for the join. docs/warehouse.md measures it.
var KnownTables = map[string]TableDef{
	TradesTable: {
		Schema:     TradeSchema,
		Partition:  []PartitionField{{ColSymbol, iceberg.IdentityTransform{}}, {ColEventTime, iceberg.DayTransform{}}},
		TimeColumn: ColEventTime,
		Key:        []string{ColSymbol, ColTradeID},
	},
	FeaturesTable: {
		Schema:     FeatureSchema,
		Partition:  []PartitionField{{"feature_name", iceberg.IdentityTransform{}}, {ColTimestamp, iceberg.DayTransform{}}},
		TimeColumn: ColTimestamp,
		Properties: featureWriteProperties,
	},
	LabelsTable: LabelTable,
}

// featureWriteProperties make narrow writes cheaper (BenchmarkWriteFeatures):
// Snappy (the fast encoder, internal/snappyfast) instead of Iceberg's
// default zstd, and no dictionary for the columns whose values hardly
// repeat (time, value, trade id), which the writer otherwise hashes one by
// one before giving up on the dictionary. The string columns, constant or
// nearly so within a file, keep theirs. The columns a replacing write's
// delete filters on (FeatureScope.filter) keep full bounds instead of
// Iceberg's default 16-character truncation: with a truncated bound (a
// feature name of 17 characters or more) the delete cannot prove that a
// whole file matches and reads and rewrites it row by row (most of a
// `fdag run` commit of the demo features).
var featureWriteProperties = iceberg.Properties{
	table.ParquetCompressionKey:                                        "snappy",
	"write.parquet.dict-encoding-enabled.column." + ColTimestamp:       "false",
	"write.parquet.dict-encoding-enabled.column.feature_value_numeric": "false",
	"write.parquet.dict-encoding-enabled.column." + ColTradeID:         "false",
	metricsModeKey + "feature_name":                                    "full",
	metricsModeKey + "feature_version":                                 "full",
	metricsModeKey + ColSymbol:                                         "full",
}

// metricsModeKey prefixes a column's metrics mode (Iceberg's
// write.metadata.metrics.column.NAME).
const metricsModeKey = "write.metadata.metrics.column."

func parseInt64(s string) int64 {
	v, _ := strconv.ParseInt(s, 10, 64)
	return v
}
