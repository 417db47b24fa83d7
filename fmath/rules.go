// Package fmath holds the float rules of fdag's elementwise functions and
// operators, once: constant folding (ir) and the kernels (compute/kernels)
// both call these functions, so a folded constant and a computed column can
// never disagree in a bit. It also holds the correctly rounded exp and exp2
// the decay kernels need (crmath.go).
//
// Arithmetic is IEEE (x/0 = ±Inf or NaN, log(0) = -Inf, sqrt(-1) = NaN).
// Comparisons return 1.0 or 0.0 under Polars' total order for floats: NaN
// equals NaN and is greater than every other value, and -0.0 == 0.0.
//
// Every function is small enough to be inlined into a kernel's loop.
package fmath

import "math"

// B2F is 1.0 for true, 0.0 for false.
func B2F(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// LessTotal is a < b under Polars' total order (NaN largest).
func LessTotal(a, b float64) bool { return a < b || (a == a && b != b) }

// LessEqTotal is a <= b under Polars' total order.
func LessEqTotal(a, b float64) bool { return a <= b || b != b }

// EqTotal is a == b under Polars' total order (NaN == NaN).
func EqTotal(a, b float64) bool { return a == b || (a != a && b != b) }

// The operators, one function each.

func Neg(a float64) float64    { return -a }
func Add(a, b float64) float64 { return a + b }
func Sub(a, b float64) float64 { return a - b }
func Mul(a, b float64) float64 { return a * b }
func Div(a, b float64) float64 { return a / b }
func Pow(a, b float64) float64 { return math.Pow(a, b) }
func LT(a, b float64) float64  { return B2F(LessTotal(a, b)) }
func LE(a, b float64) float64  { return B2F(LessEqTotal(a, b)) }
func GT(a, b float64) float64  { return B2F(LessTotal(b, a)) }
func GE(a, b float64) float64  { return B2F(LessEqTotal(b, a)) }
func EQ(a, b float64) float64  { return B2F(EqTotal(a, b)) }
func NE(a, b float64) float64  { return 1 - B2F(EqTotal(a, b)) }

// The elementwise functions of the formula table.

func Log(a float64) float64  { return math.Log(a) }
func Abs(a float64) float64  { return math.Abs(a) }
func Sqrt(a float64) float64 { return math.Sqrt(a) }

// Sign is -1, 1, or x itself for ±0 and NaN (as Polars' sign).
func Sign(a float64) float64 {
	switch {
	case a > 0:
		return 1
	case a < 0:
		return -1
	}
	return a
}

func Log1p(a float64) float64 { return math.Log1p(a) }

// Tanh is the hyperbolic tangent: ±1 at ±Inf, ±0 kept, NaN for NaN.
func Tanh(a float64) float64 { return math.Tanh(a) }

// Max is the larger of a and b, a NaN counting only when both are NaN (as
// Polars' max_horizontal).
func Max(a, b float64) float64 {
	switch {
	case a != a:
		return b
	case b != b:
		return a
	}
	return math.Max(a, b)
}

// Min is the smaller of a and b, a NaN counting only when both are NaN.
func Min(a, b float64) float64 {
	switch {
	case a != a:
		return b
	case b != b:
		return a
	}
	return math.Min(a, b)
}

// Clip is x bounded below by lo and above by hi: min(max(x, lo), hi), NaN
// for a NaN x (as Polars' clip).
func Clip(x, lo, hi float64) float64 { return math.Min(math.Max(x, lo), hi) }

// Where is a where cond is true (non-zero; NaN counts as true, as in
// Python) and b otherwise.
func Where(cond, a, b float64) float64 {
	if cond != 0 {
		return a
	}
	return b
}

// First is a: fill_null's rule when neither argument is null.
func First(a, _ float64) float64 { return a }
