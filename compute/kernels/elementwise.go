package kernels

import (
	"fmt"

	"github.com/featuredag/fdag/fmath"
	"github.com/featuredag/fdag/formula"
)

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

// RegisterElementwise adds the operators' kernels ("neg", "+", "<", ...)
// and one for every elementwise function of formula.Functions: a dedicated
// loop for the hot ones below, and for the others the generic loop over the
// function's own float rule (formula.Func.Eval), so a new elementwise
// function needs no code here.
func RegisterElementwise(r *Registry) {
	for name, fn := range map[string]UnaryFn{"neg": UnaryNeg, "log": UnaryLog, "exp": UnaryExp, "abs": UnaryAbs, "sqrt": UnarySqrt} {
		r.addStateless(name, NewUnary(fn))
	}
	for name, fn := range map[string]BinaryFn{"+": BinAdd, "-": BinSub, "*": BinMul, "/": BinDiv, "**": BinPow,
		"<": BinLT, "<=": BinLE, ">": BinGT, ">=": BinGE, "==": BinEQ, "!=": BinNE} {
		r.addStateless(name, NewBinary(fn))
	}
	r.addStateless("where", whereOp{})
	for _, f := range formula.Functions {
		if f.Family != formula.FamilyElementwise {
			continue
		}
		if _, done := r.Lookup(f.Name); done {
			continue
		}
		op, err := NewMap(f.Eval)
		if f.SkipNulls && err == nil {
			op, err = NewMapSkipNulls(f.Eval)
		}
		if err != nil {
			panic(fmt.Sprintf("kernels: %s: %v", f.Name, err))
		}
		r.addStateless(f.Name, op)
	}
}

// NewMap returns the stateless kernel applying an elementwise float rule
// row by row: eval is a func(float64) float64, func(a, b float64) float64
// or func(a, b, c float64) float64, with one argument Col per parameter
// (each may be Scalar). A null in any argument gives a null row.
func NewMap(eval any) (Op, error) {
	switch f := eval.(type) {
	case func(float64) float64:
		return map1{f}, nil
	case func(a, b float64) float64:
		return map2{f}, nil
	case func(a, b, c float64) float64:
		return map3{f}, nil
	}
	return nil, fmt.Errorf("no float rule of one, two or three arguments (got %T)", eval)
}

type map1 struct{ f func(float64) float64 }
type map2 struct{ f func(a, b float64) float64 }
type map3 struct{ f func(a, b, c float64) float64 }

// at is row i of c, broadcasting a Scalar.
func at(c Col, i int) float64 {
	if c.Scalar {
		return c.V[0]
	}
	return c.V[i]
}

func (m map1) Step(in []Col, _ []int64, out []float64, valid []bool) int {
	for i := range out {
		out[i] = m.f(at(in[0], i))
	}
	return andValidAll(valid[:len(out)], in)
}

func (m map2) Step(in []Col, _ []int64, out []float64, valid []bool) int {
	for i := range out {
		out[i] = m.f(at(in[0], i), at(in[1], i))
	}
	return andValidAll(valid[:len(out)], in)
}

func (m map3) Step(in []Col, _ []int64, out []float64, valid []bool) int {
	for i := range out {
		out[i] = m.f(at(in[0], i), at(in[1], i), at(in[2], i))
	}
	return andValidAll(valid[:len(out)], in)
}

// NewMapSkipNulls is NewMap for a rule of two arguments under the
// skip-nulls rule (formula.Func.SkipNulls): where one argument is null the
// result is the other, where both are null it is null.
func NewMapSkipNulls(eval any) (Op, error) {
	f, ok := eval.(func(a, b float64) float64)
	if !ok {
		return nil, fmt.Errorf("skip-nulls needs a float rule of two arguments (got %T)", eval)
	}
	return skipNulls2{f}, nil
}

type skipNulls2 struct{ f func(a, b float64) float64 }

