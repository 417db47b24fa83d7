package labels

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/bars"
	"github.com/featuredag/fdag/internal/mlfinpy"
)

// agreeWithMlfinpy compares FixedHorizon (h=1) and TrendScan with
// mlfinpy's fixed_time_horizon(lag=True) and trend_scanning_labels.
func agreeWithMlfinpy(t *testing.T, what string, tm []int64, p []float64, window, minLen, step int, thr float64) {
	py := mlfinpy.Python(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "prices.csv")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "time,close")
	for i := range p {
		fmt.Fprintf(w, "%d,%s\n", tm[i], strconv.FormatFloat(p[i], 'g', -1, 64))
	}
	w.Flush()
	f.Close()
	cmd := exec.Command(py, "../tests/mlfinpy/labels.py", in, dir, strconv.Itoa(window), strconv.Itoa(minLen), strconv.Itoa(step), strconv.FormatFloat(thr, 'g', -1, 64))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mlfinpy: %v\n%s", err, out)
	}
	read := func(name string) [][]float64 {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var out [][]float64
		for _, r := range rows[1:] {
			var v []float64
			for _, s := range r {
				x := math.NaN()
				if s != "" {
					x, _ = strconv.ParseFloat(s, 64)
				}
				v = append(v, x)
			}
			out = append(out, v)
		}
		return out
	}
	_, lab, _ := FixedHorizon(p, 1, thr)
	fixed := read("fixed.csv")
	for i := range p {
		if !same(lab[i], fixed[i][0]) {
			t.Fatalf("%s fixed horizon row %d: %v, mlfinpy %v", what, i, lab[i], fixed[i][0])
		}
	}
	got, err := TrendScan(tm, p, window, minLen, step)
	if err != nil {
		t.Fatal(err)
	}
	trend := read("trend.csv")
	ties, n := 0, 0
	for i, g := range got {
		m := trend[i]
		if math.IsNaN(g.TValue) {
			if m[0] != -1 {
				t.Fatalf("%s trend row %d: none, mlfinpy %v", what, i, m)
			}
			continue
		}
		n++
		if math.IsInf(g.TValue, 0) && g.T1 == int64(m[0]) && math.Abs(m[1]) > 1e8 && g.Label == m[3] {
			continue // a perfect fit: t is infinite, mlfinpy's rounding leaves it finite but huge
		}
		if g.T1 != int64(m[0]) && near(math.Abs(g.TValue), math.Abs(m[1]), 1e-6) {
			ties++
			continue
		}
		// mlfinpy inverts X'X of uncentred x and prices: its t-values
		// carry that rounding, hence the tolerance.
		if g.T1 != int64(m[0]) || !near(g.TValue, m[1], 1e-6) || !near(g.Ret, m[2], 1e-12) || g.Label != m[3] {
			t.Fatalf("%s trend row %d: %+v, mlfinpy t1=%d t=%v ret=%v bin=%v", what, i, g, int64(m[0]), m[1], m[2], m[3])
		}
	}
	if ties > n/20 {
		t.Errorf("%s: %d of %d trend labels differ on near-ties", what, ties, n)
	}
	t.Logf("%s: %d prices, %d trend labels compared (%d near-ties), fixed horizon equal", what, len(p), n, ties)
}

func TestMlfinpySyntheticLabels(t *testing.T) {
	tm, p := walk(7, 600, 1e5)
	for i := range tm {
		tm[i] += int64(i) // mlfinpy needs distinct times (a unique index)
	}
	agreeWithMlfinpy(t, "synthetic", tm, p, 20, 5, 1, 5e-4)
}

// TestMlfinpyRealLabels labels the 1-minute bars of the real LTCUSDT
// trades (bars from the bars package).
func TestMlfinpyRealLabels(t *testing.T) {
	path := "/work/shared/data/real/binance_spot_ltcusdt_aggtrades_ws/LTCUSDT_2025-06-22_06h_trades.csv"
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("real trades not here: %v", err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var tr bars.Trades
	for _, r := range rows[1:] {
		ms, _ := strconv.ParseInt(r[0], 10, 64)
		px, _ := strconv.ParseFloat(r[1], 64)
		q, _ := strconv.ParseFloat(r[2], 64)
		tr.Time, tr.Price, tr.Size, tr.Side = append(tr.Time, ms*1000), append(tr.Price, px), append(tr.Size, q), append(tr.Side, 0)
	}
	specs, _ := bars.ParseSpecs("time:1m")
	e, err := bars.New(memory.DefaultAllocator, "LTCUSDT", specs, bars.Columns{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.PushTrades(tr); err != nil {
		t.Fatal(err)
	}
	e.Finish(time.UnixMicro(tr.Time[len(tr.Time)-1] + 1))
	rec := e.Take(0)
	defer rec.Release()
	ends := rec.Column(2).(*array.Timestamp)
	closes := rec.Column(6).(*array.Float64)
	var tm []int64
	var p []float64
	for i := range int(rec.NumRows()) {
		tm, p = append(tm, int64(ends.Value(i))), append(p, closes.Value(i))
	}
	agreeWithMlfinpy(t, "LTCUSDT 1m bars", tm, p, 15, 4, 1, 2e-4)
}
