package bars

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// allKinds is one spec of every kind, parameters scaled to synthTrades.
func allKinds(t testing.TB, sign string) []Spec {
	t.Helper()
	specs, err := ParseSpecs(strings.Join([]string{
		"time:1m", "time:7m", "time:500ms", "tick:50", "volume:40", "dollar:4e6",
		"tick_imbalance:20:window=200" + sign, "volume_imbalance:20:window=200:prev=5" + sign,
		"dollar_imbalance:30:window=500:min=5:max=400" + sign,
		"tick_run:20:window=300" + sign, "volume_run:15:window=300" + sign, "dollar_run:25:window=400:prev=2:max=500" + sign,
	}, ","))
	if err != nil {
		t.Fatal(err)
	}
	return specs
}

// synthTrades is a random walk near 1e5 over days [0, days) of 2024 with
// bursts of equal timestamps, price ties, ms timestamps and emptyDay
// (if >= 0) without trades.
func synthTrades(seed uint64, n, days, emptyDay int) Trades {
	rng := rand.New(rand.NewPCG(seed, 7))
	base := time.Date(2024, 3, 9, 0, 0, 0, 0, time.UTC).UnixMicro()
	var tr Trades
	price := 1e5
	perDay := n / days
	for d := range days {
		if d == emptyDay {
			continue
		}
		t := base + int64(d)*day + rng.Int64N(60_000_000)
		for range perDay {
			if rng.IntN(4) > 0 { // a quarter of trades share the previous timestamp
				t += rng.Int64N(int64(day)/int64(perDay)*2/1000) * 1000
			}
			if t >= base+int64(d+1)*day {
				break
			}
			if rng.IntN(3) > 0 {
				price += math.Round(rng.NormFloat64()*5) * 0.5 // ticks of 0.5, many unchanged
			}
			side := int8(1)
			if rng.IntN(2) == 0 {
				side = -1
			}
			if rng.IntN(50) == 0 {
				side = 0
			}
			tr.Time = append(tr.Time, t)
			tr.Price = append(tr.Price, price)
			tr.Size = append(tr.Size, math.Round(rng.ExpFloat64()*1000)/1000)
			tr.Side = append(tr.Side, side)
		}
	}
	return tr
}

func refTrades(tr Trades) []refTrade {
	out := make([]refTrade, len(tr.Time))
	for i := range out {
		out[i] = refTrade{tr.Time[i], tr.Price[i], tr.Size[i], tr.Side[i]}
	}
	return out
}

func slice(tr Trades, lo, hi int) Trades {
	return Trades{tr.Time[lo:hi], tr.Price[lo:hi], tr.Size[lo:hi], tr.Side[lo:hi]}
}

// run pushes tr in chunks of random sizes (at most maxChunk) and returns
// every kind's bars.
func run(t testing.TB, mem memory.Allocator, specs []Spec, tr Trades, maxChunk int, seed uint64, end int64) [][]refBar {
	t.Helper()
	e, err := New(mem, "SYM", specs, Columns{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]refBar, len(specs))
	take := func() {
		for i := range specs {
			rec := e.Take(i)
			out[i] = append(out[i], barsOf(t, rec)...)
			rec.Release()
		}
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	for lo := 0; lo < len(tr.Time); {
		hi := min(len(tr.Time), lo+1+rng.IntN(maxChunk))
		if err := e.PushTrades(slice(tr, lo, hi)); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(200) == 0 { // finished bars taken while trades still come
			take()
		}
		lo = hi
	}
	e.Finish(time.UnixMicro(end))
	take()
	return out
}

func barsOf(t testing.TB, rec arrow.RecordBatch) []refBar {
	t.Helper()
	if got := rec.Schema().NumFields(); got != len(Fields) {
		t.Fatalf("bar batch has %d columns, want %d", got, len(Fields))
	}
	f := func(j int) *array.Float64 { return rec.Column(j).(*array.Float64) }
	ts := func(j int) *array.Timestamp { return rec.Column(j).(*array.Timestamp) }
	out := make([]refBar, rec.NumRows())
	for i := range out {
		out[i] = refBar{
			start: int64(ts(1).Value(i)), end: int64(ts(2).Value(i)),
			open: f(3).Value(i), high: f(4).Value(i), low: f(5).Value(i), close: f(6).Value(i),
			volume: f(7).Value(i), dollar: f(8).Value(i),
			n: rec.Column(10).(*array.Int64).Value(i), buy: f(11).Value(i),
			complete: rec.Column(12).(*array.Boolean).Value(i),
		}
		if v := f(9); out[i].volume == 0 && v.IsValid(i) || out[i].volume != 0 && v.Value(i) != out[i].dollar/out[i].volume {
			t.Fatalf("bar %d: vwap %v, dollar %v, volume %v", i, v.Value(i), out[i].dollar, out[i].volume)
		}
	}
	return out
}

func sameBars(t *testing.T, what string, got, want []refBar) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d bars, want %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("%s: bar %d:\n got %+v\nwant %+v", what, i, got[i], want[i])
			return
		}
	}
}

