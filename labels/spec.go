package labels

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/featuredag/fdag/formula"
)

// Spec is one labelling method with every parameter, as the command line
// and the cdm_labels table write it: METHOD[:key=value...], e.g.
// triple_barrier:pt=2:sl=1:vol=100:horizon=1h. Params holds every
// parameter of the method (defaults filled in); durations in nanoseconds.
type Spec struct {
	Method string
	Params map[string]float64
}

// paramKind is how a parameter is written and checked.
type paramKind int

const (
	paramInt      paramKind = iota // rows, buckets: an integer >= min
	paramFloat                     // a finite number >= min
	paramDuration                  // '1h', '500ms': > 0 (nanoseconds)
)

// param declares one parameter of a method.
type param struct {
	name string
	kind paramKind
	def  string  // default, as written
	min  float64 // smallest allowed value (durations: > 0)
	doc  string
}

// method declares a labelling method once; ParseSpec, String, the CLI
// help and docs/process.md's table are driven by it.
type method struct {
	name   string
	params []param
	cross  bool // labels the cross section of every symbol at each bucket
	doc    string
}

var (
	pH         = param{"h", paramInt, "1", 1, "rows (bars, trades) ahead"}
	pThreshold = param{"threshold", paramFloat, "0", 0, "|return| above it is labelled 1 / -1, else 0"}
	pPT        = param{"pt", paramFloat, "1", 0, "profit-take at +pt * volatility (0: none)"}
	pSL        = param{"sl", paramFloat, "1", 0, "stop-loss at -sl * volatility (0: none)"}
	pVol       = param{"vol", paramInt, "100", 2, "rows of one-row returns in the rolling volatility"}
	pHorizon   = param{"horizon", paramDuration, "1h", 0, "vertical barrier: the first row at or after the event + horizon"}
	pBucket    = param{"bucket", paramDuration, "1m", 0, "cross-section key: events are the last of each symbol in each bucket (must divide a day)"}
	pHB        = param{"h", paramInt, "1", 1, "buckets ahead: the return to the last event of the bucket h later"}
)

var methods = []method{
	{"fixed_horizon", []param{pH, pThreshold}, false,
		"ret = price[i+h]/price[i] - 1; label 1 above threshold, -1 below -threshold, else 0"},
	{"triple_barrier", []param{pPT, pSL, pVol, pHorizon}, false,
		"the first barrier touched: +pt*vol (label 1), -sl*vol (-1), or the vertical barrier (sign of the return)"},
	{"meta", []param{pPT, pSL, pVol, pHorizon}, false,
		"the triple barrier over the event's side (trades: the taker side; bars: the sign of 2*buy_volume - volume); 1 when the side made money, else 0"},
	{"trend_scan", []param{{"window", paramInt, "20", 4, "look-forward rows; horizons L = min, min+step, ... < window"}, {"min", paramInt, "5", 3, "shortest horizon (rows)"}, {"step", paramInt, "1", 1, "horizon step (rows)"}}, false,
		"the t-value of the OLS slope over the horizon with the largest |t|; label its sign"},
	{"excess_median", []param{pBucket, pHB}, true,
		"the bucket return minus the median of every symbol's return at the same bucket"},
	{"tail_sets", []param{pBucket, pHB, {"q", paramFloat, "0.1", 0, "quantile: the ceil(q*n) best are 1, the ceil(q*n) worst -1 (0 < q <= 0.5)"}}, true,
		"at each bucket the top quantile of returns 1, the bottom -1, the rest 0"},
}

func findMethod(name string) (method, bool) {
	i := slices.IndexFunc(methods, func(m method) bool { return m.name == name })
	if i < 0 {
		return method{}, false
	}
	return methods[i], true
}

// MethodNames lists the methods in table order.
func MethodNames() []string {
	out := make([]string, len(methods))
	for i, m := range methods {
		out[i] = m.name
	}
	return out
}

// Help is one line per method with its parameters and defaults, for the
// command line's help.
func Help() string {
	var b strings.Builder
	for _, m := range methods {
		b.WriteString("  " + m.name)
		for _, p := range m.params {
			b.WriteString(":" + p.name + "=" + p.def)
		}
		b.WriteString("\n      " + m.doc + "\n")
	}
	return b.String()
}

