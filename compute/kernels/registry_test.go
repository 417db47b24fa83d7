package kernels

import (
	"math"
	"testing"

	"github.com/featuredag/fdag/formula"
)

// No kernel constructor panics on user input: every registered builder,
// given parameters no checked formula holds (zero, negative, NaN, both
// window kinds, quantiles outside [0, 1], huge values), returns an error
// or a kernel that runs over a few rows with nulls, NaN and infinities.
func TestBuildersNeverPanic(t *testing.T) {
	windows := []formula.Window{{}, {Rows: -1}, {Dur: -1}, {Rows: 3, Dur: 1e9}, {Rows: 3}, {Dur: 2e9}, {Rows: math.MaxInt32}}
	halfLives := []formula.HalfLife{{}, {Rows: -1}, {Rows: math.NaN()}, {Rows: math.Inf(1)}, {Dur: -1}, {Rows: 2, Dur: 1e9}, {Rows: 2}, {Dur: 1e9}}
	var params []formula.Params
	for _, w := range windows {
		for _, m := range []int{-1, 0, 1, 5} {
			for _, q := range []float64{-0.5, 0, 0.5, 1, 2, math.NaN()} {
				params = append(params, formula.Params{Window: w, MinSamples: m, Q: q})
			}
		}
	}
	for _, h := range halfLives {
		params = append(params, formula.Params{HalfLife: h})
	}
	for _, k := range []int{-5, -1, 0, 1, 3, math.MaxInt32} {
		params = append(params, formula.Params{K: k})
	}
	col := Col{V: []float64{1, math.NaN(), 3, math.Inf(1), 5, 6}, Valid: []bool{true, true, false, true, true, true}}
	ts := []int64{0, 1e9, 1e9, 3e9, 4e9, 9e9}
	reg := Default()
	for _, name := range reg.Names() {
		build, _ := reg.Lookup(name)
		for _, p := range params {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s %+v: panics: %v", name, p, r)
					}
				}()
				f, err := build(p)
				if err != nil {
					return
				}
				in := []Col{col, col, col}
				out, valid := make([]float64, len(col.V)), make([]bool, len(col.V))
				f().Step(in, ts, out, valid)
			}()
		}
	}
}
