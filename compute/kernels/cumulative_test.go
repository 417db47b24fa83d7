package kernels

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/featuredag/fdag/fmath"
)

// cum_sum against an exact big.Float running sum (NaN/Inf by their rule),
// cum_max/min against a plain fold; every chunking.
func TestCumulativeAgainstLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, d := range genData(rng, 500) {
		for _, fn := range []CumFn{CumSum, CumMax, CumMin} {
			name := fmt.Sprintf("%s/cum%d", d.name, fn)
			out, valid := checkSplits(t, name, rng, NewCumulative(fn), []Col{d.x}, nil)
			exact := new(big.Float).SetPrec(2048)
			var acc float64
			seen, nan, pinf, ninf := false, false, false, false
			for i := range out {
				if valid[i] != d.x.Valid[i] {
					t.Fatalf("%s: row %d: valid %v", name, i, valid[i])
				}
				if !valid[i] {
					continue
				}
				v := d.x.V[i]
				want := 0.0
				switch fn {
				case CumSum:
					switch {
					case v != v:
						nan = true
					case math.IsInf(v, 1):
						pinf = true
					case math.IsInf(v, -1):
						ninf = true
					default:
						exact.Add(exact, new(big.Float).SetFloat64(v))
					}
					want, _ = exact.Float64()
					switch {
					case nan || pinf && ninf:
						want = math.NaN()
					case pinf:
						want = math.Inf(1)
					case ninf:
						want = math.Inf(-1)
					}
				case CumMax, CumMin:
					switch {
					case !seen:
						acc = v
					case fn == CumMax:
						acc = fmath.Max(acc, v)
					default:
						acc = fmath.Min(acc, v)
					}
					want = acc
				}
				seen = true
				got := out[i]
				if !(got == want || got != got && want != want || math.Abs(got-want) <= 1e-15*math.Abs(want)) {
					t.Fatalf("%s: row %d: %v, want %v", name, i, got, want)
				}
			}
		}
	}
}
