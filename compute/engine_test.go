package compute

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/ir"
)

// trade is one synthetic input row.
type trade struct {
	symbol string
	t      int64 // ms
	price  float64
	size   float64
	pNull  bool
}

// genTrades makes rows for several symbols with many tied timestamps,
// nulls, a NaN, large price offsets and a one-row symbol, in time order
// across symbols (as a feed delivers them).
func genTrades(seed uint64, n int) []trade {
	r := rand.New(rand.NewPCG(seed, 7))
	syms := []string{"BTC", "ETH", "XRP"}
	base := map[string]float64{"BTC": 1e5, "ETH": 3000, "XRP": 0.5}
	var out []trade
	t := int64(1_700_000_000_000)
	for i := range n {
		if r.IntN(3) != 0 {
			t += int64(r.IntN(400))
		}
		s := syms[r.IntN(len(syms))]
		base[s] *= math.Exp(r.NormFloat64() * 1e-4)
		tr := trade{symbol: s, t: t, price: base[s], size: math.Exp(r.NormFloat64())}
		switch {
		case i%97 == 5:
			tr.pNull = true
		case i == n/2:
			tr.price = math.NaN()
		}
		out = append(out, tr)
	}
	return append(out, trade{symbol: "ONE", t: t, price: 42, size: 1})
}

// tradeTable builds an Arrow table from rows, split into record batches of
// at most batch rows.
func tradeTable(t testing.TB, mem memory.Allocator, rows []trade, batch int) arrow.Table {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "symbol", Type: arrow.BinaryTypes.String},
		{Name: "event_time", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
		{Name: "trade_price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "trade_size", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	var recs []arrow.RecordBatch
	flush := func() {
		recs = append(recs, b.NewRecordBatch())
	}
	for i, tr := range rows {
		b.Field(0).(*array.StringBuilder).Append(tr.symbol)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(tr.t))
		if tr.pNull {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.Float64Builder).Append(tr.price)
		}
		b.Field(3).(*array.Float64Builder).Append(tr.size)
		if (i+1)%batch == 0 {
			flush()
		}
	}
	if len(rows)%batch != 0 || len(rows) == 0 {
		flush()
	}
	tbl := array.NewTableFromRecords(schema, recs)
	for _, r := range recs {
		r.Release()
	}
	return tbl
}

// allBuiltins exercises every built-in, row and duration windows, and a
// reference from one feature to another.
var allBuiltins = []ir.Spec{
	{Name: "lp", Formula: "log(close)"},
	{Name: "ret", Formula: "lp - lag(lp, 1)"},
	{Name: "d2", Formula: "diff(close, 2)"},
	{Name: "ex", Formula: "exp(-abs(ret) * 100)"},
	{Name: "sq", Formula: "sqrt(volume) ** 2 / 3"},
	{Name: "m20", Formula: "rolling_mean(close, 20)"},
	{Name: "s20", Formula: "rolling_std(close, 20, 5)"},
	{Name: "sum1m", Formula: "rolling_sum(volume, '1m')"},
	{Name: "min5", Formula: "rolling_min(close, 5)"},
	{Name: "max30s", Formula: "rolling_max(close, '30s')"},
	{Name: "corr", Formula: "rolling_corr(close, volume, 50)"},
	{Name: "corr_d", Formula: "rolling_corr(ret, volume, '2m')"},
	{Name: "dec", Formula: "decay_accum(volume, 10)"},
	{Name: "dec_d", Formula: "decay_accum(volume, '10s')"},
	{Name: "ewm", Formula: "ewm_mean(close, 5)"},
	{Name: "ewm_d", Formula: "ewm_mean(close, '15s')"},
	{Name: "up", Formula: "close > lag(close) + 0"},
	{Name: "k", Formula: "2 * 3"},
}

