package labels

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"fixed_horizon", "fixed_horizon:h=1:threshold=0"},
		{"fixed_horizon:threshold=1e-3:h=10", "fixed_horizon:h=10:threshold=0.001"},
		{"triple_barrier:horizon=90m", "triple_barrier:pt=1:sl=1:vol=100:horizon=1h30m"},
		{"meta:pt=2:sl=0", "meta:pt=2:sl=0:vol=100:horizon=1h"},
		{"trend_scan:window=50", "trend_scan:window=50:min=5:step=1"},
		{"excess_median:bucket=5m", "excess_median:bucket=5m:h=1"},
		{"tail_sets:q=0.5:bucket=1h:h=3", "tail_sets:bucket=1h:h=3:q=0.5"},
	} {
		s, err := ParseSpec(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if s.String() != c.want {
			t.Errorf("%s: %s, want %s", c.in, s, c.want)
		}
		again, err := ParseSpec(s.String())
		if err != nil || again.String() != s.String() {
			t.Errorf("%s: round trip %v %v", s, again, err)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"fixed", `unknown method "fixed" (known: fixed_horizon, triple_barrier, meta, trend_scan, excess_median, tail_sets)`},
		{"fixed_horizon:h=0", "h=0: want >= 1"},
		{"fixed_horizon:h=1:h=2", "parameter h given twice"},
		{"fixed_horizon:pt=1", `fixed_horizon has no parameter "pt" (parameters: h, threshold)`},
		{"fixed_horizon:h", `parameter "h" is not key=value`},
		{"triple_barrier:horizon=0s", "must be positive"},
		{"triple_barrier:vol=1", "vol=1: want >= 2"},
		{"trend_scan:window=5:min=5", "want min < window=5"},
		{"tail_sets:q=0.7", "q=0.7: want 0 < q <= 0.5"},
		{"excess_median:bucket=7m", "divides a day"},
		{"fixed_horizon:h=1000000", "want <= 100000"},
		{"fixed_horizon:threshold=nan", "not a finite number"},
	} {
		_, err := ParseSpec(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.in, err, c.want)
		}
	}
	if _, err := ParseSpecs("fixed_horizon,fixed_horizon:h=1"); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate: %v", err)
	}
}

// TestApplyCross against a brute-force loop: for every symbol and bucket
// with an event, the last event of the bucket, the return to the last
// event h buckets later, and the median / tail ranks over all symbols
// with a return at that bucket.
func TestApplyCross(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	const bucket = int64(60_000_000)
	var evs []Events
	for s := range 5 {
		var ev Events
		now := int64(1_700_000_000_000_000) + int64(s)*7_000_000
		p := 100.0 * float64(s+1)
		for range 400 {
			if rng.IntN(5) > 0 {
				now += rng.Int64N(50_000_000) // ties and empty buckets
			}
			p *= 1 + rng.NormFloat64()*1e-3
			ev.Time, ev.Price = append(ev.Time, now), append(ev.Price, p)
		}
		evs = append(evs, ev)
	}
	for _, spec := range []string{"excess_median:bucket=1m:h=2", "tail_sets:bucket=1m:h=1:q=0.2"} {
		s, err := ParseSpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.ApplyCross(evs)
		if err != nil {
			t.Fatal(err)
		}
		h := int64(s.Int("h"))
		// brute force: bucket -> last row, per symbol
		last := make([]map[int64]int, len(evs))
		for si, ev := range evs {
			last[si] = map[int64]int{}
			for i, tm := range ev.Time {
				last[si][tm/bucket] = i // times are positive: floor
			}
		}
		ret := func(si int, k int64) float64 {
			a, ok1 := last[si][k]
			b, ok2 := last[si][k+h]
			if !ok1 || !ok2 {
				return math.NaN()
			}
			return evs[si].Price[b]/evs[si].Price[a] - 1
		}
		labelled := 0
		for si := range evs {
			if len(got[si]) != len(last[si]) {
				t.Fatalf("%s symbol %d: %d outcomes, %d buckets", s, si, len(got[si]), len(last[si]))
			}
			for _, o := range got[si] {
				k := evs[si].Time[o.Row] / bucket
				if last[si][k] != o.Row {
					t.Fatalf("%s symbol %d: row %d is not the last of its bucket", s, si, o.Row)
				}
				r := ret(si, k)
				var others []float64
				for sj := range evs {
					if v := ret(sj, k); !math.IsNaN(v) {
						others = append(others, v)
					}
				}
				want := math.NaN()
				if !math.IsNaN(r) && len(others) >= 2 {
					if s.Method == "excess_median" {
						// median by counting: the value(s) with as many below as above
						var med []float64
						for _, x := range others {
							lo, hi := 0, 0
							for _, y := range others {
								if y < x {
									lo++
								} else if y > x {
									hi++
								}
							}
							if lo <= len(others)/2 && hi <= len(others)/2 {
								med = append(med, x)
							}
						}
						m := med[0]
						if len(others)%2 == 0 { // mean of the two middle values
							mn, mx := math.Inf(1), math.Inf(-1)
							for _, x := range med {
								mn, mx = math.Min(mn, x), math.Max(mx, x)
							}
							m = (mn + mx) / 2
						}
						want = r - m
					} else {
						n := len(others)
						k := min(int(math.Ceil(s.Params["q"]*float64(n)-1e-9)), n/2)
						below, above := 0, 0
						for _, y := range others {
							if y < r {
								below++
							} else if y > r {
								above++
							}
						}
						want = 0
						if below < k {
							want = -1
						} else if above < k {
							want = 1
						}
					}
				}
				have := o.Label
				if s.Method == "excess_median" && !math.IsNaN(o.Label) {
					have = o.Ret
				}
				if !near(have, want, 1e-15) {
					t.Fatalf("%s symbol %d bucket %d: %v, brute force %v (returns %v)", s, si, k, have, want, others)
				}
				if !math.IsNaN(want) {
					labelled++
				}
			}
		}
		if labelled < 500 {
			t.Errorf("%s: only %d labelled", s, labelled)
		}
	}
}