func TestAgreesWithReference(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	tr := synthTrades(1, 40_000, 4, 2)
	end := tr.Time[len(tr.Time)-1] + 1
	ref := refTrades(tr)
	for _, sign := range []string{"", ":sign=tick"} {
		specs := allKinds(t, sign)
		want := make([][]refBar, len(specs))
		for i, s := range specs {
			want[i] = refBars(s, ref, end)
			if len(want[i]) < 10 {
				t.Fatalf("%s: only %d bars: the test's parameters do not exercise it", s.Name(), len(want[i]))
			}
		}
		for _, chunk := range []int{1 << 20, 997, 5} {
			got := run(t, mem, specs, tr, chunk, uint64(chunk), end)
			for i, s := range specs {
				sameBars(t, fmt.Sprintf("%s chunks<=%d", s.Name(), chunk), got[i], want[i])
			}
		}
	}
}

// TestShardedEqualsUnsharded runs each UTC day as its own engine (a shard)
// and compares with one engine over all days.
func TestShardedEqualsUnsharded(t *testing.T) {
	tr := synthTrades(2, 40_000, 3, -1)
	specs := allKinds(t, ":sign=tick")
	end := (floorDiv(tr.Time[len(tr.Time)-1], day) + 1) * day
	whole := run(t, memory.DefaultAllocator, specs, tr, 5000, 1, end)
	sharded := make([][]refBar, len(specs))
	for lo := 0; lo < len(tr.Time); {
		d := floorDiv(tr.Time[lo], day)
		hi := lo
		for hi < len(tr.Time) && floorDiv(tr.Time[hi], day) == d {
			hi++
		}
		part := run(t, memory.DefaultAllocator, specs, slice(tr, lo, hi), 5000, 2, (d+1)*day)
		for i := range specs {
			sharded[i] = append(sharded[i], part[i]...)
		}
		lo = hi
	}
	for i, s := range specs {
		sameBars(t, s.Name(), sharded[i], whole[i])
	}
}

