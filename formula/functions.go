package formula

import "github.com/featuredag/fdag/fmath"

// ArgKind says what an argument of a built-in may be.
type ArgKind int

const (
	// KindSeries is any expression: a column, a feature, a call, a number.
	KindSeries ArgKind = iota
	// KindInt is a non-negative integer literal (a lag distance).
	KindInt
	// KindWindow is a positive integer literal (that many rows) or a
	// duration string ('5m'): a trailing window.
	KindWindow
	// KindHalfLife is a positive number literal (rows) or a duration string.
	KindHalfLife
	// KindMinSamples is a positive integer literal: the fewest non-null
	// values a window needs for a non-null result. Left out, it is the
	// window length for a row window and 1 for a duration window (Polars).
	KindMinSamples
	// KindQuantile is a number literal in [0, 1] (the q of a quantile).
	KindQuantile
	numKinds
)

var kindText = [...]string{
	KindSeries:     "series",
	KindInt:        "integer",
	KindWindow:     "window (integer rows or duration string)",
	KindHalfLife:   "half-life (number of rows or duration string)",
	KindMinSamples: "min_samples (positive integer)",
	KindQuantile:   "quantile (number in [0, 1])",
}

func (k ArgKind) String() string {
	if k < 0 || int(k) >= len(kindText) {
		return "?"
	}
	return kindText[k]
}

// Param declares one parameter of a built-in.
type Param struct {
	Name string
	Kind ArgKind
	// Optional parameters may be left out; Default is then used. A nil
	// Default on an optional parameter means "depends on other arguments"
	// (min_samples defaults to the window length for row windows, 1 for
	// duration windows) and is documented in DefaultDoc.
	Optional   bool
	Default    *float64
	DefaultDoc string
	// Min is the smallest value allowed for KindInt parameters.
	Min int
	// Max is the largest number of rows a KindInt, KindWindow or
	// KindHalfLife parameter may give; durations are bounded by
	// MaxDuration. 0 means no bound.
	Max float64
}

// Upper bounds of the parameters that size a kernel's state. The kernels'
// state grows with the rows actually seen, never with these (issue 8), so
// they are not memory limits; they catch a typo (an extra zero, a timestamp
// pasted as a window) before a fetch reads years of warmup for it, and they
// are far above any window a feature sensibly uses. docs/functions.md lists
// them.
const (
	// MaxWindowRows bounds row windows and min_samples.
	MaxWindowRows = 10_000_000
	// MaxLag bounds the k of lag and diff.
	MaxLag = 10_000_000
	// MaxHalfLifeRows bounds half-lives given in rows.
	MaxHalfLifeRows = 1e9
	// MaxDuration bounds duration windows and half-lives: 3650 days.
	MaxDuration = 3650 * 24 * 3600e9
)

// Families of built-ins. The family decides how the IR treats a call:
// whether it folds over constants, what history (lookback) it needs, and
// whether its kernel keeps state per symbol.
const (
	// FamilyElementwise: each row from the same row of the arguments;
	// stateless, folded over constants with Eval.
	FamilyElementwise = "elementwise"
	// FamilyShift: the value K rows earlier (lookback K rows).
	FamilyShift = "shift"
	// FamilyRolling: an aggregate over a trailing window (lookback w).
	FamilyRolling = "rolling"
	// FamilyDecay: exponential decay over all earlier rows (unbounded
	// lookback, a practical warmup of a number of half-lives).
	FamilyDecay = "decay"
	// FamilyCumulative: an aggregate of every earlier row of the symbol,
	// equally weighted, so no warmup is enough: the result depends on
	// where the rows begin. Computed from the first row of the input;
	// refused where the input is a bounded warmup before a range (fetches
	// and batch runs, ir.Options.BoundedWarmup).
	FamilyCumulative = "cumulative"
)

// Families lists the families in documentation order.
var Families = []string{FamilyElementwise, FamilyShift, FamilyRolling, FamilyDecay, FamilyCumulative}

// Func declares a built-in function. This table is the single source of
// truth: the checker validates and binds calls against it, the IR derives
// one primitive per function from it (family, parameters, fold rule,
// lookback), compute binds each primitive to a kernel (a test fails if one
// is missing), and docs/functions.md is generated from it.
type Func struct {
	Name    string
	Family  string // one of Families
	Params  []Param
	Doc     string
	Example string
	// Eval is the float rule of an elementwise function, shared by
	// constant folding and (unless compute registers a dedicated loop)
	// its kernel: a func(float64) float64, func(a, b float64) float64 or
	// func(a, b, c float64) float64, one argument per series parameter.
	// Nulls propagate around it: any null argument gives a null row.
	Eval any
	// SkipNulls changes the null rule of an elementwise function: a null
	// argument is left out and the result is over the others (null when
	// every argument is null), as Polars' max_horizontal and fill_null.
	SkipNulls bool
	// Variadic functions take their last parameter (a series) any number
	// of times, positionally: max(a, b, c) is max(max(a, b), c).
	Variadic bool
}

