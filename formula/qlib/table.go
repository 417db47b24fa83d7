package qlib

import (
	"math"
	"strconv"
	"strings"

	"github.com/featuredag/fdag/formula"
)

// The Qlib operators (qlib/data/ops.py, pyqlib 0.9.7), each declared once:
// its parameters, the fdag formula it becomes, how Qlib's semantics differ
// from the nearest fdag built-in, and the builder of the translation. The
// docs (docs/qlib.md) and the tests read this table.
//
// Qlib's data model, which the translations reproduce: a series is float32
// with NaN for a missing value; pandas' rolling windows skip NaN and give a
// value on partial windows (min_periods=1), so the first rows of a window
// are over fewer values; numpy's comparisons of NaN are false (!= is true).
// In fdag a missing value is null (lag's first rows), and NaN is a value
// that sorts largest; the translations map one model onto the other.

type argKind int

const (
	argSeries argKind = iota
	argWindow         // a positive integer N (rows)
	argShift          // a non-negative integer N (rows back)
	argSpan           // EMA's N: a span >= 1, or an alpha in (0, 1)
	argNumber         // any number literal (Quantile's qscore, Power's exponent)
)

type param struct {
	name string
	kind argKind
}

var (
	pFeature = param{"feature", argSeries}
	pLeft    = param{"feature_left", argSeries}
	pRight   = param{"feature_right", argSeries}
	pN       = param{"N", argWindow}
)

// Func is one Qlib operator.
type Func struct {
	Name   string
	Params []param
	// Fdag is the fdag formula a call becomes, over x, y and N.
	Fdag string
	// Diff says how Qlib's semantics differ from fdag's nearest built-in
	// and how the translation reproduces Qlib's (or, when it cannot, what
	// differs); "" when they agree.
	Diff string
	// Unsupported, when set, says why the operator has no translation.
	Unsupported string
	build       func(a *call) formula.Node
}

func (f *Func) signature() string {
	names := make([]string, len(f.Params))
	for i, p := range f.Params {
		names[i] = p.name
	}
	return f.Name + "(" + strings.Join(names, ", ") + ")"
}

// Signature is the operator as Qlib declares it: "Mean(feature, N)".
func (f *Func) Signature() string { return f.signature() }

// call is one Qlib call being translated: its series arguments
// (translated) and its numbers, in parameter order.
type call struct {
	t      *translator
	op     *Func
	c      *formula.Call
	series []formula.Node
	nums   []float64
	numPos []formula.PosRange
}

// fn is a call of an fdag built-in, placed at the Qlib call.
func (a *call) fn(name string, args ...formula.Node) *formula.Call {
	out := &formula.Call{Func: name, FuncPos: a.c.FuncPos, Pos: a.c.Pos}
	for _, x := range args {
		out.Args = append(out.Args, formula.Arg{Value: x})
	}
	return out
}

// rolling is fdag's rolling_NAME(xs..., N, min_samples=1): pandas'
// rolling(N, min_periods=1), a value as soon as the window holds one.
func (a *call) rolling(name string, xs ...formula.Node) *formula.Call {
	c := a.fn(name, append(xs, a.n(0))...)
	c.Args = append(c.Args, formula.Arg{Name: "min_samples", Value: lit(1, a.numPos[0])})
	return c
}

// n is the i-th number argument as an integer literal at its position.
func (a *call) n(i int) *formula.NumberLit { return lit(a.nums[i], a.numPos[i]) }

func lit(v float64, pos formula.PosRange) *formula.NumberLit {
	isInt := v == math.Trunc(v) && !math.IsInf(v, 0)
	text := strconv.FormatFloat(v, 'g', -1, 64)
	return &formula.NumberLit{Value: v, Text: text, IsInt: isInt, Pos: pos}
}

func bin(op formula.Op, l, r formula.Node) *formula.BinaryExpr {
	return &formula.BinaryExpr{Op: op, OpPos: l.PositionRange(), L: l, R: r, Pos: span(l, r)}
}

func span(l, r formula.Node) formula.PosRange {
	lp, rp := l.PositionRange(), r.PositionRange()
	return formula.PosRange{Start: min(lp.Start, rp.Start), End: max(lp.End, rp.End)}
}