func TestEdgeCases(t *testing.T) {
	at := func(s string) int64 { v, _ := time.Parse(time.RFC3339Nano, s); return v.UnixMicro() }
	oneDay := at("2024-01-02T00:00:00Z")
	cases := []struct {
		name string
		spec string
		tr   Trades
		end  int64
		want []refBar
	}{{
		name: "one trade: an incomplete volume bar",
		spec: "volume:10", end: oneDay + day,
		tr:   Trades{[]int64{oneDay + 5}, []float64{3}, []float64{2}, []int8{1}},
		want: []refBar{{start: oneDay + 5, end: oneDay + 5, open: 3, high: 3, low: 3, close: 3, volume: 2, dollar: 6, buy: 2, n: 1}},
	}, {
		name: "one trade: a complete time bar",
		spec: "time:1m", end: oneDay + day,
		tr:   Trades{[]int64{oneDay + 5}, []float64{3}, []float64{2}, []int8{-1}},
		want: []refBar{{start: oneDay + 5, end: oneDay + 5, open: 3, high: 3, low: 3, close: 3, volume: 2, dollar: 6, n: 1, complete: true}},
	}, {
		name: "the last time bar is incomplete when the data ends inside it",
		spec: "time:1m", end: oneDay + 30_000_000,
		tr:   Trades{[]int64{oneDay + 5}, []float64{3}, []float64{2}, []int8{-1}},
		want: []refBar{{start: oneDay + 5, end: oneDay + 5, open: 3, high: 3, low: 3, close: 3, volume: 2, dollar: 6, n: 1}},
	}, {
		name: "threshold larger than the day's volume: one incomplete bar per day",
		spec: "volume:1e9", end: oneDay + 2*day,
		tr: Trades{[]int64{oneDay + 1, oneDay + 2, oneDay + day + 7}, []float64{1, 2, 3}, []float64{1, 1, 1}, []int8{1, -1, 1}},
		want: []refBar{
			{start: oneDay + 1, end: oneDay + 2, open: 1, high: 2, low: 1, close: 2, volume: 2, dollar: 3, buy: 1, n: 2},
			{start: oneDay + day + 7, end: oneDay + day + 7, open: 3, high: 3, low: 3, close: 3, volume: 1, dollar: 3, buy: 1, n: 1}},
	}, {
		name: "a bar spanning midnight is cut there; the next day starts afresh",
		spec: "tick:3", end: oneDay + 2*day,
		tr: Trades{[]int64{oneDay + day - 2, oneDay + day - 1, oneDay + day, oneDay + day + 1, oneDay + day + 1},
			[]float64{1, 2, 3, 4, 5}, []float64{1, 1, 1, 1, 1}, []int8{1, 1, 1, 1, 1}},
		want: []refBar{
			{start: oneDay + day - 2, end: oneDay + day - 1, open: 1, high: 2, low: 1, close: 2, volume: 2, dollar: 3, buy: 2, n: 2},
			{start: oneDay + day, end: oneDay + day + 1, open: 3, high: 5, low: 3, close: 5, volume: 3, dollar: 12, buy: 3, n: 3, complete: true}},
	}, {
		name: "equal timestamps: a tick bar closes inside a burst",
		spec: "tick:2", end: oneDay + day,
		tr: Trades{[]int64{oneDay, oneDay, oneDay}, []float64{5, 4, 6}, []float64{1, 2, 3}, []int8{0, -1, 1}},
		want: []refBar{
			{start: oneDay, end: oneDay, open: 5, high: 5, low: 4, close: 4, volume: 3, dollar: 13, n: 2, complete: true},
			{start: oneDay, end: oneDay, open: 6, high: 6, low: 6, close: 6, volume: 3, dollar: 18, buy: 3, n: 1}},
	}, {
		name: "a time bar of 7m is cut at midnight",
		spec: "time:7m", end: oneDay + 2*day,
		tr: Trades{[]int64{oneDay - 60e6, oneDay + 60e6}, []float64{1, 2}, []float64{1, 1}, []int8{1, 1}},
		want: []refBar{
			{start: oneDay - 60e6, end: oneDay - 60e6, open: 1, high: 1, low: 1, close: 1, volume: 1, dollar: 1, buy: 1, n: 1, complete: true},
			{start: oneDay + 60e6, end: oneDay + 60e6, open: 2, high: 2, low: 2, close: 2, volume: 1, dollar: 2, buy: 1, n: 1, complete: true}},
	}, {
		name: "imbalance bars wait for the initial expected ticks; a short day has one incomplete bar",
		spec: "tick_imbalance:100", end: oneDay + day,
		tr:   Trades{[]int64{oneDay, oneDay + 1}, []float64{1, 1}, []float64{1, 1}, []int8{1, 1}},
		want: []refBar{{start: oneDay, end: oneDay + 1, open: 1, high: 1, low: 1, close: 1, volume: 2, dollar: 2, buy: 2, n: 2}},
	}, {
		name: "no trades: no bars",
		spec: "dollar_run:5", end: oneDay + day,
		tr: Trades{},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParseSpec(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			got := run(t, memory.DefaultAllocator, []Spec{s}, c.tr, 2, 1, c.end)[0]
			sameBars(t, c.spec, got, c.want)
			sameBars(t, c.spec+" (reference)", refBars(s, refTrades(c.tr), c.end), c.want)
		})
	}
}

func TestPushErrors(t *testing.T) {
	specs := allKinds(t, "")
	cases := []struct {
		tr   Trades
		want string
	}{
		{Trades{[]int64{2, 1}, []float64{1, 1}, []float64{1, 1}, []int8{0, 0}}, "trade 1 at 1970-01-01T00:00:00.000001Z is earlier than the trade before it"},
		{Trades{[]int64{1}, []float64{math.NaN()}, []float64{1}, []int8{0}}, "trade 0 at 1970-01-01T00:00:00.000001Z has price NaN"},
		{Trades{[]int64{1}, []float64{1}, []float64{-1}, []int8{0}}, "want finite values and size >= 0"},
		{Trades{[]int64{1}, []float64{1}, []float64{1}, nil}, "trade columns of different lengths"},
	}
	for _, c := range cases {
		e, err := New(nil, "BTC", specs, Columns{})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.PushTrades(c.tr); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("PushTrades: %v, want an error containing %q", err, c.want)
		}
	}
}

