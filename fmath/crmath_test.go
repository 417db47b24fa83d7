package fmath

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// expBig is exp(y) to 200 bits: Taylor series after halving y 30 times.
func expBig(y *big.Float) *big.Float {
	const prec = 200
	r := new(big.Float).SetPrec(prec).SetMantExp(y, -30)
	sum := new(big.Float).SetPrec(prec).SetInt64(1)
	term := new(big.Float).SetPrec(prec).SetInt64(1)
	for k := 1; k < 30; k++ {
		term.Mul(term, r)
		term.Quo(term, new(big.Float).SetPrec(prec).SetInt64(int64(k)))
		sum.Add(sum, term)
	}
	for range 30 {
		sum.Mul(sum, sum)
	}
	return sum
}

func TestCorrectlyRoundedExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	ln2 := new(big.Float).SetPrec(200).SetFloat64(Ln2Hi)
	ln2.Add(ln2, new(big.Float).SetPrec(200).SetFloat64(ln2Lo))
	for i := range 3000 {
		y := (rng.Float64()*2 - 1) * []float64{1e-3, 1, 30, 700}[i%4]
		want, _ := expBig(new(big.Float).SetFloat64(y)).Float64()
		if got := Exp(y); got != want {
			t.Fatalf("Exp(%v) = %v, want %v", y, got, want)
		}
		// 2^z = exp(z*ln2), z*ln2 to 200 bits.
		z := y / 2
		e := new(big.Float).SetPrec(200).SetFloat64(z)
		e.Mul(e, ln2)
		w2, _ := expBig(e).Float64()
		if got := Exp2(z); got != w2 {
			t.Fatalf("Exp2(%v) = %v, want %v", z, got, w2)
		}
	}
	if Exp2(-1) != 0.5 || Exp2(10) != 1024 || Exp2(-1074) != math.SmallestNonzeroFloat64 {
		t.Fatal("exact powers of two")
	}
}
