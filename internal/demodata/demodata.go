// Package demodata generates deterministic synthetic trades that look like
// a real multi-symbol feed: one time-ordered stream interleaving the
// symbols, millisecond timestamps with many ties, prices on a tick grid
// following a geometric random walk, lognormal sizes.
package demodata

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Config says what to generate. Zero fields take the defaults.
type Config struct {
	Symbols []string  // default DefaultSymbols
	Venue   string    // default "binance"
	Start   time.Time // default 2024-01-02T00:00:00Z
	Rows    int       // total rows over all symbols; default 1,000,000
	Seed    int64
	// MeanGap is the mean time between trades of the whole feed outside
	// bursts (default 20ms).
	MeanGap time.Duration
	// BatchRows is the length of each record batch (default 65536).
	BatchRows int
}

// DefaultSymbols are four symbols at very different price levels.
var DefaultSymbols = []string{"BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"}

// market describes how one symbol trades.
type market struct {
	price    float64 // start price
	decimals int     // price tick = 10^-decimals
	lotDec   int     // size lot = 10^-lotDec
	sizeMu   float64 // log of the median size
	weight   float64 // share of the feed's trades
}

var knownMarkets = map[string]market{
	"BTCUSDT": {price: 65000, decimals: 1, lotDec: 3, sizeMu: math.Log(0.01), weight: 4},
	"ETHUSDT": {price: 3000, decimals: 2, lotDec: 3, sizeMu: math.Log(0.2), weight: 3},
	"SOLUSDT": {price: 150, decimals: 3, lotDec: 2, sizeMu: math.Log(5), weight: 2},
	"XRPUSDT": {price: 0.5, decimals: 4, lotDec: 1, sizeMu: math.Log(500), weight: 1},
}

// marketFor returns the known market of a symbol, or a made-up one whose
// price level depends on the symbol's position only (deterministic).
func marketFor(symbol string, i int) market {
	if m, ok := knownMarkets[symbol]; ok {
		return m
	}
	return market{price: 100 * math.Pow(3, float64(i%5)-2), decimals: 4, lotDec: 2, sizeMu: 0, weight: 1}
}

const (
	// burstProb is the chance that a trade is one more fill of the same
	// taker order: same symbol, same millisecond. This, with the Poisson
	// gaps, gives the 20-40% of rows sharing a timestamp of real feeds.
	burstProb = 0.15
	// tickVol is the standard deviation of the log price per trade.
	tickVol = 2e-4
	sizeVol = 1.2
)

// Schema is the schema of the generated trades.
var Schema = arrow.NewSchema([]arrow.Field{
	{Name: "symbol", Type: arrow.BinaryTypes.String},
	{Name: "venue", Type: arrow.BinaryTypes.String},
	{Name: "event_time", Type: arrow.FixedWidthTypes.Timestamp_us},
	{Name: "trade_price", Type: arrow.PrimitiveTypes.Float64},
	{Name: "trade_size", Type: arrow.PrimitiveTypes.Float64},
	{Name: "side", Type: arrow.BinaryTypes.String},
	{Name: "trade_id", Type: arrow.PrimitiveTypes.Int64},
}, nil)

func (c Config) withDefaults() Config {
	if len(c.Symbols) == 0 {
		c.Symbols = DefaultSymbols
	}
	if c.Venue == "" {
		c.Venue = "binance"
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	}
	if c.Rows == 0 {
		c.Rows = 1_000_000
	}
	if c.MeanGap <= 0 {
		c.MeanGap = 20 * time.Millisecond
	}
	if c.BatchRows <= 0 {
		c.BatchRows = 1 << 16
	}
	return c
}