// ParseSpec reads METHOD[:key=value...]; parameters not given take their
// defaults.
func ParseSpec(s string) (Spec, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	m, ok := findMethod(parts[0])
	if !ok {
		return Spec{}, fmt.Errorf("label method %q: unknown method %q (known: %s)", s, parts[0], strings.Join(MethodNames(), ", "))
	}
	sp := Spec{Method: m.name, Params: map[string]float64{}}
	given := map[string]string{}
	for _, kv := range parts[1:] {
		key, val, ok := strings.Cut(kv, "=")
		if !ok {
			return Spec{}, fmt.Errorf("label method %q: parameter %q is not key=value", s, kv)
		}
		if slices.IndexFunc(m.params, func(p param) bool { return p.name == key }) < 0 {
			return Spec{}, fmt.Errorf("label method %q: %s has no parameter %q (parameters: %s)", s, m.name, key, m.paramNames())
		}
		if _, dup := given[key]; dup {
			return Spec{}, fmt.Errorf("label method %q: parameter %s given twice", s, key)
		}
		given[key] = val
	}
	for _, p := range m.params {
		val, ok := given[p.name]
		if !ok {
			val = p.def
		}
		v, err := p.parse(val)
		if err != nil {
			return Spec{}, fmt.Errorf("label method %q: %s=%s: %v", s, p.name, val, err)
		}
		sp.Params[p.name] = v
	}
	if err := sp.check(); err != nil {
		return Spec{}, fmt.Errorf("label method %q: %w", s, err)
	}
	return sp, nil
}

// ParseSpecs reads a comma-separated list (the --methods flag).
func ParseSpecs(list string) ([]Spec, error) {
	var out []Spec
	seen := map[string]bool{}
	for _, s := range strings.Split(list, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		sp, err := ParseSpec(s)
		if err != nil {
			return nil, err
		}
		if seen[sp.String()] {
			return nil, fmt.Errorf("label method %s is requested twice", sp)
		}
		seen[sp.String()] = true
		out = append(out, sp)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no label methods given (e.g. fixed_horizon:h=10,triple_barrier:pt=2:sl=1:horizon=1h)")
	}
	return out, nil
}

func (m method) paramNames() string {
	var names []string
	for _, p := range m.params {
		names = append(names, p.name)
	}
	return strings.Join(names, ", ")
}

func (p param) parse(s string) (float64, error) {
	switch p.kind {
	case paramDuration:
		d, err := formula.ParseDuration(s)
		if err != nil {
			return 0, err
		}
		if d <= 0 {
			return 0, fmt.Errorf("want a positive duration")
		}
		if d%1000 != 0 {
			return 0, fmt.Errorf("finer than the timestamps (microseconds)")
		}
		return float64(d), nil
	case paramInt:
		v, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("not an integer")
		}
		if float64(v) < p.min {
			return 0, fmt.Errorf("want >= %v", p.min)
		}
		if v > MaxRows {
			return 0, fmt.Errorf("want <= %d (labels.MaxRows)", MaxRows)
		}
		return float64(v), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("not a finite number")
	}
	if v < p.min {
		return 0, fmt.Errorf("want >= %v", p.min)
	}
	return v, nil
}

// MaxRows bounds every parameter counted in rows or buckets: a label's
// work and the future it reads grow with them.
const MaxRows = 100_000

const nsDay = int64(24 * time.Hour)

func (s Spec) check() error {
	switch s.Method {
	case "trend_scan":
		if s.Int("min") >= s.Int("window") {
			return fmt.Errorf("min=%d: want min < window=%d", s.Int("min"), s.Int("window"))
		}
	case "tail_sets":
		if q := s.Params["q"]; !(q > 0 && q <= 0.5) {
			return fmt.Errorf("q=%v: want 0 < q <= 0.5", q)
		}
	}
	if b, ok := s.Params["bucket"]; ok && (int64(b) > nsDay || nsDay%int64(b) != 0) {
		return fmt.Errorf("bucket=%s: want a duration that divides a day (1m, 5m, 1h, 1d)", formula.FormatDuration(int64(b)))
	}
	return nil
}

// Int is an integer parameter.
func (s Spec) Int(name string) int { return int(s.Params[name]) }

// Duration is a duration parameter.
func (s Spec) Duration(name string) time.Duration { return time.Duration(s.Params[name]) }

// Cross reports whether the method labels a cross section of symbols.
func (s Spec) Cross() bool {
	m, _ := findMethod(s.Method)
	return m.cross
}

// Horizon is the longest stretch of time after an event the label needs
// (0 when it counts rows only): the vertical barrier, or h buckets.
func (s Spec) Horizon() time.Duration {
	switch {
	case s.Method == "triple_barrier" || s.Method == "meta":
		return s.Duration("horizon")
	case s.Cross():
		return time.Duration(s.Int("h")) * s.Duration("bucket")
	}
	return 0
}

// VolWindow is the rows of history before an event the label needs
// (the rolling volatility's), 0 for the others.
func (s Spec) VolWindow() int {
	if s.Method == "triple_barrier" || s.Method == "meta" {
		return s.Int("vol")
	}
	return 0
}

// String is the canonical spec: the method and every parameter in the
// table's order (what cdm_labels stores in label_spec).
func (s Spec) String() string {
	m, _ := findMethod(s.Method)
	out := m.name
	for _, p := range m.params {
		v := s.Params[p.name]
		switch p.kind {
		case paramDuration:
			out += ":" + p.name + "=" + formula.FormatDuration(int64(v))
		default:
			out += ":" + p.name + "=" + strconv.FormatFloat(v, 'g', -1, 64)
		}
	}
	return out
}
