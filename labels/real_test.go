package labels

import (
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"testing"
)

// realTrades reads a real Binance trade file of ../shared/data/real
// (SOURCES.md there): times in microseconds (from ms, so many ties), price
// and side (+1 buy, -1 sell). timeCol, priceCol, sideCol are CSV columns;
// unit is microseconds per time unit.
func realTrades(t *testing.T, path string, timeCol, priceCol, sideCol int, unit int64) ([]int64, []float64, []float64) {
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
	var tm []int64
	var p, side []float64
	for _, r := range rows[1:] {
		v, _ := strconv.ParseInt(r[timeCol], 10, 64)
		px, err := strconv.ParseFloat(r[priceCol], 64)
		if err != nil {
			t.Fatalf("%s: price %q", path, r[priceCol])
		}
		s := -1.0
		if r[sideCol] == "buy" {
			s = 1
		}
		tm, p, side = append(tm, v*unit), append(p, px), append(side, s)
	}
	return tm, p, side
}

const ltcDir = "/work/shared/data/real/binance_spot_ltcusdt_aggtrades_ws/"

func realSeries(t *testing.T) map[string][3][]float64 {
	out := map[string][3][]float64{}
	add := func(name string, tm []int64, p, side []float64) {
		ft := make([]float64, len(tm))
		for i, v := range tm {
			ft[i] = float64(v)
		}
		out[name] = [3][]float64{ft, p, side}
	}
	for _, h := range []string{"03h", "06h", "09h"} {
		tm, p, side := realTrades(t, ltcDir+"LTCUSDT_2025-06-22_"+h+"_trades.csv", 0, 1, 3, 1000)
		add("LTCUSDT "+h, tm, p, side)
	}
	tm, p, side := realTrades(t, "/work/shared/data/real/binance_futures_btcusdt_tardis/tardis_trades.csv", 2, 6, 5, 1)
	add("BTCUSDT futures", tm, p, side)
	return out
}

func int64s(f []float64) []int64 {
	out := make([]int64, len(f))
	for i, v := range f {
		out[i] = int64(v)
	}
	return out
}

// TestReferencesOnRealTrades: every per-symbol method, trade by trade, on
// real Binance trades (LTCUSDT aggTrades, three hours; BTCUSDT futures, 59%
// of trades sharing a millisecond), against the plain reference loops of
// labels_test.go; the cross sections over the four series, keyed by the
// minute since each series' first trade, against the brute force (prices
// on a tick grid: many equal returns, so the tie rules matter).
func TestReferencesOnRealTrades(t *testing.T) {
	series := realSeries(t)
	var cross []CrossSection
	for _, name := range []string{"LTCUSDT 03h", "LTCUSDT 06h", "LTCUSDT 09h", "BTCUSDT futures"} {
		s := series[name]
		tm, p, side := int64s(s[0]), s[1], s[2]
		// fixed horizon
		ret, lab, _ := FixedHorizon(p, 25, 2e-4)
		for i := range p {
			want := math.NaN()
			if i+25 < len(p) {
				want = p[i+25]/p[i] - 1
			}
			if !same(ret[i], want) || math.IsNaN(want) != math.IsNaN(lab[i]) {
				t.Fatalf("%s fixed horizon row %d: %v, want %v", name, i, ret[i], want)
			}
		}
		// volatility: two-pass per window
		vol, _ := RollingVol(p, 50)
		for i := 50; i < len(p); i += 7 {
			var m, ss float64
			for j := i - 49; j <= i; j++ {
				m += p[j]/p[j-1] - 1
			}
			m /= 50
			for j := i - 49; j <= i; j++ {
				d := p[j]/p[j-1] - 1 - m
				ss += d * d
			}
			if !near(vol[i], math.Sqrt(ss/49), 1e-9) {
				t.Fatalf("%s volatility row %d: %v, two-pass %v", name, i, vol[i], math.Sqrt(ss/49))
			}
		}
		// triple barrier and meta-labels over the taker side
		hits := map[int8]int{}
		for _, b := range []Barriers{{PT: 2, SL: 1, Horizon: 60_000_000}, {PT: 1, SL: 1}} {
			got, err := TripleBarrier(tm, p, vol, nil, b)
			if err != nil {
				t.Fatal(err)
			}
			meta, err := Meta(tm, p, vol, side, b)
			if err != nil {
				t.Fatal(err)
			}
			for i := range p {
				if w := refTouch(tm, p, vol, 1, i, b); got[i] != w && !(math.IsNaN(w.Ret) && math.IsNaN(got[i].Ret)) {
					t.Fatalf("%s %+v row %d: %+v, reference %+v", name, b, i, got[i], w)
				}
				hits[got[i].Barrier]++
				wm := refTouch(tm, p, vol, side[i], i, b)
				if !math.IsNaN(wm.Label) {
					wm.Label = 0
					if wm.Ret > 0 {
						wm.Label = 1
					}
				}
				if meta[i] != wm && !(math.IsNaN(meta[i].Ret) && math.IsNaN(wm.Ret)) {
					t.Fatalf("%s meta %+v row %d: %+v, reference %+v", name, b, i, meta[i], wm)
				}
			}
		}
		if hits[1] == 0 || hits[-1] == 0 || hits[0] == 0 {
			t.Errorf("%s: barriers touched %v", name, hits)
		}
		// trend scanning (every 5th row: the reference refits each horizon)
		got, _ := TrendScan(tm, p, 30, 5, 1)
		want := refTrend(tm, p, 30, 5, 1)
		ties, flat := 0, 0
		for i := 0; i < len(p); i += 5 {
			g, w := got[i], want[i]
			// A straight run of prices (equal steps on the tick grid)
			// fits almost perfectly: t is the slope over a rounding
			// residue, huge or inf in both, its digits noise, and
			// several horizons may fit perfectly (a tie).
			huge := math.Abs(g.TValue) > 1e6 && math.Abs(w.TValue) > 1e6
			if math.IsNaN(g.TValue) && w.TValue == 0 {
				// A window of one price: no slope. The two-pass fit
				// leaves a rounding residue (t = 0/tiny = 0); fdag's
				// centred sums are exactly 0/0: no label.
				flat++
				continue
			}
			if g.T1 != w.T1 && (huge || near(math.Abs(g.TValue), math.Abs(w.TValue), 1e-9)) {
				ties++
				continue
			}
			if g.T1 != w.T1 || !(near(g.TValue, w.TValue, 1e-6) || huge) || !same(g.Label, w.Label) {
				t.Fatalf("%s trend row %d: %+v, reference %+v", name, i, g, w)
			}
		}
		if ties > len(p)/50 {
			t.Errorf("%s: %d near-ties in trend scanning", name, ties)
		}
		t.Logf("%s: %d trades; trend scanning: %d ties between perfect fits, %d flat windows", name, len(p), ties, flat)
		// one-minute returns keyed by the minute since the first trade
		var cs CrossSection
		for i := 0; i < len(p); {
			k := (tm[i] - tm[0]) / 60_000_000
			j := i
			for j+1 < len(p) && (tm[j+1]-tm[0])/60_000_000 == k {
				j++
			}
			r := math.NaN()
			if j+1 < len(p) {
				r = p[j+1]/p[j] - 1
			}
			cs.Key, cs.Ret = append(cs.Key, k), append(cs.Ret, math.Round(r*1e4)/1e4) // rounded: ties across symbols
			i = j + 1
		}
		cross = append(cross, cs)
	}
	checkCrossSections(t, "real trades", cross, 0.25)
}