// Generate returns the whole table. The caller releases it.
func Generate(cfg Config, mem memory.Allocator) arrow.Table {
	r := NewReader(cfg, mem)
	defer r.Release()
	var recs []arrow.RecordBatch
	for r.Next() {
		rec := r.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	tbl := array.NewTableFromRecords(Schema, recs)
	for _, rec := range recs {
		rec.Release()
	}
	return tbl
}

// symbolState is the running state of one symbol's walk.
type symbolState struct {
	m       market
	logp    float64
	ticks   int64 // last price in ticks
	scale   float64
	lot     float64
	tradeID int64
}

// Reader streams the generated trades as record batches
// (an array.RecordReader).
type Reader struct {
	cfg     Config
	mem     memory.Allocator
	rng     *rand.Rand
	syms    []symbolState
	cum     []float64 // cumulative symbol weights, for picking a symbol
	t       float64   // microseconds since Start, before rounding
	startUs int64
	prev    int // symbol of the previous trade, for bursts
	left    int
	rec     arrow.RecordBatch
	refs    int64
}

var _ array.RecordReader = (*Reader)(nil)

// NewReader starts a generator. The same Config gives the same rows.
func NewReader(cfg Config, mem memory.Allocator) *Reader {
	cfg = cfg.withDefaults()
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	// A fixed second seed word keeps output stable across Go versions as
	// long as PCG itself is unchanged.
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15))
	g := &Reader{cfg: cfg, mem: mem, rng: rng, left: cfg.Rows, refs: 1, prev: -1,
		startUs: cfg.Start.UnixMicro()}
	total := 0.0
	for i, s := range cfg.Symbols {
		m := marketFor(s, i)
		scale := math.Pow(10, float64(m.decimals))
		ticks := int64(math.Round(m.price * scale))
		g.syms = append(g.syms, symbolState{m: m, logp: math.Log(m.price), ticks: ticks,
			scale: scale, lot: math.Pow(10, float64(m.lotDec)), tradeID: int64(i+1) * 1_000_000_000})
		total += m.weight
		g.cum = append(g.cum, total)
	}
	for i := range g.cum {
		g.cum[i] /= total
	}
	return g
}

func (g *Reader) Schema() *arrow.Schema { return Schema }

// Next makes the next batch current.
func (g *Reader) Next() bool {
	if g.rec != nil {
		g.rec.Release()
		g.rec = nil
	}
	if g.left <= 0 {
		return false
	}
	n := min(g.left, g.cfg.BatchRows)
	g.left -= n
	g.rec = g.batch(n)
	return true
}

func (g *Reader) batch(n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(g.mem, Schema)
	defer b.Release()
	b.Reserve(n)
	symB := b.Field(0).(*array.StringBuilder)
	venueB := b.Field(1).(*array.StringBuilder)
	timeB := b.Field(2).(*array.TimestampBuilder)
	priceB := b.Field(3).(*array.Float64Builder)
	sizeB := b.Field(4).(*array.Float64Builder)
	sideB := b.Field(5).(*array.StringBuilder)
	idB := b.Field(6).(*array.Int64Builder)
	meanGapUs := float64(g.cfg.MeanGap.Microseconds())

	for range n {
		var k int
		if g.prev >= 0 && g.rng.Float64() < burstProb {
			k = g.prev // another fill of the same order: same millisecond
		} else {
			g.t += g.rng.ExpFloat64() * meanGapUs
			k = g.pickSymbol()
		}
		g.prev = k
		s := &g.syms[k]

		s.logp += tickVol * g.rng.NormFloat64()
		ticks := max(int64(math.Round(math.Exp(s.logp)*s.scale)), 1)
		var buy bool
		switch {
		case ticks > s.ticks:
			buy = true
		case ticks < s.ticks:
			buy = false
		default:
			buy = g.rng.IntN(2) == 0
		}
		s.ticks = ticks
		lots := max(math.Round(math.Exp(s.m.sizeMu+sizeVol*g.rng.NormFloat64())*s.lot), 1)
		s.tradeID++

		symB.Append(g.cfg.Symbols[k])
		venueB.Append(g.cfg.Venue)
		// Exchange timestamps have millisecond resolution.
		ms := int64(g.t) / 1000
		timeB.Append(arrow.Timestamp(g.startUs + ms*1000))
		// Dividing integers by a power of ten gives the double nearest
		// the decimal price, so it prints as e.g. 65000.1.
		priceB.Append(float64(ticks) / s.scale)
		sizeB.Append(lots / s.lot)
		if buy {
			sideB.Append("buy")
		} else {
			sideB.Append("sell")
		}
		idB.Append(s.tradeID)
	}
	return b.NewRecordBatch()
}

func (g *Reader) pickSymbol() int {
	u := g.rng.Float64()
	for i, c := range g.cum {
		if u < c {
			return i
		}
	}
	return len(g.cum) - 1
}

// RecordBatch is the current batch, valid until the next call to Next.
func (g *Reader) RecordBatch() arrow.RecordBatch { return g.rec }

// Record is RecordBatch under its deprecated name.
func (g *Reader) Record() arrow.RecordBatch { return g.rec }

func (g *Reader) Err() error { return nil }

func (g *Reader) Retain() { g.refs++ }

func (g *Reader) Release() {
	g.refs--
	if g.refs == 0 && g.rec != nil {
		g.rec.Release()
		g.rec = nil
	}
}
