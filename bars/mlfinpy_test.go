package bars

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/catalog/feed"
	"github.com/featuredag/fdag/internal/mlfinpy"
)

// The real Binance trades of ../shared/data/real (SOURCES.md there).
const realDir = "/work/shared/data/real"

// mlfinpyKind is the mlfinpy call that computes spec's bars. Our
// information-driven bars must sign by the tick rule to compare.
func mlfinpyKind(s Spec) (string, map[string]any) {
	info := s.Kind.info()
	switch info.family {
	case familyTime:
		return "get_time_bars", map[string]any{"resolution": "S", "num_units": s.Duration / 1e9}
	case familyStandard:
		return "get_" + s.Kind.String() + "_bars", map[string]any{"threshold": s.Threshold}
	}
	args := map[string]any{"num_prev_bars": s.PrevBars, "expected_imbalance_window": s.Window, "exp_num_ticks_init": s.ExpTicksInit}
	if s.MinExpTicks > 0 || s.MaxExpTicks > 0 {
		hi := s.MaxExpTicks
		if hi == 0 {
			hi = 1e300
		}
		args["exp_num_ticks_constraints"] = []float64{s.MinExpTicks, hi}
	}
	return "get_ema_" + s.Kind.String() + "_bars", args
}

type mlBar struct {
	end                    int64
	open, high, low, close float64
	volume, dollar         float64
	n                      int64
}

// runMlfinpy computes specs' bars with mlfinpy over each day's trades
// (one process): [day][spec] bars.
func runMlfinpy(t *testing.T, py string, specs []Spec, days []Trades) [][][]mlBar {
	t.Helper()
	dir := t.TempDir()
	var jobDays []map[string]string
	for n, tr := range days {
		out := filepath.Join(dir, strconv.Itoa(n))
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		in := filepath.Join(out, "trades.csv")
		writeTradesCSV(t, in, tr)
		jobDays = append(jobDays, map[string]string{"trades": in, "out": out})
	}
	var kinds []map[string]any
	for _, s := range specs {
		fn, args := mlfinpyKind(s)
		kinds = append(kinds, map[string]any{"name": s.Name(), "fn": fn, "args": args})
	}
	job, _ := json.Marshal(map[string]any{"days": jobDays, "kinds": kinds})
	jobPath := filepath.Join(dir, "job.json")
	if err := os.WriteFile(jobPath, job, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "../tests/mlfinpy/bars.py", jobPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mlfinpy: %v\n%s", err, out)
	}
	res := make([][][]mlBar, len(days))
	for n := range days {
		res[n] = make([][]mlBar, len(specs))
		for i, s := range specs {
			for _, r := range readCSVRows(t, filepath.Join(jobDays[n]["out"], s.Name()+".csv")) {
				num := func(j int) float64 {
					v, err := strconv.ParseFloat(r[j], 64)
					if err != nil {
						t.Fatalf("%s: %v", s.Name(), err)
					}
					return v
				}
				res[n][i] = append(res[n][i], mlBar{end: int64(num(0)), open: num(2), high: num(3), low: num(4), close: num(5),
					volume: num(6), n: int64(num(8)), dollar: num(9)})
			}
		}
	}
	return res
}

