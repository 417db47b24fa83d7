package fmath

import (
	"math"
	"math/big"
)

// Correctly rounded exp and exp2.
//
// The ewm kernels must reproduce Polars to the last bit, and Polars gets its
// decay factors from the platform libm: ewm_mean's alpha is computed in Python
// as 1 - math.exp(-math.log(2)/h), and ewm_mean_by evaluates
// 0.5.powf(dt/h) per row (Rust powf -> glibc pow). glibc's exp and pow are
// correctly rounded except for results within a tiny fraction of an ulp of a
// rounding boundary, while Go's math.Exp and math.Pow are only faithful (up to
// 1 ulp off, and often enough to show up in a few thousand rows). So these two
// helpers evaluate the function in double-double arithmetic (about 2^-78
// relative error before the final rounding) and round once: the result is the
// correctly rounded value except with probability ~2^-25 per argument, which
// is as close to glibc as one can get without copying its code.
//
// Method: x = 2^(n/64) * exp(r) with |r| <= ln2/128. 2^(j/64) comes from a
// table kept as hi+lo pairs (built once with math/big), exp(r)-1 from its
// Taylor series where the r and r^2/2 terms are carried in double-double and
// the rest (< 3e-8) in plain float64.

var (
	exp2TabHi, exp2TabLo [64]float64
	Ln2Hi, ln2Lo         float64
)

func init() {
	const prec = 256
	ln2, _, err := big.ParseFloat("0.693147180559945309417232121458176568075500134360255254120680009493393621969694715605863326996418687542", 10, prec, big.ToNearestEven)
	if err != nil {
		panic(err)
	}
	Ln2Hi, _ = ln2.Float64()
	ln2Lo, _ = new(big.Float).SetPrec(prec).Sub(ln2, big.NewFloat(Ln2Hi)).Float64()

	step := new(big.Float).SetPrec(prec).SetInt64(2)
	for range 6 { // 2^(1/64)
		step.Sqrt(step)
	}
	cur := new(big.Float).SetPrec(prec).SetInt64(1)
	for j := range exp2TabHi {
		hi, _ := cur.Float64()
		lo, _ := new(big.Float).SetPrec(prec).Sub(cur, big.NewFloat(hi)).Float64()
		exp2TabHi[j], exp2TabLo[j] = hi, lo
		cur.Mul(cur, step)
	}
}

// twoSum returns s = fl(a+b) and the exact error e, a+b = s+e.
func twoSum(a, b float64) (s, e float64) {
	s = a + b
	bb := s - a
	e = (a - (s - bb)) + (b - bb)
	return
}

// expCore returns 2^(n/64) * exp(rh+rl), |rh+rl| <= ~0.0055, rounded once.
func expCore(n int, rh, rl float64) float64 {
	k, j := n>>6, n&63
	// exp(r) - 1 = r + r^2/2 + p.
	p := rh * rh * rh * (1.0/6 + rh*(1.0/24+rh*(1.0/120+rh*(1.0/720+rh*(1.0/5040+rh*(1.0/40320))))))
	q := rh * rh
	qe := math.FMA(rh, rh, -q) + 2*rh*rl
	a, ae := twoSum(rh, 0.5*q)
	lo := ae + rl + 0.5*qe + p
	th, tl := exp2TabHi[j], exp2TabLo[j]
	m := th * a
	me := math.FMA(th, a, -m)
	h, he := twoSum(th, m)
	rest := he + me + th*lo + tl + tl*a
	return math.Ldexp(h+rest, k)
}

// Exp is exp(y) correctly rounded (see above).
func Exp(y float64) float64 {
	switch {
	case y != y:
		return y
	case y > 709.8:
		return math.Inf(1)
	case y < -745.2:
		return 0
	case y == 0:
		return 1
	}
	n := int(math.RoundToEven(y * (64 / math.Ln2)))
	fn := float64(n)
	p := fn * (Ln2Hi / 64)
	pe := math.FMA(fn, Ln2Hi/64, -p)
	rh, rl := twoSum(y-p, -pe-fn*(ln2Lo/64))
	return expCore(n, rh, rl)
}

// Exp2 is 2^z correctly rounded (see above). 0.5^x == Exp2(-x).
func Exp2(z float64) float64 {
	switch {
	case z != z:
		return z
	case z >= 1024:
		return math.Inf(1)
	case z < -1076:
		return 0
	case z == 0:
		return 1
	}
	n := math.RoundToEven(z * 64)
	g := (z*64 - n) / 64
	rh := g * Ln2Hi
	rl := math.FMA(g, Ln2Hi, -rh) + g*ln2Lo
	return expCore(int(n), rh, rl)
}