// MinArgs is the number of required parameters.
func (f *Func) MinArgs() int {
	n := 0
	for _, p := range f.Params {
		if !p.Optional {
			n++
		}
	}
	return n
}

// MaxArgs is the number of parameters (unbounded for a variadic function:
// the formula length bounds it).
func (f *Func) MaxArgs() int {
	if f.Variadic {
		return MaxFormulaLen
	}
	return len(f.Params)
}

func num(v float64) *float64 { return &v }

var (
	pX       = Param{Name: "x", Kind: KindSeries}
	pY       = Param{Name: "y", Kind: KindSeries}
	pA       = Param{Name: "a", Kind: KindSeries}
	pB       = Param{Name: "b", Kind: KindSeries}
	pWindow  = Param{Name: "w", Kind: KindWindow, Max: MaxWindowRows}
	pMinSamp = Param{Name: "min_samples", Kind: KindMinSamples, Optional: true, Min: 1, Max: MaxWindowRows,
		DefaultDoc: "w for a row window, 1 for a duration window"}
	pHalfLife = Param{Name: "h", Kind: KindHalfLife, Max: MaxHalfLifeRows}
	pLagK     = Param{Name: "k", Kind: KindInt, Optional: true, Default: num(1), Max: MaxLag}
)

// xWindow is the parameter list of most rolling functions: one series, a
// window, an optional min_samples. The table only reads it.
var xWindow = []Param{pX, pWindow, pMinSamp}