func writeTradesCSV(t *testing.T, path string, tr Trades) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "date_time,price,volume")
	for i := range tr.Time {
		fmt.Fprintf(w, "%d,%s,%s\n", tr.Time[i], strconv.FormatFloat(tr.Price[i], 'g', -1, 64), strconv.FormatFloat(tr.Size[i], 'g', -1, 64))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// readCSVRows reads a headed CSV file's rows, header dropped.
func readCSVRows(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows[1:]
}

// compareMlfinpy checks our bars of one day against mlfinpy's: mlfinpy
// drops the unfinished last bar, which we emit (complete=false, or for a
// time bar the day's last interval); buy volume is not compared, since
// mlfinpy classifies it by the tick rule and we by the taker side.
func compareMlfinpy(t *testing.T, what string, s Spec, ours []refBar, theirs []mlBar) {
	t.Helper()
	if len(ours) > 0 && (s.Kind == Time || !ours[len(ours)-1].complete) {
		ours = ours[:len(ours)-1]
	}
	if len(ours) != len(theirs) {
		t.Errorf("%s %s: %d bars, mlfinpy %d", what, s.Name(), len(ours), len(theirs))
	}
	close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	for i := range min(len(ours), len(theirs)) {
		o, m := ours[i], theirs[i]
		end := o.end
		if s.Kind == Time {
			end = (floorDiv(o.end, s.Duration/1000) + 1) * (s.Duration / 1000)
		}
		if end != m.end || o.n != m.n || o.open != m.open || o.high != m.high || o.low != m.low || o.close != m.close ||
			!close(o.volume, m.volume) || !close(o.dollar, m.dollar) {
			t.Errorf("%s %s: bar %d:\n ours    %+v\n mlfinpy %+v", what, s.Name(), i, o, m)
			return
		}
	}
}

func byDay(tr Trades) []Trades {
	var out []Trades
	for lo := 0; lo < len(tr.Time); {
		d := floorDiv(tr.Time[lo], day)
		hi := lo
		for hi < len(tr.Time) && floorDiv(tr.Time[hi], day) == d {
			hi++
		}
		out = append(out, slice(tr, lo, hi))
		lo = hi
	}
	return out
}

func agreeWithMlfinpy(t *testing.T, what string, tr Trades, kinds string) {
	py := mlfinpy.Python(t)
	specs, err := ParseSpecs(kinds)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	days := byDay(tr)
	theirs := runMlfinpy(t, py, specs, days)
	for n, d := range days {
		dayEnd := (floorDiv(d.Time[0], day) + 1) * day
		ours := run(t, memory.DefaultAllocator, specs, d, 4096, 1, dayEnd)
		for i, s := range specs {
			compareMlfinpy(t, fmt.Sprintf("%s %s", what, time.UnixMicro(d.Time[0]).UTC().Format("2006-01-02")), s, ours[i], theirs[n][i])
			total += len(theirs[n][i])
		}
	}
	t.Logf("%s: %d trades, %d mlfinpy bars compared over %d kinds (%d days)", what, len(tr.Time), total, len(specs), len(days))
}

// Information-driven bars collapse to a trade or two when E[T] may shrink
// freely (AFML's known degeneracy); the real-data kinds bound it below
// (min=) to keep bars of a useful size, the synthetic run leaves one kind
// unbounded.
const mlfinpyKinds = "time:1m,time:15s,tick:500,volume:1000,dollar:80000," +
	"tick_imbalance:100:window=1000:min=50:sign=tick,volume_imbalance:100:window=1000:prev=5:min=50:sign=tick," +
	"dollar_imbalance:200:window=2000:min=100:max=2000:sign=tick," +
	"tick_run:100:window=1000:min=50:sign=tick,volume_run:100:window=1000:min=50:sign=tick,dollar_run:50:prev=4:window=500:min=25:sign=tick"

func TestMlfinpySynthetic(t *testing.T) {
	agreeWithMlfinpy(t, "synthetic", synthTrades(3, 16_000, 2, -1),
		"time:1m,tick:50,volume:40,dollar:4e6,tick_imbalance:20:window=200:min=10:sign=tick,volume_imbalance:20:window=200:prev=5:sign=tick,"+
			"dollar_imbalance:30:window=500:min=15:max=400:sign=tick,tick_run:20:window=300:min=10:sign=tick,volume_run:15:window=300:min=8:sign=tick,"+
			"dollar_run:25:window=400:prev=2:min=12:max=500:sign=tick")
}

// TestMlfinpyRealLTCUSDT also checks the counts DEPENDENCIES.md records for
// the 06h file: tick 500 / volume 1000 / dollar 80000 give 52 / 95 / 95
// bars.
func TestMlfinpyRealLTCUSDT(t *testing.T) {
	py := mlfinpy.Python(t)
	var all Trades
	for _, h := range []string{"03h", "06h", "09h"} {
		tr := readCSVTrades(t, filepath.Join(realDir, "binance_spot_ltcusdt_aggtrades_ws", "LTCUSDT_2025-06-22_"+h+"_trades.csv"),
			"timestamp", 1000, "price", "quantity", "side")
		if h == "06h" {
			specs, _ := ParseSpecs("tick:500,volume:1000,dollar:80000")
			got := runMlfinpy(t, py, specs, []Trades{tr})[0]
			for i, want := range []int{52, 95, 95} {
				if len(got[i]) != want {
					t.Errorf("mlfinpy %s on the 06h file: %d bars, DEPENDENCIES.md says %d", specs[i].Name(), len(got[i]), want)
				}
			}
		}
		all.Time, all.Price = append(all.Time, tr.Time...), append(all.Price, tr.Price...)
		all.Size, all.Side = append(all.Size, tr.Size...), append(all.Side, tr.Side...)
	}
	agreeWithMlfinpy(t, "LTCUSDT", all, mlfinpyKinds)
}

func TestMlfinpyRealBTCUSDTFutures(t *testing.T) {
	tr := readCSVTrades(t, filepath.Join(realDir, "binance_futures_btcusdt_tardis", "tardis_trades.csv"), "timestamp", 1, "price", "amount", "side")
	agreeWithMlfinpy(t, "BTCUSDT", tr, "time:1m,time:5s,tick:200,volume:20,dollar:5e5,"+
		"tick_imbalance:50:window=500:min=25:sign=tick,volume_imbalance:50:window=500:min=25:sign=tick,dollar_imbalance:50:window=500:min=25:sign=tick,"+
		"tick_run:50:window=500:min=25:sign=tick,volume_run:50:window=500:min=25:sign=tick,dollar_run:50:window=500:min=25:sign=tick")
}

// TestMlfinpyRealXRPETH reads the aggTrades dump through catalog/feed, so
// the Arrow path (ms timestamps become microseconds) and three UTC days are
// covered.
func TestMlfinpyRealXRPETH(t *testing.T) {
	path := filepath.Join(realDir, "binance_spot_xrpeth_aggtrades", "XRPETH-aggTrades-2019-10-11_to_2019-10-13.derived.csv")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("real trades not here: %v", err)
	}
	specs, _ := ParseSpecs("tick:1") // only to decode: the engine's decode path
	e, _ := New(memory.DefaultAllocator, "XRPETH", specs, Columns{})
	var all Trades
	for rec, err := range feed.ReadBinance(context.Background(), path, "XRPETH", memory.DefaultAllocator, 4096) {
		if err != nil {
			t.Fatal(err)
		}
		tr, err := e.decode(rec)
		if err != nil {
			t.Fatal(err)
		}
		all.Time, all.Price = append(all.Time, tr.Time...), append(all.Price, tr.Price...)
		all.Size, all.Side = append(all.Size, tr.Size...), append(all.Side, tr.Side...)
		rec.Release()
	}
	agreeWithMlfinpy(t, "XRPETH", all, "time:1m,time:1h,tick:100,volume:5000,dollar:10,"+
		"tick_imbalance:50:window=500:min=25:sign=tick,volume_imbalance:50:window=500:min=25:sign=tick,dollar_imbalance:50:window=500:min=25:sign=tick,"+
		"tick_run:50:window=500:min=25:sign=tick,volume_run:50:window=500:min=25:sign=tick,dollar_run:50:window=500:min=25:sign=tick")
}

// readCSVTrades reads a headed CSV of trades; time is in units of unitUS
// microseconds.
func readCSVTrades(t *testing.T, path, timeCol string, unitUS int64, priceCol, sizeCol, sideCol string) Trades {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("real trades not here: %v", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	idx := map[string]int{}
	for j, h := range rows[0] {
		idx[strings.TrimSpace(h)] = j
	}
	var tr Trades
	for n, r := range rows[1:] {
		ts, err1 := strconv.ParseInt(r[idx[timeCol]], 10, 64)
		p, err2 := strconv.ParseFloat(r[idx[priceCol]], 64)
		v, err3 := strconv.ParseFloat(r[idx[sizeCol]], 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("%s:%d: %v %v %v", path, n+2, err1, err2, err3)
		}
		side := int8(-1)
		if r[idx[sideCol]] == "buy" {
			side = 1
		}
		tr.Time = append(tr.Time, ts*unitUS)
		tr.Price = append(tr.Price, p)
		tr.Size = append(tr.Size, v)
		tr.Side = append(tr.Side, side)
	}
	return tr
}