func TestParseSpec(t *testing.T) {
	good := map[string]string{
		"time:1m":            "time_1m",
		"time:90s":           "time_1m30s",
		"tick:500":           "tick_500",
		"dollar:8e4":         "dollar_80000",
		"volume:0.5":         "volume_0p5",
		"tick_imbalance:100": "tick_imbalance_100",
		"volume_run:50:window=1000:prev=4:sign=tick:min=10:max=5000": "volume_run_50_window1000_prev4_min10_max5000_signtick",
	}
	for in, name := range good {
		s, err := ParseSpec(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if s.Name() != name {
			t.Errorf("%s: name %s, want %s", in, s.Name(), name)
		}
		if back, err := ParseSpec(s.String()); err != nil || back != s {
			t.Errorf("%s: String %q reads back as %+v, %v", in, s.String(), back, err)
		}
	}
	bad := map[string]string{
		"candle:5":                 `unknown kind "candle"`,
		"tick":                     "tick needs a value after the colon, e.g. tick:500",
		"tick:0":                   "positive finite threshold",
		"tick:x":                   `threshold "x" is not a number`,
		"time:1mo":                 "invalid duration",
		"time:2d":                  "longer than a day",
		"time:10ns":                "finer than the trade timestamps",
		"tick:5:window=3":          "tick takes one value",
		"tick_run:0":               "initial expected ticks >= 1",
		"tick_run:5:window=0":      "window=0: want 1..100000 trades",
		"tick_run:5:window=200000": "window=200000",
		"tick_run:5:sign=up":       "want side or tick",
		"tick_run:5:foo=1":         `unknown parameter "foo"`,
		"tick_run:5:min=9:max=3":   "want 0 <= min <= max",
	}
	for in, want := range bad {
		if _, err := ParseSpec(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", in, err, want)
		}
	}
	if _, err := ParseSpecs("tick:5,tick:5.0"); err == nil || !strings.Contains(err.Error(), "requested twice") {
		t.Errorf("duplicate kinds: %v", err)
	}
}

// TestPushArrow reads the trade table's Arrow columns: ms timestamps,
// string sides with nulls, and errors naming the column.
func TestPushArrow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "event_time", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "trade_price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "trade_size", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "side", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1000, 1000, 61_000}, nil)
	b.Field(1).(*array.Float64Builder).AppendValues([]float64{10, 11, 12}, nil)
	b.Field(2).(*array.Float64Builder).AppendValues([]float64{1, 2, 3}, nil)
	b.Field(3).(*array.StringBuilder).AppendValues([]string{"buy", "", "sell"}, []bool{true, false, true})
	rec := b.NewRecordBatch()
	defer rec.Release()
	spec, _ := ParseSpec("time:1m")
	e, err := New(mem, "LTCUSDT", []Spec{spec}, Columns{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Push(rec); err != nil {
		t.Fatal(err)
	}
	e.Finish(time.UnixMilli(120_000))
	out := e.Take(0)
	defer out.Release()
	got := barsOf(t, out)
	want := []refBar{
		{start: 1_000_000, end: 1_000_000, open: 10, high: 11, low: 10, close: 11, volume: 3, dollar: 32, buy: 1, n: 2, complete: true},
		{start: 61_000_000, end: 61_000_000, open: 12, high: 12, low: 12, close: 12, volume: 3, dollar: 36, n: 1, complete: true},
	}
	sameBars(t, "arrow", got, want)
	if md := out.Schema().Metadata(); md.FindKey(MetaSpec) < 0 || md.Values()[md.FindKey(MetaSpec)] != "time:1m" {
		t.Errorf("schema metadata %v", md)
	}

	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{200_000}, nil)
	b.Field(1).(*array.Float64Builder).AppendNull()
	b.Field(2).(*array.Float64Builder).Append(1)
	b.Field(3).(*array.StringBuilder).Append("buy")
	bad := b.NewRecordBatch()
	defer bad.Release()
	if err := e.Push(bad); err == nil || !strings.Contains(err.Error(), `column "trade_price" is null at trade 3`) {
		t.Errorf("null price: %v", err)
	}
	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{200_000}, nil)
	b.Field(1).(*array.Float64Builder).Append(1)
	b.Field(2).(*array.Float64Builder).Append(1)
	b.Field(3).(*array.StringBuilder).Append("BUY")
	bad2 := b.NewRecordBatch()
	defer bad2.Release()
	if err := e.Push(bad2); err == nil || !strings.Contains(err.Error(), `column "side" is "BUY" at trade 3: want buy, sell or null`) {
		t.Errorf("bad side: %v", err)
	}
}