// Functions is the table of built-ins, in documentation order.
var Functions = []*Func{
	{Name: "log", Family: "elementwise", Params: []Param{pX}, Eval: fmath.Log,
		Doc: "Natural logarithm; IEEE results (log(0) = -inf, log(-1) = NaN).", Example: "log(close)"},
	{Name: "exp", Family: "elementwise", Params: []Param{pX}, Eval: fmath.Exp,
		Doc: "e raised to x, correctly rounded.", Example: "exp(-abs(diff(close)))"},
	{Name: "abs", Family: "elementwise", Params: []Param{pX}, Eval: fmath.Abs,
		Doc: "Absolute value.", Example: "abs(diff(close, 1))"},
	{Name: "sqrt", Family: "elementwise", Params: []Param{pX}, Eval: fmath.Sqrt,
		Doc: "Square root; sqrt(-1) = NaN.", Example: "sqrt(rolling_sum(diff(log(close)) ** 2, 100))"},
	{Name: "sign", Family: "elementwise", Params: []Param{pX}, Eval: fmath.Sign,
		Doc: "-1 for negative x, 1 for positive x; 0, -0 and NaN are returned as they are (as Polars' sign).", Example: "sign(diff(close))"},
	{Name: "log1p", Family: "elementwise", Params: []Param{pX}, Eval: fmath.Log1p,
		Doc: "log(1 + x), accurate for x near 0; log1p(-1) = -inf, NaN below -1.", Example: "log1p(volume)"},
	{Name: "tanh", Family: "elementwise", Params: []Param{pX}, Eval: fmath.Tanh,
		Doc: "Hyperbolic tangent, squashing x into (-1, 1); ±1 at ±Inf, -0 stays -0, NaN for NaN (as Polars' tanh).", Example: "tanh(diff(log(close)) / rolling_std(diff(log(close)), 100))"},
	{Name: "max", Family: "elementwise", Params: []Param{pA, pB}, Variadic: true, SkipNulls: true, Eval: fmath.Max,
		Doc: "The largest argument, row by row; nulls and NaNs are skipped (null when all are null, NaN when all non-null ones are NaN), as Polars' max_horizontal.", Example: "max(close - lag(close), 0)"},
	{Name: "min", Family: "elementwise", Params: []Param{pA, pB}, Variadic: true, SkipNulls: true, Eval: fmath.Min,
		Doc: "The smallest argument, row by row; nulls and NaNs are skipped as for max (Polars' min_horizontal).", Example: "min(close, lag(close), lag(close, 2))"},
	{Name: "clip", Family: "elementwise", Params: []Param{pX, {Name: "lo", Kind: KindSeries}, {Name: "hi", Kind: KindSeries}}, Eval: fmath.Clip,
		Doc: "min(max(x, lo), hi); NaN for a NaN x; null when any argument is null (Polars ignores a null bound).", Example: "clip(diff(log(close)), -0.01, 0.01)"},
	{Name: "where", Family: "elementwise", Params: []Param{{Name: "cond", Kind: KindSeries}, pA, pB}, Eval: fmath.Where,
		Doc: "a where cond is true (non-zero, NaN included), b where it is 0 or null (as Polars' when/then/otherwise); the chosen value's null is kept.", Example: "where(close > lag(close), volume, 0)"},
	{Name: "fill_null", Family: "elementwise", Params: []Param{pX, {Name: "v", Kind: KindSeries}}, SkipNulls: true, Eval: fmath.First,
		Doc: "x, or v where x is null (NaN is a value and is kept, as Polars' fill_null).", Example: "fill_null(lag(close), close)"},
	{Name: "lag", Family: "shift", Params: []Param{pX, pLagK},
		Doc: "The value k rows earlier in the same symbol; null for the first k rows.", Example: "lag(close, 5)"},
	{Name: "diff", Family: "shift", Params: []Param{pX, pLagK},
		Doc: "x - lag(x, k).", Example: "diff(close, 1)"},
	{Name: "rolling_mean", Family: "rolling", Params: xWindow,
		Doc: "Mean over the trailing window ending at the current row.", Example: "rolling_mean(close, 20)"},
	{Name: "rolling_std", Family: "rolling", Params: xWindow,
		Doc: "Sample standard deviation (ddof = 1) over the trailing window; null for fewer than two values.", Example: "rolling_std(diff(log(close)), '5m')"},
	{Name: "rolling_sum", Family: "rolling", Params: xWindow,
		Doc: "Sum over the trailing window.", Example: "rolling_sum(volume, '1m')"},
	{Name: "rolling_min", Family: "rolling", Params: xWindow,
		Doc: "Minimum over the trailing window.", Example: "rolling_min(close, 100)"},
	{Name: "rolling_max", Family: "rolling", Params: xWindow,
		Doc: "Maximum over the trailing window.", Example: "rolling_max(close, 100)"},
	{Name: "rolling_corr", Family: "rolling", Params: []Param{pX, pY, pWindow, pMinSamp},
		Doc: "Pearson correlation (ddof = 1) of x and y over the trailing window; null for fewer than two pairs, NaN when either input is constant.", Example: "rolling_corr(close, volume, 100)"},
	{Name: "rolling_var", Family: "rolling", Params: xWindow,
		Doc: "Sample variance (ddof = 1) over the trailing window; null for fewer than two values; shifted, compensated sums (exact to ~1e-12 relative for prices near 1e5 moving by 1e-6).", Example: "rolling_var(diff(log(close)), 100)"},
	{Name: "rolling_count", Family: "rolling", Params: []Param{pX, pWindow},
		Doc: "Number of non-null values in the trailing window (NaN counts); 0, not null, for a window of nulls.", Example: "rolling_count(close, '1m')"},
	{Name: "rolling_cov", Family: "rolling", Params: []Param{pX, pY, pWindow, pMinSamp},
		Doc: "Sample covariance (ddof = 1) of x and y over the pairs of the trailing window where both are non-null; null for fewer than two pairs, NaN while a pair holds a NaN or infinity.", Example: "rolling_cov(close, volume, 100)"},
	{Name: "rolling_slope", Family: "rolling", Params: xWindow,
		Doc: "Least-squares slope of x against the row index (row window: per row) or the time in seconds (duration window: per second) over the non-null rows of the window; null for fewer than two, NaN when all rows share one time.", Example: "rolling_slope(close, 20)"},
	{Name: "rolling_rsquare", Family: "rolling", Params: xWindow,
		Doc: "r^2 of the least-squares line of rolling_slope; NaN for a constant x.", Example: "rolling_rsquare(close, 20)"},
	{Name: "rolling_resi", Family: "rolling", Params: xWindow,
		Doc: "Residual of the current row from the least-squares line of rolling_slope (x minus the fitted value); null when the current row is null.", Example: "rolling_resi(close, 20)"},
	{Name: "rolling_argmax", Family: "rolling", Params: xWindow,
		Doc: "Rows since the maximum of the trailing window (0 when the current row is it); ties go to the earliest; NaN while a NaN is in the window.", Example: "rolling_argmax(close, 20)"},
	{Name: "rolling_argmin", Family: "rolling", Params: xWindow,
		Doc: "Rows since the minimum of the trailing window, as rolling_argmax.", Example: "rolling_argmin(close, 20)"},
	{Name: "rolling_median", Family: "rolling", Params: xWindow,
		Doc: "Median of the non-null values of the trailing window (the quantile 0.5, linear); NaN sorts largest, as in Polars; O(log w) per row.", Example: "rolling_median(close, 100)"},
	{Name: "rolling_quantile", Family: "rolling", Params: []Param{pX, pWindow, {Name: "q", Kind: KindQuantile}, pMinSamp},
		Doc: "The q-quantile of the non-null values of the trailing window, interpolated linearly between the nearest ranks (Polars interpolation='linear', numpy's default); NaN sorts largest; O(log w) per row.", Example: "rolling_quantile(close, 100, 0.9)"},
	{Name: "rolling_skew", Family: "rolling", Params: xWindow,
		Doc: "Sample skewness of the trailing window, bias-corrected (G1, as pandas' rolling skew and Polars' rolling_skew(bias=False)); null for fewer than three values, NaN for a constant window (pandas gives 0); O(1) amortised, shifted compensated sums.", Example: "rolling_skew(diff(log(close)), 100)"},
	{Name: "rolling_kurt", Family: "rolling", Params: xWindow,
		Doc: "Sample excess kurtosis of the trailing window, bias-corrected (G2, as pandas' rolling kurt and Polars' rolling_kurtosis(fisher=True, bias=False)); null for fewer than four values, NaN for a constant window (pandas gives -3); O(1) amortised.", Example: "rolling_kurt(diff(log(close)), 100)"},
	{Name: "rolling_rank", Family: "rolling", Params: xWindow,
		Doc: "Percentile of the current value among the non-null values of its trailing window, in (0, 1]: ties take their average rank, (below + (equal + 1) / 2) / count, as pandas' rolling rank(pct=True) and Qlib's Rank (with min_samples = 1), and Polars' rolling_rank(method='average') / count; null for a null current value; NaN is a value sorting largest, as in Polars (pandas and Qlib skip NaN and give NaN for a NaN current value); O(log w) per row.", Example: "rolling_rank(close, 20)"},
	{Name: "rolling_wma", Family: "rolling", Params: xWindow,
		Doc: "Linearly weighted mean of the trailing window: its rows, oldest to current, weigh 1, 2, ..., n (nulls keep their place but are left out of both sums; a duration window weighs its rows by order, not time); NaN and infinities as for rolling_mean; O(1) amortised.", Example: "rolling_wma(close, 20)"},
	{Name: "decay_accum", Family: "decay", Params: []Param{pX, pHalfLife},
		Doc: "acc_t = x_t + acc_{t-1} * 2^(-1/h) (rows) or 2^(-dt/h) (duration); starts at the first non-null value; a null x adds nothing.", Example: "decay_accum(volume, '30s')"},
	{Name: "ewm_mean", Family: "decay", Params: []Param{pX, pHalfLife},
		Doc: "Exponentially weighted mean with half-life h, as Polars ewm_mean(half_life=h, adjust=True) or ewm_mean_by(time, half_life=h).", Example: "ewm_mean(close, 50)"},
	{Name: "cum_sum", Family: "cumulative", Params: []Param{pX},
		Doc: "Sum of x over every row of the symbol so far (compensated); a null row gives null and adds nothing; NaN from the first NaN on, as Polars' cum_sum. Cumulative from the first input row: refused in fetches and batch runs, whose input starts at a bounded warmup.", Example: "cum_sum(volume)"},
	{Name: "cum_max", Family: "cumulative", Params: []Param{pX},
		Doc: "Largest x of the symbol so far; a null row gives null; NaN is skipped unless nothing else has been seen, as Polars' cum_max. Cumulative from the first input row, as cum_sum.", Example: "close / cum_max(close) - 1"},
	{Name: "cum_min", Family: "cumulative", Params: []Param{pX},
		Doc: "Smallest x of the symbol so far, as cum_max.", Example: "cum_min(close)"},
}

var funcByName = func() map[string]*Func {
	m := make(map[string]*Func, len(Functions))
	for _, f := range Functions {
		m[f.Name] = f
	}
	return m
}()

// LookupFunc returns the built-in with that name, or nil.
func LookupFunc(name string) *Func { return funcByName[name] }