// nan and inf are constants the IR folds (0 / 0, 1 / 0): fdag has no
// literal for them, and these print as formulas that parse again.
func nan(pos formula.PosRange) formula.Node { return bin(formula.OpDiv, lit(0, pos), lit(0, pos)) }
func inf(pos formula.PosRange) formula.Node { return bin(formula.OpDiv, lit(1, pos), lit(0, pos)) }

// notNaN is 1 where x is a number (infinities included), 0 where it is
// NaN, null where x is null: fdag's <= orders NaN above +inf.
func notNaN(x formula.Node) formula.Node {
	return bin(formula.OpLE, x, inf(x.PositionRange()))
}

func where(pos formula.PosRange, cond, a, b formula.Node) *formula.Call {
	return &formula.Call{Func: "where", FuncPos: pos, Pos: pos, Args: []formula.Arg{{Value: cond}, {Value: a}, {Value: b}}}
}

// compare is a comparison as numpy computes it: IEEE, so false (0) when
// either side is NaN or missing, except != which is then true (1). fdag's
// comparisons order NaN as the largest number and propagate null, so both
// sides are checked first (a number literal needs no check).
func compare(op formula.Op, l, r formula.Node, pos formula.PosRange) formula.Node {
	otherwise := lit(0, pos)
	if op == formula.OpNE {
		otherwise = lit(1, pos)
	}
	var out formula.Node = &formula.BinaryExpr{Op: op, OpPos: pos, L: l, R: r, Pos: pos}
	for _, side := range []formula.Node{r, l} {
		if _, isNum := formula.NumberValue(side); !isNum {
			out = where(pos, notNaN(side), out, otherwise)
		}
	}
	return out
}

// greater is np.maximum: NaN (or missing) when either side is. fdag's max
// skips nulls and NaN; where(a >= b, ...) with fdag's order (NaN largest)
// already picks a NaN a, and a NaN b fails a >= b and passes a < b; a null
// side makes both conditions null, which falls through to a + b (null).
func greater(pos formula.PosRange, a, b formula.Node) formula.Node {
	return where(pos, bin(formula.OpGE, a, b), a, where(pos, bin(formula.OpLT, a, b), b, bin(formula.OpAdd, a, b)))
}

// less is np.minimum, NaN (or missing) when either side is: a NaN side is
// the larger in fdag's order, so each branch checks it explicitly.
func less(pos formula.PosRange, a, b formula.Node) formula.Node {
	return where(pos, bin(formula.OpGT, a, b),
		where(pos, notNaN(a), b, a),
		where(pos, notNaN(b), a, b))
}

// rowsInWindow is the number of rows of the window, counted as pandas'
// raw window arrays are (missing values included): rolling_count of a
// constant.
func (a *call) rowsInWindow() formula.Node { return a.fn("rolling_count", lit(1, a.numPos[0]), a.n(0)) }

