package bars

import (
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Columns names the trade columns an Engine reads from Arrow batches.
type Columns struct {
	Time, Price, Size, Side string
}

// DefaultColumns are cdm_trade_enriched's.
var DefaultColumns = Columns{Time: "event_time", Price: "trade_price", Size: "trade_size", Side: "side"}

// Trades is a run of one symbol's trades in time order, column by column.
// Time is in microseconds since the Unix epoch (UTC); Side is +1 for a
// taker buy, -1 for a taker sell, 0 when unknown.
type Trades struct {
	Time        []int64
	Price, Size []float64
	Side        []int8
}

// Engine computes the bars of one symbol for every requested kind in one
// pass over its trades. Feed it trades in time order with Push or
// PushTrades (any batching gives the same bars), call Finish at the end of
// the data, and take each kind's bars with Take (also between pushes:
// finished bars never change).
type Engine struct {
	symbol  string
	specs   []Spec
	kernels []kernel
	outs    []barCols
	schemas []*arrow.Schema
	cols    Columns
	mem     memory.Allocator

	needTick bool
	started  bool  // a trade was pushed: lastT is set
	dayOpen  bool  // kernels hold state of day
	day      int64 // UTC day number of the current trades
	lastT    int64
	seen     int64 // trades pushed, for error positions
	// tick rule state of the day
	prevPrice float64
	prevSign  int8
	havePrev  bool

	buf batch // reused decode buffers
}

// New returns an engine for symbol's bars of every spec. mem nil means
// memory.DefaultAllocator; cols zero means DefaultColumns.
func New(mem memory.Allocator, symbol string, specs []Spec, cols Columns) (*Engine, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("bars: no bar kinds requested")
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	if cols == (Columns{}) {
		cols = DefaultColumns
	}
	e := &Engine{symbol: symbol, specs: specs, cols: cols, mem: mem, outs: make([]barCols, len(specs))}
	seen := map[string]bool{}
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("bars: %s: %w", s.Kind, err)
		}
		if seen[s.Name()] {
			return nil, fmt.Errorf("bars: bar kind %s is requested twice", s.Name())
		}
		seen[s.Name()] = true
		e.kernels = append(e.kernels, newKernel(s))
		e.schemas = append(e.schemas, Schema(s))
		if s.Sign == SignTick && s.Kind.info().family >= familyImbalance {
			e.needTick = true
		}
	}
	return e, nil
}

// Specs are the engine's bar kinds, in the order Take indexes them.
func (e *Engine) Specs() []Spec { return e.specs }

// PushTrades adds trades that follow (in time) every trade pushed before.
func (e *Engine) PushTrades(tr Trades) error {
	n := len(tr.Time)
	if len(tr.Price) != n || len(tr.Size) != n || len(tr.Side) != n {
		return fmt.Errorf("bars: %s: trade columns of different lengths (time %d, price %d, size %d, side %d)",
			e.symbol, n, len(tr.Price), len(tr.Size), len(tr.Side))
	}
	b := &e.buf
	b.dv = grow(b.dv, n)
	for i := range n {
		t, p, v := tr.Time[i], tr.Price[i], tr.Size[i]
		if e.started && t < e.lastT {
			return fmt.Errorf("bars: %s: trade %d at %s is earlier than the trade before it (%s): trades must be in time order",
				e.symbol, e.seen+int64(i), fmtTime(t), fmtTime(e.lastT))
		}
		if math.IsNaN(p) || math.IsInf(p, 0) || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("bars: %s: trade %d at %s has price %v and size %v: want finite values and size >= 0",
				e.symbol, e.seen+int64(i), fmtTime(t), p, v)
		}
		e.started, e.lastT = true, t
		b.dv[i] = p * v
	}
	e.seen += int64(n)
	// Cut the run at UTC midnights: each kernel sees one day at a time.
	for lo := 0; lo < n; {
		d := floorDiv(tr.Time[lo], day)
		if e.day != d {
			if e.dayOpen {
				e.endDay((e.day + 1) * day)
			}
			e.day = d
		}
		e.dayOpen = true
		hi := lo + 1
		end := (d + 1) * day
		for hi < n && tr.Time[hi] < end {
			hi++
		}
		seg := batch{t: tr.Time[lo:hi], p: tr.Price[lo:hi], v: tr.Size[lo:hi], dv: b.dv[lo:hi], side: tr.Side[lo:hi], dayEndExc: end}
		if e.needTick {
			b.tick = grow(b.tick, hi-lo)
			seg.tick = b.tick[:hi-lo]
			e.tickRule(seg.p, seg.tick)
		}
		for j, k := range e.kernels {
			k.scan(&seg, &e.outs[j])
		}
		lo = hi
	}
	return nil
}

