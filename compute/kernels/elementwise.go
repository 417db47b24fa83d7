package kernels

import "math"

// Elementwise kernels: stateless, so one Op value may serve every symbol and
// goroutine at once (Shared wraps it as a Factory). Each function has its own
// tight loop over plain slices, chosen once per Step, so the compiler can
// drop bounds checks and keep the loop free of calls; validity is combined in
// a separate pass only when some input has nulls. Values under a null output
// are whatever the arithmetic produced on the garbage beneath the inputs.

// UnaryFn selects a unary elementwise function.
type UnaryFn uint8

// Unary functions. Results are IEEE: log(0) = -Inf, log(-1) = NaN,
// sqrt(-1) = NaN.
const (
	UnaryLog UnaryFn = iota
	UnaryExp
	UnaryAbs
	UnarySqrt
	UnaryNeg
)

// BinaryFn selects a binary elementwise function.
type BinaryFn uint8

// Binary functions. Arithmetic is IEEE (x/0 = ±Inf or NaN). Comparisons
// return 1.0 or 0.0 under Polars' total order for floats: NaN equals NaN and
// is greater than every other value, and -0.0 == 0.0.
const (
	BinAdd BinaryFn = iota
	BinSub
	BinMul
	BinDiv
	BinPow
	BinLT
	BinLE
	BinGT
	BinGE
	BinEQ
	BinNE
)

// Shared turns a stateless Op into a Factory that hands out the same value.
func Shared(op Op) Factory { return func() Op { return op } }

// NewUnary returns the stateless Op computing fn(in[0]).
func NewUnary(fn UnaryFn) Op { return unaryOp{fn} }

// NewBinary returns the stateless Op computing fn(in[0], in[1]); either
// argument may be Scalar.
func NewBinary(fn BinaryFn) Op { return binaryOp{fn} }

type unaryOp struct{ fn UnaryFn }

func (u unaryOp) Step(in []Col, _ []int64, out []float64, valid []bool) int {
	a := in[0]
	n := len(out)
	if a.Scalar {
		v, ok := a.V[0], a.IsValid(0)
		r := unaryScalar(u.fn, v)
		for i := range out {
			out[i] = r
		}
		return fillValid(valid[:n], ok)
	}
	x := a.V[:n]
	switch u.fn {
	case UnaryLog:
		for i, v := range x {
			out[i] = math.Log(v)
		}
	case UnaryExp:
		for i, v := range x {
			out[i] = expCR(v)
		}
	case UnaryAbs:
		for i, v := range x {
			out[i] = math.Abs(v)
		}
	case UnarySqrt:
		for i, v := range x {
			out[i] = math.Sqrt(v)
		}
	case UnaryNeg:
		for i, v := range x {
			out[i] = -v
		}
	default:
		panic("kernels: unknown unary function")
	}
	return copyValid(valid[:n], a.Valid)
}

func unaryScalar(fn UnaryFn, v float64) float64 {
	switch fn {
	case UnaryLog:
		return math.Log(v)
	case UnaryExp:
		return expCR(v)
	case UnaryAbs:
		return math.Abs(v)
	case UnarySqrt:
		return math.Sqrt(v)
	case UnaryNeg:
		return -v
	}
	panic("kernels: unknown unary function")
}

type binaryOp struct{ fn BinaryFn }

func (b binaryOp) Step(in []Col, _ []int64, out []float64, valid []bool) int {
	x, y := in[0], in[1]
	n := len(out)
	fn := b.fn
	// GT/GE are LT/LE with the arguments swapped; NE is 1 - EQ.
	switch fn {
	case BinGT:
		fn, x, y = BinLT, y, x
	case BinGE:
		fn, x, y = BinLE, y, x
	}
	switch {
	case x.Scalar && y.Scalar:
		var o [1]float64
		binVV(fn, x.V[:1], y.V[:1], o[:])
		for i := range out {
			out[i] = o[0]
		}
	case x.Scalar:
		binSV(fn, x.V[0], y.V[:n], out)
	case y.Scalar:
		binVS(fn, x.V[:n], y.V[0], out)
	default:
		binVV(fn, x.V[:n], y.V[:n], out)
	}
	if b.fn == BinNE {
		for i, v := range out {
			out[i] = 1 - v
		}
	}
	return andValid(valid[:n], x, y)
}

// Polars' total order on floats (NaN largest, NaN == NaN).
func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func ltTotal(a, b float64) bool { return a < b || (a == a && b != b) }
func leTotal(a, b float64) bool { return a <= b || b != b }
func eqTotal(a, b float64) bool { return a == b || (a != a && b != b) }

