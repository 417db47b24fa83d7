package bars

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Column names of a bar table.
const (
	ColSymbol      = "symbol"
	ColBarStart    = "bar_start"
	ColBarEnd      = "bar_end"
	ColOpen        = "open"
	ColHigh        = "high"
	ColLow         = "low"
	ColClose       = "close"
	ColVolume      = "volume"
	ColDollarValue = "dollar_value"
	ColVWAP        = "vwap"
	ColTradeCount  = "trade_count"
	ColBuyVolume   = "buy_volume"
	ColComplete    = "complete"
)

// Schema metadata keys of a bar batch (and table properties of a bar table).
const (
	MetaKind = "fdag.bar_kind" // e.g. tick
	MetaSpec = "fdag.bar_spec" // the full spec as ParseSpec reads it
)

var tsUTC = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// Fields are the columns of every bar table. bar_start and bar_end are the
// times of the bar's first and last trade; volume is the summed size,
// dollar_value the summed price*size, vwap their ratio (null when the
// volume is 0); buy_volume sums the size of trades whose taker side is buy.
// complete is false for a bar cut by the end of a UTC day or of the data
// before it reached its threshold (time bars: before its interval ended).
var Fields = []arrow.Field{
	{Name: ColSymbol, Type: arrow.BinaryTypes.String},
	{Name: ColBarStart, Type: tsUTC},
	{Name: ColBarEnd, Type: tsUTC},
	{Name: ColOpen, Type: arrow.PrimitiveTypes.Float64},
	{Name: ColHigh, Type: arrow.PrimitiveTypes.Float64},
	{Name: ColLow, Type: arrow.PrimitiveTypes.Float64},
	{Name: ColClose, Type: arrow.PrimitiveTypes.Float64},
	{Name: ColVolume, Type: arrow.PrimitiveTypes.Float64},
	{Name: ColDollarValue, Type: arrow.PrimitiveTypes.Float64},
	{Name: ColVWAP, Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: ColTradeCount, Type: arrow.PrimitiveTypes.Int64},
	{Name: ColBuyVolume, Type: arrow.PrimitiveTypes.Float64},
	{Name: ColComplete, Type: arrow.FixedWidthTypes.Boolean},
}

// Schema is the Arrow schema of spec's bars, with the kind and spec in its
// metadata.
func Schema(spec Spec) *arrow.Schema {
	md := arrow.NewMetadata([]string{MetaKind, MetaSpec}, []string{spec.Kind.String(), spec.String()})
	return arrow.NewSchema(Fields, &md)
}

// acc is the bar being built.
type acc struct {
	start, end                int64
	open, high, low, close    float64
	volume, dollar, buyVolume float64
	n                         int64
}

func (a *acc) add(t int64, p, v, dv float64, side int8) {
	if a.n == 0 {
		a.start, a.open, a.high, a.low = t, p, p, p
	}
	if p > a.high {
		a.high = p
	}
	if p < a.low {
		a.low = p
	}
	a.close, a.end = p, t
	a.volume += v
	a.dollar += dv
	if side > 0 {
		a.buyVolume += v
	}
	a.n++
}

// barCols holds finished bars column by column until they are taken.
type barCols struct {
	start, end                                        []int64
	open, high, low, close, volume, dollar, buyVolume []float64
	n                                                 []int64
	complete                                          []bool
}

func (c *barCols) emit(a *acc, complete bool) {
	c.start = append(c.start, a.start)
	c.end = append(c.end, a.end)
	c.open = append(c.open, a.open)
	c.high = append(c.high, a.high)
	c.low = append(c.low, a.low)
	c.close = append(c.close, a.close)
	c.volume = append(c.volume, a.volume)
	c.dollar = append(c.dollar, a.dollar)
	c.buyVolume = append(c.buyVolume, a.buyVolume)
	c.n = append(c.n, a.n)
	c.complete = append(c.complete, complete)
	*a = acc{}
}

func (c *barCols) len() int { return len(c.start) }

// record builds the Arrow batch of the bars held and empties c.
func (c *barCols) record(mem memory.Allocator, schema *arrow.Schema, symbol string) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	n := c.len()
	sym := b.Field(0).(*array.StringBuilder)
	sym.Reserve(n)
	for range n {
		sym.Append(symbol)
	}
	ts := func(j int, v []int64) {
		tb := b.Field(j).(*array.TimestampBuilder)
		tb.Reserve(n)
		for _, x := range v {
			tb.UnsafeAppend(arrow.Timestamp(x))
		}
	}
	ts(1, c.start)
	ts(2, c.end)
	for j, v := range [][]float64{c.open, c.high, c.low, c.close, c.volume, c.dollar} {
		b.Field(3+j).(*array.Float64Builder).AppendValues(v, nil)
	}
	vwap := b.Field(9).(*array.Float64Builder)
	vwap.Reserve(n)
	for i := range n {
		if c.volume[i] == 0 {
			vwap.UnsafeAppendBoolToBitmap(false)
		} else {
			vwap.UnsafeAppend(c.dollar[i] / c.volume[i])
		}
	}
	b.Field(10).(*array.Int64Builder).AppendValues(c.n, nil)
	b.Field(11).(*array.Float64Builder).AppendValues(c.buyVolume, nil)
	b.Field(12).(*array.BooleanBuilder).AppendValues(c.complete, nil)
	*c = barCols{start: c.start[:0], end: c.end[:0], open: c.open[:0], high: c.high[:0], low: c.low[:0],
		close: c.close[:0], volume: c.volume[:0], dollar: c.dollar[:0], buyVolume: c.buyVolume[:0],
		n: c.n[:0], complete: c.complete[:0]}
	return b.NewRecordBatch()
}