// tickRule signs trades by AFML's tick rule, state carried within a day.
func (e *Engine) tickRule(p []float64, out []int8) {
	for i, x := range p {
		if e.havePrev && x != e.prevPrice {
			if x > e.prevPrice {
				e.prevSign = 1
			} else {
				e.prevSign = -1
			}
		}
		out[i] = e.prevSign
		e.prevPrice, e.havePrev = x, true
	}
}

func (e *Engine) endDay(end int64) {
	for j, k := range e.kernels {
		k.endDay(&e.outs[j], end)
	}
	e.prevPrice, e.prevSign, e.havePrev = 0, 0, false
}

// Finish closes the open bars at the end of the data; end is the first
// time the data does not cover (the end of the shard's range), which
// decides whether the last time bar is complete. Threshold bars still open
// are emitted with complete=false.
func (e *Engine) Finish(end time.Time) {
	if e.dayOpen {
		e.endDay(end.UnixMicro())
	}
	e.dayOpen = false
}

// Take returns the bars of spec i finished since the last Take, as one
// Arrow batch with Schema(spec) (possibly empty). The caller releases it.
func (e *Engine) Take(i int) arrow.RecordBatch {
	return e.outs[i].record(e.mem, e.schemas[i], e.symbol)
}

// Push adds a batch of trades read from Arrow: the time column a timestamp
// (any unit, taken as UTC), price and size float64, side a string column
// ("buy", "sell"; null is unknown) or absent (every side unknown).
func (e *Engine) Push(rec arrow.RecordBatch) error {
	tr, err := e.decode(rec)
	if err != nil {
		return err
	}
	return e.PushTrades(tr)
}

func (e *Engine) decode(rec arrow.RecordBatch) (Trades, error) {
	n := int(rec.NumRows())
	col := func(name string) (arrow.Array, error) {
		idx := rec.Schema().FieldIndices(name)
		if len(idx) == 0 {
			return nil, fmt.Errorf("bars: %s: input has no column %q", e.symbol, name)
		}
		return rec.Column(idx[0]), nil
	}
	tcol, err := col(e.cols.Time)
	if err != nil {
		return Trades{}, err
	}
	tr := Trades{}
	e.buf.t = grow(e.buf.t, n)
	tr.Time = e.buf.t
	ts, ok := tcol.(*array.Timestamp)
	if !ok {
		return Trades{}, fmt.Errorf("bars: %s: column %q is %s, want a timestamp", e.symbol, e.cols.Time, tcol.DataType())
	}
	unit := ts.DataType().(*arrow.TimestampType).Unit
	for i := range n {
		if ts.IsNull(i) {
			return Trades{}, fmt.Errorf("bars: %s: column %q is null at trade %d", e.symbol, e.cols.Time, e.seen+int64(i))
		}
		v := int64(ts.Value(i))
		switch unit {
		case arrow.Second:
			v *= 1_000_000
		case arrow.Millisecond:
			v *= 1000
		case arrow.Nanosecond:
			v = floorDiv(v, 1000)
		}
		tr.Time[i] = v
	}
	for _, c := range []struct {
		name string
		dst  *[]float64
		buf  *[]float64
	}{{e.cols.Price, &tr.Price, &e.buf.p}, {e.cols.Size, &tr.Size, &e.buf.v}} {
		a, err := col(c.name)
		if err != nil {
			return Trades{}, err
		}
		f, ok := a.(*array.Float64)
		if !ok {
			return Trades{}, fmt.Errorf("bars: %s: column %q is %s, want float64", e.symbol, c.name, a.DataType())
		}
		if f.NullN() > 0 {
			for i := range n {
				if f.IsNull(i) {
					return Trades{}, fmt.Errorf("bars: %s: column %q is null at trade %d", e.symbol, c.name, e.seen+int64(i))
				}
			}
		}
		*c.dst = f.Float64Values()
	}
	e.buf.side = grow(e.buf.side, n)
	tr.Side = e.buf.side
	idx := rec.Schema().FieldIndices(e.cols.Side)
	if len(idx) == 0 {
		clear(tr.Side)
		return tr, nil
	}
	sa := rec.Column(idx[0])
	str, ok := sa.(interface {
		arrow.Array
		Value(int) string
	})
	if !ok {
		return Trades{}, fmt.Errorf("bars: %s: column %q is %s, want a string (buy or sell)", e.symbol, e.cols.Side, sa.DataType())
	}
	for i := range n {
		switch {
		case str.IsNull(i):
			tr.Side[i] = 0
		case str.Value(i) == "buy":
			tr.Side[i] = 1
		case str.Value(i) == "sell":
			tr.Side[i] = -1
		case str.Value(i) == "":
			tr.Side[i] = 0
		default:
			return Trades{}, fmt.Errorf("bars: %s: column %q is %q at trade %d: want buy, sell or null", e.symbol, e.cols.Side, str.Value(i), e.seen+int64(i))
		}
	}
	return tr, nil
}

func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

func fmtTime(us int64) string {
	return time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.000000Z")
}
