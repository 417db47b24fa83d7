package labels

import (
	"fmt"
	"math"
)

// Events is one symbol's events in time order: trades or bars.
type Events struct {
	Time  []int64   // microseconds since the epoch, UTC
	Price []float64 // the trade's price or the bar's close
	// Side is the bet of each event for meta-labels: +1 long, -1 short,
	// NaN or 0 no bet (no label). Other methods ignore it.
	Side []float64
}

// Outcome is the label of one event (Row indexes Events). Label NaN means
// none could be decided (no future, no volatility yet, no side): T1 and Ret
// are then meaningless. TValue is NaN except for trend_scan; Barrier is set
// for triple_barrier and meta only (HasBarrier).
type Outcome struct {
	Row        int
	T1         int64
	Ret        float64
	Label      float64
	TValue     float64
	Barrier    int8
	HasBarrier bool
}

// Apply labels every event of one symbol with a per-symbol method.
func (s Spec) Apply(ev Events) ([]Outcome, error) {
	n := len(ev.Price)
	if len(ev.Time) != n {
		return nil, fmt.Errorf("%s: columns of different lengths (time %d, price %d)", s, len(ev.Time), n)
	}
	out := make([]Outcome, n)
	for i := range out {
		out[i] = Outcome{Row: i, T1: ev.Time[i], Ret: math.NaN(), Label: math.NaN(), TValue: math.NaN()}
	}
	switch s.Method {
	case "fixed_horizon":
		h := s.Int("h")
		ret, lab, err := FixedHorizon(ev.Price, h, s.Params["threshold"])
		if err != nil {
			return nil, err
		}
		for i := range out {
			if !math.IsNaN(lab[i]) {
				out[i].T1, out[i].Ret, out[i].Label = ev.Time[i+h], ret[i], lab[i]
			}
		}
	case "triple_barrier", "meta":
		vol, err := RollingVol(ev.Price, s.Int("vol"))
		if err != nil {
			return nil, err
		}
		b := Barriers{PT: s.Params["pt"], SL: s.Params["sl"], Horizon: int64(s.Duration("horizon").Microseconds())}
		var touches []Touch
		if s.Method == "meta" {
			if len(ev.Side) != n {
				return nil, fmt.Errorf("%s: meta-labels need a side for every event (%d sides, %d events)", s, len(ev.Side), n)
			}
			side := make([]float64, n)
			for i, v := range ev.Side {
				side[i] = math.NaN()
				if v > 0 {
					side[i] = 1
				} else if v < 0 {
					side[i] = -1
				}
			}
			touches, err = Meta(ev.Time, ev.Price, vol, side, b)
		} else {
			touches, err = TripleBarrier(ev.Time, ev.Price, vol, nil, b)
		}
		if err != nil {
			return nil, err
		}
		for i, t := range touches {
			out[i].HasBarrier = true
			if !math.IsNaN(t.Label) {
				out[i].T1, out[i].Ret, out[i].Label, out[i].Barrier = t.T1, t.Ret, t.Label, t.Barrier
			}
		}
	case "trend_scan":
		trends, err := TrendScan(ev.Time, ev.Price, s.Int("window"), s.Int("min"), s.Int("step"))
		if err != nil {
			return nil, err
		}
		for i, t := range trends {
			if !math.IsNaN(t.Label) {
				out[i].T1, out[i].Ret, out[i].Label, out[i].TValue = t.T1, t.Ret, t.Label, t.TValue
			}
		}
	default:
		return nil, fmt.Errorf("%s labels a cross section of symbols: use ApplyCross", s.Method)
	}
	return out, nil
}

// ApplyCross labels the cross section of several symbols' events with
// excess_median or tail_sets. The events of a symbol are the last of each
// bucket [k*bucket, (k+1)*bucket) UTC; an event's return is to the last
// event of bucket k+h of the same symbol (none when that bucket has no
// event), and the cross section at k holds every symbol with a return
// there. Only those last events get an outcome (Row is their index).
func (s Spec) ApplyCross(evs []Events) ([][]Outcome, error) {
	if !s.Cross() {
		return nil, fmt.Errorf("%s labels one symbol at a time: use Apply", s.Method)
	}
	bucket := s.Duration("bucket").Microseconds()
	h := int64(s.Int("h"))
	cs := make([]CrossSection, len(evs))
	rows := make([][]int, len(evs))
	t1s := make([][]int64, len(evs))
	for si, ev := range evs {
		if len(ev.Time) != len(ev.Price) {
			return nil, fmt.Errorf("%s: symbol %d: columns of different lengths (time %d, price %d)", s, si, len(ev.Time), len(ev.Price))
		}
		// The last event of each bucket, in time order.
		var keys []int64
		var last []int
		for i, t := range ev.Time {
			k := floorDiv(t, bucket)
			if len(keys) > 0 && keys[len(keys)-1] == k {
				last[len(last)-1] = i
				continue
			}
			keys, last = append(keys, k), append(last, i)
		}
		ret := make([]float64, len(keys))
		t1 := make([]int64, len(keys))
		j := 0
		for b, k := range keys {
			ret[b] = math.NaN()
			for j < len(keys) && keys[j] < k+h {
				j++
			}
			if j < len(keys) && keys[j] == k+h {
				ret[b] = ev.Price[last[j]]/ev.Price[last[b]] - 1
				t1[b] = ev.Time[last[j]]
			}
		}
		cs[si], rows[si], t1s[si] = CrossSection{Key: keys, Ret: ret}, last, t1
	}
	var lab [][]float64
	if s.Method == "excess_median" {
		lab = ExcessOverMedian(cs)
	} else {
		var err error
		if lab, err = TailSets(cs, s.Params["q"]); err != nil {
			return nil, err
		}
	}
	out := make([][]Outcome, len(evs))
	for si := range evs {
		out[si] = make([]Outcome, len(rows[si]))
		for b, row := range rows[si] {
			o := Outcome{Row: row, T1: evs[si].Time[row], Ret: math.NaN(), Label: math.NaN(), TValue: math.NaN()}
			if v := lab[si][b]; !math.IsNaN(v) {
				o.T1 = t1s[si][b]
				if s.Method == "excess_median" {
					o.Ret, o.Label = v, sign3(v, 0)
				} else {
					o.Ret, o.Label = cs[si].Ret[b], v
				}
			}
			out[si][b] = o
		}
	}
	return out, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
