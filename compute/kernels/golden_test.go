package kernels

import (
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// TestPolarsGolden compares against outputs recorded from Polars
// (testdata/gen_polars_golden.py; the file names the Polars version). ewm must
// match bit for bit, ewm_by up to glibc exp2's rare misrounding (below); rolling aggregates must agree on validity,
// NaN/Inf, and exactly for min/max, and to 1e-9 relative otherwise (Polars'
// own sums drift in the last digits; fdag's are checked against exact
// references in rolling_test.go). Elementwise log/exp/pow are reported, not
// failed, when they differ from glibc by an ulp.
func TestPolarsGolden(t *testing.T) {
	f, err := os.Open("testdata/polars_golden.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Polars string
		Inputs map[string]struct {
			X, Y []*string
			T    []int64
		}
		Cases []struct {
			Name, Input, Op string
			Params          struct {
				H          float64
				Rows       int
				MinSamples int `json:"min_samples"`
				Dur        int64
			}
			Want []*string
		}
	}
	if err := json.NewDecoder(zr).Decode(&g); err != nil {
		t.Fatal(err)
	}
	dec := func(ss []*string) Col {
		c := Col{V: make([]float64, len(ss)), Valid: make([]bool, len(ss))}
		for i, s := range ss {
			if s == nil {
				continue
			}
			b, err := hex.DecodeString(*s)
			if err != nil || len(b) != 8 {
				t.Fatalf("bad hex %q", *s)
			}
			var u uint64
			for _, x := range b {
				u = u<<8 | uint64(x)
			}
			c.V[i], c.Valid[i] = math.Float64frombits(u), true
		}
		return c
	}
	rng := rand.New(rand.NewPCG(5, 6))
	aggs := map[string]Agg{"sum": AggSum, "mean": AggMean, "std": AggStd, "min": AggMin, "max": AggMax}
	ulpDiffs := map[string]int{}
	polarsAllNull := 0
	for _, c := range g.Cases {
		in := g.Inputs[c.Input]
		x, y := dec(in.X), dec(in.Y)
		want := dec(c.Want)
		p := c.Params
		var fac Factory
		var args []Col
		var ts []int64
		exact := false
		switch c.Op {
		case "ewm":
			fac, args, exact = NewEwmMean(p.H, 0), []Col{x}, true
		case "ewm_by":
			fac, args, ts = NewEwmMean(0, int64(p.H)), []Col{x}, in.T
		case "corr":
			fac, args = NewRollingCorr(p.Rows, p.Dur, p.MinSamples), []Col{x, y}
			ts = in.T
		case "log", "exp", "pow":
			var op Op
			switch c.Op {
			case "log":
				op = NewUnary(UnaryLog)
			case "exp":
				// The golden input is Polars' x / 10, which Polars computes
				// as x * (1/10); reproduce that input, not fdag's division.
				x10, _ := run(Shared(NewBinary(BinMul)), []Col{x, {V: []float64{1.0 / 10}, Scalar: true}}, nil, nil)
				x = Col{V: x10, Valid: x.Valid}
				op = NewUnary(UnaryExp)
			case "pow":
				ax, _ := run(Shared(NewUnary(UnaryAbs)), []Col{x}, nil, nil)
				x = Col{V: ax, Valid: x.Valid}
				op = NewBinary(BinPow)
			}
			fac, args = Shared(op), []Col{x, {V: []float64{1.37}, Scalar: true}}
		default:
			agg, ok := aggs[c.Op]
			if !ok {
				t.Fatalf("%s: unknown op", c.Name)
			}
			fac, args, ts = NewRolling(agg, p.Rows, p.Dur, p.MinSamples), []Col{x}, in.T
			exact = agg == AggMin || agg == AggMax
		}
		if p.Rows > 0 {
			ts = nil
		}
		out, valid := checkSplits(t, c.Name, rng, fac, args, ts)
		for i := range out {
			if !valid[i] && want.Valid[i] && p.Dur > 0 && c.Op != "corr" {
				// Polars' rolling_*_by returns a value (its sum's residue,
				// e.g. 3.6e-15) for a window holding only nulls; the contract
				// says nulls do not count, so fdag gives null. Accept only
				// that case.
				cnt := 0
				for j := windowRows(0, p.Dur, in.T, i); j <= i; j++ {
					if x.Valid[j] {
						cnt++
					}
				}
				if cnt == 0 {
					polarsAllNull++
					continue
				}
			}
			if valid[i] != want.Valid[i] {
				t.Fatalf("%s (polars %s): row %d: valid %v, polars %v", c.Name, g.Polars, i, valid[i], want.Valid[i])
			}
			if !valid[i] {
				continue
			}
			a, b := out[i], want.V[i]
			if math.Float64bits(a) == math.Float64bits(b) || (a != a && b != b) {
				continue
			}
			switch {
			case c.Op == "log" || c.Op == "exp" || c.Op == "pow" || c.Op == "ewm_by":
				// ewm_by: LLVM turns 0.5.powf(q) into glibc exp2(-q), which is
				// not always correctly rounded (0.5015 ulp at gauss/7s row
				// 379); exp2CR is. The difference then decays away.
				// Go's math.Pow is off by several ulps for large bases (see
				// the report); until pow gets a double-double log, accept
				// 1e-13 relative for it and count.
				if math.Abs(a-b) > 1e-13*math.Abs(b) || (c.Op != "pow" && math.Abs(a-b) > 2*math.Abs(math.Nextafter(b, math.Inf(1))-b)) {
					t.Fatalf("%s: row %d: %v vs polars %v: more than 2 ulps", c.Name, i, a, b)
				}
				ulpDiffs[c.Op]++
			case exact || math.IsInf(b, 0) || b != b || a != a:
				t.Fatalf("%s (polars %s): row %d: %v (%#x), polars %v (%#x)", c.Name, g.Polars, i, a, math.Float64bits(a), b, math.Float64bits(b))
			case (c.Op == "std" || c.Op == "corr") && (c.Input == "price" || c.Input == "walk"):
				// Polars' raw-moment std/corr lose digits here (3.6e-6
				// relative on 1e5 +- 1e-6 prices); fdag is checked against
				// big.Float two-pass references instead (rolling_test.go).
			default:
				if math.Abs(a-b) > 1e-9*math.Max(math.Abs(b), 1e-300) && math.Abs(a-b) > 1e-12 {
					t.Fatalf("%s: row %d: %v, polars %v", c.Name, i, a, b)
				}
			}
		}
	}
	t.Logf("%d all-null duration windows where Polars gives a value and fdag null", polarsAllNull)
	for k, v := range ulpDiffs {
		t.Logf("%s: %d values differ from Polars (glibc) by an ulp or two", k, v)
		if k == "ewm_by" && v > 40 {
			t.Errorf("ewm_by: %d values off by an ulp: more than glibc's exp2 rounding explains", v)
		}
	}
}