// Functions is the table of Qlib operators, in docs order.
var Functions = []*Func{
	{Name: "Ref", Params: []param{pFeature, {"N", argShift}}, Fdag: "lag(x, N)",
		Diff:  "N < 0 (a future value) is refused: features never look ahead. N = 0 is Qlib's first value of the loaded range, which depends on the query's start: refused.",
		build: func(a *call) formula.Node { return a.fn("lag", a.series[0], a.n(0)) }},
	{Name: "Mean", Params: []param{pFeature, pN}, Fdag: "rolling_mean(x, N, min_samples=1)",
		Diff:  "Qlib gives values on partial windows (pandas min_periods=1): min_samples=1.",
		build: func(a *call) formula.Node { return a.rolling("rolling_mean", a.series[0]) }},
	{Name: "Sum", Params: []param{pFeature, pN}, Fdag: "rolling_sum(x, N, min_samples=1)",
		Diff:  "Partial windows, as Mean.",
		build: func(a *call) formula.Node { return a.rolling("rolling_sum", a.series[0]) }},
	{Name: "Std", Params: []param{pFeature, pN}, Fdag: "rolling_std(x, N, min_samples=1)",
		Diff:  "Partial windows, as Mean; ddof = 1 in both, so one value gives NaN in Qlib and null in fdag.",
		build: func(a *call) formula.Node { return a.rolling("rolling_std", a.series[0]) }},
	{Name: "Var", Params: []param{pFeature, pN}, Fdag: "rolling_var(x, N, min_samples=1)",
		Diff:  "As Std.",
		build: func(a *call) formula.Node { return a.rolling("rolling_var", a.series[0]) }},
	{Name: "Max", Params: []param{pFeature, pN}, Fdag: "rolling_max(x, N, min_samples=1)",
		Diff:  "Partial windows, as Mean.",
		build: func(a *call) formula.Node { return a.rolling("rolling_max", a.series[0]) }},
	{Name: "Min", Params: []param{pFeature, pN}, Fdag: "rolling_min(x, N, min_samples=1)",
		Diff:  "Partial windows, as Mean.",
		build: func(a *call) formula.Node { return a.rolling("rolling_min", a.series[0]) }},
	{Name: "Med", Params: []param{pFeature, pN}, Fdag: "rolling_median(x, N, min_samples=1)",
		Diff:  "Partial windows, as Mean.",
		build: func(a *call) formula.Node { return a.rolling("rolling_median", a.series[0]) }},
	{Name: "Count", Params: []param{pFeature, pN}, Fdag: "rolling_count(x, N)",
		Diff:  "A window without any value counts 0 in fdag; pandas gives NaN there (min_periods=1).",
		build: func(a *call) formula.Node { return a.fn("rolling_count", a.series[0], a.n(0)) }},
	{Name: "Quantile", Params: []param{pFeature, pN, {"qscore", argNumber}}, Fdag: "rolling_quantile(x, N, qscore, min_samples=1)",
		Diff: "Partial windows, as Mean; both interpolate linearly between the nearest ranks.",
		build: func(a *call) formula.Node {
			c := a.fn("rolling_quantile", a.series[0], a.n(0), a.n(1))
			c.Args = append(c.Args, formula.Arg{Name: "min_samples", Value: lit(1, a.numPos[0])})
			return c
		}},
	{Name: "Skew", Params: []param{pFeature, {"N", argWindow}}, Fdag: "rolling_skew(x, N, min_samples=1)",
		Diff:  "Pandas' bias-corrected sample skewness on partial windows (NaN below 3 values); Qlib refuses N < 3.",
		build: func(a *call) formula.Node { return a.rolling("rolling_skew", a.series[0]) }},
	{Name: "Kurt", Params: []param{pFeature, {"N", argWindow}}, Fdag: "rolling_kurt(x, N, min_samples=1)",
		Diff:  "Pandas' bias-corrected excess kurtosis on partial windows (NaN below 4 values); Qlib refuses N < 4.",
		build: func(a *call) formula.Node { return a.rolling("rolling_kurt", a.series[0]) }},
	{Name: "Mad", Params: []param{pFeature, pN}, Fdag: "(none)",
		Unsupported: "Mad (the mean absolute deviation from the window's own mean) has no fdag built-in to compose it from"},
	{Name: "Rank", Params: []param{pFeature, pN}, Fdag: "rolling_rank(x, N, min_samples=1)",
		Diff:  "Qlib's Rank is pandas' rolling rank(pct=True) (average ranks of ties), which rolling_rank computes; partial windows as Mean.",
		build: func(a *call) formula.Node { return a.rolling("rolling_rank", a.series[0]) }},
	{Name: "IdxMax", Params: []param{pFeature, pN}, Fdag: "rolling_count(1, N) - rolling_argmax(x, N, min_samples=1)",
		Diff: "Qlib gives the 1-based position of the maximum in the window, oldest row first (numpy argmax + 1; on a partial window of n rows, 1..n); fdag's rolling_argmax counts rows back from the current one. Ties: the earliest in both. A missing or NaN value in the window: numpy's argmax returns its position (so Qlib's value then says where the gap is), while fdag skips a missing value and gives NaN for a NaN.",
		build: func(a *call) formula.Node {
			return bin(formula.OpSub, a.rowsInWindow(), a.rolling("rolling_argmax", a.series[0]))
		}},
	{Name: "IdxMin", Params: []param{pFeature, pN}, Fdag: "rolling_count(1, N) - rolling_argmin(x, N, min_samples=1)",
		Diff: "As IdxMax.",
		build: func(a *call) formula.Node {
			return bin(formula.OpSub, a.rowsInWindow(), a.rolling("rolling_argmin", a.series[0]))
		}},
	{Name: "Slope", Params: []param{pFeature, pN}, Fdag: "rolling_slope(x, N, min_samples=1)",
		Diff:  "Both regress on the row index within the window, skipping missing rows; Qlib (its Cython rolling_slope) uses raw moments, fdag shifted compensated sums, so fdag keeps more digits on prices far from zero.",
		build: func(a *call) formula.Node { return a.rolling("rolling_slope", a.series[0]) }},
	{Name: "Rsquare", Params: []param{pFeature, pN}, Fdag: "where(rolling_std(x, N, min_samples=1) <= 2e-05, 0 / 0, rolling_rsquare(x, N, min_samples=1))",
		Diff: "Qlib sets NaN where the window's std is within 2e-05 of 0 (np.isclose(std, 0, atol=2e-05)), which the where reproduces.",
		build: func(a *call) formula.Node {
			pos := a.c.Pos
			std := a.rolling("rolling_std", a.series[0])
			return where(pos, bin(formula.OpLE, std, lit(2e-05, pos)), nan(pos), a.rolling("rolling_rsquare", a.series[0]))
		}},
	{Name: "Resi", Params: []param{pFeature, pN}, Fdag: "rolling_resi(x, N, min_samples=1)",
		Diff:  "As Slope.",
		build: func(a *call) formula.Node { return a.rolling("rolling_resi", a.series[0]) }},
	{Name: "Corr", Params: []param{pLeft, pRight, pN}, Fdag: "where((rolling_std(x, N, min_samples=1) <= 2e-05) + (rolling_std(y, N, min_samples=1) <= 2e-05), 0 / 0, rolling_corr(x, y, N, min_samples=1))",
		Diff: "Pandas' rolling corr with min_periods=1; Qlib then sets NaN where either side's window std is within 2e-05 of 0, which the where reproduces.",
		build: func(a *call) formula.Node {
			pos := a.c.Pos
			near0 := func(x formula.Node) formula.Node {
				return &formula.ParenExpr{X: bin(formula.OpLE, a.rolling("rolling_std", x), lit(2e-05, pos)), Pos: pos}
			}
			cond := bin(formula.OpAdd, near0(a.series[0]), near0(a.series[1]))
			return where(pos, cond, nan(pos), a.rolling("rolling_corr", a.series[0], a.series[1]))
		}},
	{Name: "Cov", Params: []param{pLeft, pRight, pN}, Fdag: "rolling_cov(x, y, N, min_samples=1)",
		Diff:  "Partial windows, as Mean.",
		build: func(a *call) formula.Node { return a.rolling("rolling_cov", a.series[0], a.series[1]) }},
	{Name: "EMA", Params: []param{pFeature, {"N", argSpan}}, Fdag: "ewm_mean(x, h) with h = -1 / log2(1 - alpha), alpha = 2 / (N + 1) (N >= 1) or N (0 < N < 1)",
		Diff: "Qlib's EMA is pandas' ewm(span=N, min_periods=1).mean() (adjust=True), or ewm(alpha=N) for 0 < N < 1; fdag's ewm_mean takes the half-life of the same decay. EMA(x, 1) is x. N = 0 (an expanding mean with Qlib's own weights) is refused.",
		build: func(a *call) formula.Node {
			n := a.nums[0]
			alpha := n
			if n >= 1 {
				alpha = 2 / (n + 1)
			}
			if alpha >= 1 {
				return a.series[0]
			}
			h := -1 / math.Log2(1-alpha)
			return a.fn("ewm_mean", a.series[0], lit(h, a.numPos[0]))
		}},
	{Name: "WMA", Params: []param{pFeature, pN}, Fdag: "rolling_wma(x, N, min_samples=1) / rolling_count(x, N)",
		Diff: "Qlib's WMA takes np.nanmean of the weighted terms w_k * x_k (weights 1..n normalised to sum 1), so it is the linearly weighted mean divided once more by the number of values; the translation reproduces that. With a missing value inside the window, Qlib still counts its weight in the normalisation and fdag's rolling_wma does not, so they differ there. fdag's own rolling_wma is the weighted mean itself.",
		build: func(a *call) formula.Node {
			return bin(formula.OpDiv, a.rolling("rolling_wma", a.series[0]), a.fn("rolling_count", a.series[0], a.n(0)))
		}},
	{Name: "Delta", Params: []param{pFeature, {"N", argShift}}, Fdag: "diff(x, N)",
		Diff:  "N < 0 (look-ahead) is refused, as for Ref.",
		build: func(a *call) formula.Node { return a.fn("diff", a.series[0], a.n(0)) }},
	{Name: "Abs", Params: []param{pFeature}, Fdag: "abs(x)",
		build: func(a *call) formula.Node { return a.fn("abs", a.series[0]) }},
	{Name: "Log", Params: []param{pFeature}, Fdag: "log(x)",
		build: func(a *call) formula.Node { return a.fn("log", a.series[0]) }},
	{Name: "Sign", Params: []param{pFeature}, Fdag: "sign(x)",
		Diff:  "Qlib casts to float32 first; numpy's sign(-0.0) is 0.0 where fdag keeps -0 (equal as numbers).",
		build: func(a *call) formula.Node { return a.fn("sign", a.series[0]) }},
	{Name: "Power", Params: []param{pFeature, {"exponent", argNumber}}, Fdag: "x ** exponent",
		build: func(a *call) formula.Node { return bin(formula.OpPow, a.series[0], a.n(0)) }},
	{Name: "Greater", Params: []param{pLeft, pRight}, Fdag: "where(x >= y, x, where(x < y, y, x + y))",
		Diff:  "np.maximum: NaN or missing when either side is. fdag's max skips nulls and NaN, so the translation picks with comparisons instead.",
		build: func(a *call) formula.Node { return greater(a.c.Pos, a.series[0], a.series[1]) }},
	{Name: "Less", Params: []param{pLeft, pRight}, Fdag: "where(x > y, where(x <= 1 / 0, y, x), where(y <= 1 / 0, x, y))",
		Diff:  "np.minimum: NaN or missing when either side is (fdag's min skips them).",
		build: func(a *call) formula.Node { return less(a.c.Pos, a.series[0], a.series[1]) }},
	{Name: "If", Params: []param{{"condition", argSeries}, pLeft, pRight}, Fdag: "where(condition == 0, y, x)",
		Diff: "np.where: a NaN (or missing) condition is true; fdag's where takes a null condition as false, so the translation tests condition == 0.",
		build: func(a *call) formula.Node {
			return where(a.c.Pos, bin(formula.OpEQ, a.series[0], lit(0, a.c.Pos)), a.series[2], a.series[1])
		}},
	{Name: "Not", Params: []param{pFeature}, Fdag: "where(x, 0, 1)",
		Diff:  "On 0/1 (boolean) inputs, as Qlib's bitwise not of a boolean series.",
		build: func(a *call) formula.Node { return where(a.c.Pos, a.series[0], lit(0, a.c.Pos), lit(1, a.c.Pos)) }},
	{Name: "And", Params: []param{pLeft, pRight}, Fdag: "where(x, where(y, 1, 0), 0)",
		Diff: "On 0/1 (boolean) inputs, as Qlib's bitwise and of boolean series.",
		build: func(a *call) formula.Node {
			p := a.c.Pos
			return where(p, a.series[0], where(p, a.series[1], lit(1, p), lit(0, p)), lit(0, p))
		}},
	{Name: "Or", Params: []param{pLeft, pRight}, Fdag: "where(x, 1, where(y, 1, 0))",
		Diff: "On 0/1 (boolean) inputs, as Qlib's bitwise or of boolean series.",
		build: func(a *call) formula.Node {
			p := a.c.Pos
			return where(p, a.series[0], lit(1, p), where(p, a.series[1], lit(1, p), lit(0, p)))
		}},
}

// The operator forms of arithmetic and comparisons (Add($a, $b) is
// $a + $b), with the same semantics as the operators.
func init() {
	for _, o := range []struct {
		name string
		op   formula.Op
	}{
		{"Add", formula.OpAdd}, {"Sub", formula.OpSub}, {"Mul", formula.OpMul}, {"Div", formula.OpDiv},
		{"Gt", formula.OpGT}, {"Ge", formula.OpGE}, {"Lt", formula.OpLT}, {"Le", formula.OpLE},
		{"Eq", formula.OpEQ}, {"Ne", formula.OpNE},
	} {
		op := o.op
		f := &Func{Name: o.name, Params: []param{pLeft, pRight}, Fdag: "x " + op.String() + " y",
			build: func(a *call) formula.Node {
				if op.IsComparison() {
					return compare(op, a.series[0], a.series[1], a.c.Pos)
				}
				return bin(op, a.series[0], a.series[1])
			}}
		if op.IsComparison() {
			f.Diff = "As the comparison operator " + op.String() + "."
		}
		Functions = append(Functions, f)
	}
	for _, f := range Functions {
		byName[f.Name] = f
	}
}

var byName = map[string]*Func{}

func lookup(name string) *Func { return byName[name] }