func compute(t testing.TB, tbl arrow.Table, specs []ir.Spec, opts Options) *Result {
	t.Helper()
	res, err := ComputeFeatures(context.Background(), specs, []Frame{{Name: "trades", Table: tbl}}, opts)
	if err != nil {
		t.Fatalf("ComputeFeatures: %v", err)
	}
	for _, s := range res.Statuses {
		if s.Status != StatusSuccess {
			t.Fatalf("feature %s failed: %s", s.Name, s.Error)
		}
	}
	return res
}

// column returns a feature's values with NaN for nulls replaced by a
// sentinel so that bit comparison also compares null positions.
func column(t testing.TB, res *Result, name string) []uint64 {
	t.Helper()
	idx := res.Table.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("no column %q in %s", name, res.Table.Schema())
	}
	var out []uint64
	for _, c := range res.Table.Column(idx[0]).Data().Chunks() {
		a := c.(*array.Float64)
		for i := range a.Len() {
			if a.IsNull(i) {
				out = append(out, 0xDEAD)
			} else {
				out = append(out, math.Float64bits(a.Value(i)))
			}
		}
	}
	return out
}

func TestComputeSortsAndReturnsInputOrder(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rows := genTrades(1, 3000)
	tbl := tradeTable(t, mem, rows, 1<<20)
	defer tbl.Release()
	res := compute(t, tbl, allBuiltins, Options{Mem: mem})
	defer res.Release()
	if got := res.Table.NumRows(); got != int64(len(rows)) {
		t.Fatalf("rows = %d, want %d", got, len(rows))
	}
	names := []string{"event_time", "symbol"}
	for _, s := range allBuiltins {
		names = append(names, s.Name)
	}
	var got []string
	for _, f := range res.Table.Schema().Fields() {
		got = append(got, f.Name)
	}
	if !slices.Equal(got, names) {
		t.Fatalf("columns = %v, want %v", got, names)
	}
	meta, ok := res.Table.Schema().Metadata().GetValue(MetadataKey)
	if !ok {
		t.Fatal("no fdag.features metadata")
	}
	var sts []FeatureStatus
	if err := json.Unmarshal([]byte(meta), &sts); err != nil || len(sts) != len(allBuiltins) {
		t.Fatalf("metadata %q: %v", meta, err)
	}
	// ret = log(p) - log(previous p of the symbol): rows arrive in time
	// order, so a plain loop over the input is the reference.
	rets := column(t, res, "ret")
	type prev struct {
		lp   float64
		null bool
	}
	last := map[string]*prev{}
	for i, r := range rows {
		want := uint64(0xDEAD)
		if p := last[r.symbol]; p != nil && !p.null && !r.pNull {
			want = math.Float64bits(math.Log(r.price) - p.lp)
		}
		if rets[i] != want && !(math.IsNaN(math.Float64frombits(rets[i])) && math.IsNaN(math.Float64frombits(want))) {
			t.Fatalf("ret row %d (%s): got %v, want %v", i, r.symbol, math.Float64frombits(rets[i]), math.Float64frombits(want))
		}
		last[r.symbol] = &prev{lp: math.Log(r.price), null: r.pNull}
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// TestPropertyInvariance checks that CSE, chunk size, record batch splits
// and row order (ties kept in order) never change any value.
func TestPropertyInvariance(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rows := genTrades(2, 5000)
	tbl := tradeTable(t, mem, rows, 1<<20)
	defer tbl.Release()
	want := compute(t, tbl, allBuiltins, Options{Mem: mem})
	defer want.Release()

	shuffled, perm := shuffleKeepingTies(rows, 3)
	variants := []struct {
		name  string
		rows  []trade
		perm  []int // output row i corresponds to input row perm[i]
		batch int
		opts  Options
	}{
		{name: "no CSE", rows: rows, batch: 1 << 20, opts: Options{NoCSE: true}},
		{name: "chunk 1", rows: rows, batch: 1 << 20, opts: Options{ChunkRows: 1}},
		{name: "chunk 7", rows: rows, batch: 1 << 20, opts: Options{ChunkRows: 7}},
		{name: "one worker", rows: rows, batch: 1 << 20, opts: Options{Parallelism: 1}},
		{name: "record batches of 333", rows: rows, batch: 333},
		{name: "shuffled", rows: shuffled, perm: perm, batch: 1 << 20, opts: Options{ChunkRows: 64}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			tbl := tradeTable(t, mem, v.rows, v.batch)
			defer tbl.Release()
			v.opts.Mem = mem
			got := compute(t, tbl, allBuiltins, v.opts)
			defer got.Release()
			for _, s := range allBuiltins {
				w, g := column(t, want, s.Name), column(t, got, s.Name)
				for i := range g {
					j := i
					if v.perm != nil {
						j = v.perm[i]
					}
					if g[i] != w[j] {
						t.Fatalf("%s row %d: got %v, want %v", s.Name, i, math.Float64frombits(g[i]), math.Float64frombits(w[j]))
					}
				}
			}
		})
	}
}

// shuffleKeepingTies permutes rows randomly except that rows of one symbol
// with the same time keep their relative order (the engine's tie rule).
func shuffleKeepingTies(rows []trade, seed uint64) ([]trade, []int) {
	r := rand.New(rand.NewPCG(seed, 1))
	perm := r.Perm(len(rows)) // new position i holds old row perm[i]
	type key struct {
		s string
		t int64
	}
	slots := map[key][]int{}
	for i, old := range perm {
		k := key{rows[old].symbol, rows[old].t}
		slots[k] = append(slots[k], i)
	}
	for _, pos := range slots {
		olds := make([]int, len(pos))
		for j, p := range pos {
			olds[j] = perm[p]
		}
		slices.Sort(olds)
		for j, p := range pos {
			perm[p] = olds[j]
		}
	}
	out := make([]trade, len(rows))
	for i, old := range perm {
		out[i] = rows[old]
	}
	return out, perm
}

func TestOneBadFeatureNeverFailsOthers(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	tbl := tradeTable(t, mem, genTrades(4, 200), 1<<20)
	defer tbl.Release()
	specs := []ir.Spec{
		{Name: "good", Formula: "rolling_mean(close, 3)"},
		{Name: "parse", Formula: "log(close"},
		{Name: "unknown", Formula: "log(nope)"},
		{Name: "text", Formula: "symbol * 2"},
		{Name: "arity", Formula: "rolling_mean(close)"},
		{Name: "also_good", Formula: "good * 2"},
	}
	res, err := ComputeFeatures(context.Background(), specs, []Frame{{Name: "t", Table: tbl}}, Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	want := map[string]string{
		"good": StatusSuccess, "parse": StatusError, "unknown": StatusError,
		"text": StatusError, "arity": StatusError, "also_good": StatusSuccess,
	}
	for _, s := range res.Statuses {
		if s.Status != want[s.Name] {
			t.Errorf("%s: status %s (%s), want %s", s.Name, s.Status, s.Error, want[s.Name])
		}
		if s.Status == StatusError && !strings.HasPrefix(s.Error, s.Name+": ") {
			t.Errorf("%s: error %q does not name the feature", s.Name, s.Error)
		}
	}
	if got := res.Table.NumCols(); got != 4 {
		t.Errorf("columns = %d, want time, symbol and 2 features", got)
	}
}

func TestNoValidFeatureIsAnError(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	tbl := tradeTable(t, mem, genTrades(5, 10), 1<<20)
	defer tbl.Release()
	_, err := ComputeFeatures(context.Background(), []ir.Spec{{Name: "x", Formula: "log("}}, []Frame{{Name: "t", Table: tbl}}, Options{Mem: mem})
	var nf *NoFeaturesError
	if err == nil || !errorsAs(err, &nf) || len(nf.Statuses) != 1 {
		t.Fatalf("err = %v, want NoFeaturesError", err)
	}
	_, err = ComputeFeatures(context.Background(), []ir.Spec{{Name: "x", Formula: "close"}}, []Frame{{Name: "t", Table: tbl}}, Options{Mem: mem, TimeColumn: "ts"})
	if err == nil || !strings.Contains(err.Error(), `"ts"`) {
		t.Fatalf("err = %v, want a missing time column error", err)
	}
}