func binVV(fn BinaryFn, x, y, out []float64) {
	y = y[:len(x)]
	out = out[:len(x)]
	switch fn {
	case BinAdd:
		for i := range x {
			out[i] = x[i] + y[i]
		}
	case BinSub:
		for i := range x {
			out[i] = x[i] - y[i]
		}
	case BinMul:
		for i := range x {
			out[i] = x[i] * y[i]
		}
	case BinDiv:
		for i := range x {
			out[i] = x[i] / y[i]
		}
	case BinPow:
		for i := range x {
			out[i] = math.Pow(x[i], y[i])
		}
	case BinLT:
		for i := range x {
			out[i] = b2f(ltTotal(x[i], y[i]))
		}
	case BinLE:
		for i := range x {
			out[i] = b2f(leTotal(x[i], y[i]))
		}
	case BinEQ, BinNE:
		for i := range x {
			out[i] = b2f(eqTotal(x[i], y[i]))
		}
	default:
		panic("kernels: unknown binary function")
	}
}

func binSV(fn BinaryFn, s float64, y, out []float64) {
	out = out[:len(y)]
	switch fn {
	case BinAdd:
		for i, v := range y {
			out[i] = s + v
		}
	case BinSub:
		for i, v := range y {
			out[i] = s - v
		}
	case BinMul:
		for i, v := range y {
			out[i] = s * v
		}
	case BinDiv:
		for i, v := range y {
			out[i] = s / v
		}
	case BinPow:
		for i, v := range y {
			out[i] = math.Pow(s, v)
		}
	case BinLT:
		for i, v := range y {
			out[i] = b2f(ltTotal(s, v))
		}
	case BinLE:
		for i, v := range y {
			out[i] = b2f(leTotal(s, v))
		}
	case BinEQ, BinNE:
		for i, v := range y {
			out[i] = b2f(eqTotal(s, v))
		}
	default:
		panic("kernels: unknown binary function")
	}
}

func binVS(fn BinaryFn, x []float64, s float64, out []float64) {
	out = out[:len(x)]
	switch fn {
	case BinAdd:
		for i, v := range x {
			out[i] = v + s
		}
	case BinSub:
		for i, v := range x {
			out[i] = v - s
		}
	case BinMul:
		for i, v := range x {
			out[i] = v * s
		}
	case BinDiv:
		// Polars divides a column by a scalar as x * (1/s), which is off
		// by an ulp on about a third of the rows. DESIGN.md promises IEEE
		// division, correctly rounded, so we divide (the same speed on
		// this machine's vectorised loop within noise).
		for i, v := range x {
			out[i] = v / s
		}
	case BinPow:
		for i, v := range x {
			out[i] = math.Pow(v, s)
		}
	case BinLT:
		for i, v := range x {
			out[i] = b2f(ltTotal(v, s))
		}
	case BinLE:
		for i, v := range x {
			out[i] = b2f(leTotal(v, s))
		}
	case BinEQ, BinNE:
		for i, v := range x {
			out[i] = b2f(eqTotal(v, s))
		}
	default:
		panic("kernels: unknown binary function")
	}
}

// fillValid sets every entry to ok and returns the null count.
func fillValid(valid []bool, ok bool) int {
	for i := range valid {
		valid[i] = ok
	}
	if ok {
		return 0
	}
	return len(valid)
}

// copyValid copies src (nil = all valid) into valid and counts nulls.
func copyValid(valid, src []bool) int {
	if src == nil {
		return fillValid(valid, true)
	}
	src = src[:len(valid)]
	nulls := 0
	for i, ok := range src {
		valid[i] = ok
		if !ok {
			nulls++
		}
	}
	return nulls
}

// andValid writes the conjunction of the validity of x and y (either may be
// Scalar) and counts nulls.
func andValid(valid []bool, x, y Col) int {
	if x.Scalar {
		if !x.IsValid(0) {
			return fillValid(valid, false)
		}
		x = Col{}
	}
	if y.Scalar {
		if !y.IsValid(0) {
			return fillValid(valid, false)
		}
		y = Col{}
	}
	switch {
	case x.Valid == nil:
		return copyValid(valid, y.Valid)
	case y.Valid == nil:
		return copyValid(valid, x.Valid)
	}
	xv, yv := x.Valid[:len(valid)], y.Valid[:len(valid)]
	nulls := 0
	for i := range valid {
		ok := xv[i] && yv[i]
		valid[i] = ok
		if !ok {
			nulls++
		}
	}
	return nulls
}