func (m skipNulls2) Step(in []Col, _ []int64, out []float64, valid []bool) int {
	x, y := in[0], in[1]
	nulls := 0
	for i := range out {
		xok, yok := x.IsValid(rowOf(x, i)), y.IsValid(rowOf(y, i))
		a, b := at(x, i), at(y, i)
		switch {
		case xok && yok:
			out[i] = m.f(a, b)
		case xok:
			out[i] = a
		case yok:
			out[i] = b
		default:
			out[i] = 0
			nulls++
		}
		valid[i] = xok || yok
	}
	return nulls
}

// rowOf is the row of c holding row i (0 for a Scalar).
func rowOf(c Col, i int) int {
	if c.Scalar {
		return 0
	}
	return i
}

// whereOp is where(cond, a, b): a where cond is valid and non-zero, else b;
// the chosen value keeps its null (Polars' when/then/otherwise, where a
// null condition takes the otherwise branch).
type whereOp struct{}

func (whereOp) Step(in []Col, _ []int64, out []float64, valid []bool) int {
	c, a, b := in[0], in[1], in[2]
	nulls := 0
	for i := range out {
		src := b
		if c.IsValid(rowOf(c, i)) && at(c, i) != 0 {
			src = a
		}
		out[i] = at(src, i)
		valid[i] = src.IsValid(rowOf(src, i))
		if !valid[i] {
			nulls++
		}
	}
	return nulls
}

// andValidAll writes the conjunction of the validity of every argument
// and counts nulls.
func andValidAll(valid []bool, in []Col) int {
	nulls := fillValid(valid, true)
	for _, c := range in {
		switch {
		case c.Scalar && !c.IsValid(0):
			return fillValid(valid, false)
		case c.Scalar || c.Valid == nil:
		default:
			nulls = 0
			for i, ok := range c.Valid[:len(valid)] {
				ok = ok && valid[i]
				valid[i] = ok
				if !ok {
					nulls++
				}
			}
		}
	}
	return nulls
}

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
			out[i] = fmath.Log(v)
		}
	case UnaryExp:
		for i, v := range x {
			out[i] = fmath.Exp(v)
		}
	case UnaryAbs:
		for i, v := range x {
			out[i] = fmath.Abs(v)
		}
	case UnarySqrt:
		for i, v := range x {
			out[i] = fmath.Sqrt(v)
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
		return fmath.Log(v)
	case UnaryExp:
		return fmath.Exp(v)
	case UnaryAbs:
		return fmath.Abs(v)
	case UnarySqrt:
		return fmath.Sqrt(v)
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
			out[i] = fmath.Pow(x[i], y[i])
		}
	case BinLT:
		for i := range x {
			out[i] = fmath.B2F(fmath.LessTotal(x[i], y[i]))
		}
	case BinLE:
		for i := range x {
			out[i] = fmath.B2F(fmath.LessEqTotal(x[i], y[i]))
		}
	case BinEQ, BinNE:
		for i := range x {
			out[i] = fmath.B2F(fmath.EqTotal(x[i], y[i]))
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
			out[i] = fmath.Pow(s, v)
		}
	case BinLT:
		for i, v := range y {
			out[i] = fmath.B2F(fmath.LessTotal(s, v))
		}
	case BinLE:
		for i, v := range y {
			out[i] = fmath.B2F(fmath.LessEqTotal(s, v))
		}
	case BinEQ, BinNE:
		for i, v := range y {
			out[i] = fmath.B2F(fmath.EqTotal(s, v))
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
			out[i] = fmath.Pow(v, s)
		}
	case BinLT:
		for i, v := range x {
			out[i] = fmath.B2F(fmath.LessTotal(v, s))
		}
	case BinLE:
		for i, v := range x {
			out[i] = fmath.B2F(fmath.LessEqTotal(v, s))
		}
	case BinEQ, BinNE:
		for i, v := range x {
			out[i] = fmath.B2F(fmath.EqTotal(v, s))
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
