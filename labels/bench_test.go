package labels

import "testing"

// BenchmarkLabels times each method over 1M prices (rows/s); the cross
// sectional ones over 10 symbols x 100k keys.
func BenchmarkLabels(b *testing.B) {
	const n = 1_000_000
	tm, p := walk(11, n, 1e5)
	vol, _ := RollingVol(p, 100)
	side := make([]float64, n)
	for i := range side {
		side[i] = float64(1 - 2*(i/7%2))
	}
	rows := func(b *testing.B, k int) {
		b.ReportMetric(float64(k)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	}
	b.Run("fixed_horizon", func(b *testing.B) {
		for range b.N {
			FixedHorizon(p, 10, 1e-3)
		}
		rows(b, n)
	})
	b.Run("rolling_vol", func(b *testing.B) {
		for range b.N {
			RollingVol(p, 100)
		}
		rows(b, n)
	})
	barriers := Barriers{PT: 2, SL: 2, Horizon: 300_000_000} // about 100 rows ahead
	b.Run("triple_barrier", func(b *testing.B) {
		for range b.N {
			TripleBarrier(tm, p, vol, nil, barriers)
		}
		rows(b, n)
	})
	b.Run("meta", func(b *testing.B) {
		for range b.N {
			Meta(tm, p, vol, side, barriers)
		}
		rows(b, n)
	})
	b.Run("trend_scan_w50", func(b *testing.B) {
		for range b.N {
			TrendScan(tm, p, 50, 5, 1)
		}
		rows(b, n)
	})
	cs := crossSampleN(10, 100_000)
	b.Run("excess_over_median", func(b *testing.B) {
		for range b.N {
			ExcessOverMedian(cs)
		}
		rows(b, 10*100_000)
	})
	b.Run("tail_sets", func(b *testing.B) {
		for range b.N {
			TailSets(cs, 0.2)
		}
		rows(b, 10*100_000)
	})
}

func crossSampleN(syms, keys int) []CrossSection {
	out := make([]CrossSection, syms)
	for s := range out {
		_, p := walk(uint64(s), keys+1, 100)
		for k := range keys {
			out[s].Key = append(out[s].Key, int64(k)*60_000_000)
			out[s].Ret = append(out[s].Ret, p[k+1]/p[k]-1)
		}
	}
	return out
}
