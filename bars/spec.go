// Package bars turns a symbol's trades into the bars of López de Prado,
// Advances in Financial Machine Learning (AFML), chapter 2: time bars, the
// standard tick / volume / dollar bars with fixed thresholds, and the
// information-driven tick / volume / dollar imbalance and run bars with
// expected-value thresholds updated by EWMAs.
//
// One Engine per symbol computes every requested kind in one pass over the
// trades: each input batch is decoded once (times, prices, sizes, dollar
// values, trade signs) and every kind scans it while it is in cache. State
// carries across batches, so any batching of the same trades gives the same
// bars.
//
// Shard edges: every bar lies inside one UTC day. At the first trade of a
// new UTC day all open bars are closed (complete=false unless they reached
// their threshold) and the state of every kind is reset, information-driven
// expectations included. A day therefore depends on that day's trades only,
// so days run as independent shards (in parallel, in any order, re-run one
// at a time) and a run sharded by day equals an unsharded run bar for bar.
// Time bars are [k*d, (k+1)*d) on the UTC epoch grid, cut at midnight when d
// does not divide a day; d may not exceed a day.
package bars

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/featuredag/fdag/formula"
)

// Kind is a bar kind.
type Kind int

// The bar kinds.
const (
	Time Kind = iota
	Tick
	Volume
	Dollar
	TickImbalance
	VolumeImbalance
	DollarImbalance
	TickRun
	VolumeRun
	DollarRun
)

// family is how a kind decides where a bar ends.
type family int

const (
	familyTime      family = iota // the epoch grid of a duration
	familyStandard                // running measure reaches a fixed threshold
	familyImbalance               // |signed measure| exceeds E[T]*|E[imbalance]|
	familyRun                     // max(buy run, sell run) exceeds E[T]*max(P*E[buy], (1-P)*E[sell])
)

// measure is what a trade contributes: 1, its size or its dollar value.
type measure int

const (
	measureTick measure = iota
	measureVolume
	measureDollar
)

// kindInfo declares a kind once; everything else is driven by this table.
type kindInfo struct {
	name    string
	family  family
	measure measure
	doc     string
}

var kinds = [...]kindInfo{
	Time:            {"time", familyTime, measureTick, "trades with time in [k*d, (k+1)*d) UTC; intervals without trades have no bar"},
	Tick:            {"tick", familyStandard, measureTick, "closes on the trade at which the trade count reaches the threshold"},
	Volume:          {"volume", familyStandard, measureVolume, "closes on the trade at which the summed size reaches the threshold"},
	Dollar:          {"dollar", familyStandard, measureDollar, "closes on the trade at which the summed price*size reaches the threshold"},
	TickImbalance:   {"tick_imbalance", familyImbalance, measureTick, "signed trade count exceeds the expected imbalance (AFML 2.3.2.1)"},
	VolumeImbalance: {"volume_imbalance", familyImbalance, measureVolume, "signed volume exceeds the expected imbalance (AFML 2.3.2.2)"},
	DollarImbalance: {"dollar_imbalance", familyImbalance, measureDollar, "signed dollar value exceeds the expected imbalance (AFML 2.3.2.2)"},
	TickRun:         {"tick_run", familyRun, measureTick, "longest one-sided trade count exceeds the expected run (AFML 2.3.2.3)"},
	VolumeRun:       {"volume_run", familyRun, measureVolume, "longest one-sided volume exceeds the expected run (AFML 2.3.2.4)"},
	DollarRun:       {"dollar_run", familyRun, measureDollar, "longest one-sided dollar value exceeds the expected run (AFML 2.3.2.4)"},
}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kinds) {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return kinds[k].name
}

func (k Kind) info() kindInfo { return kinds[k] }

// KindNames lists the kind names in table order.
func KindNames() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.name
	}
	return out
}

// Sign says how an information-driven bar signs a trade.
type Sign int

const (
	// SignSide signs a trade by its taker side: +1 buy, -1 sell, 0 when
	// the side is unknown. The default: the exchange says who the
	// aggressor was.
	SignSide Sign = iota
	// SignTick is AFML's tick rule (p. 29): the sign of the price change,
	// the previous sign when the price is unchanged, 0 before the first
	// change of the day. What mlfinpy uses.
	SignTick
)

// Parameter defaults of the information-driven bars: mlfinpy's, except
// the initial expected ticks, which has no useful default (mlfinpy's 20000
// is more than many symbols trade in a day) and must be given.
const (
	DefaultPrevBars = 3     // bars in the EWMA of E[T], the expected ticks per bar
	DefaultWindow   = 10000 // trades in the EWMA of the expected imbalance
	// MaxWindow bounds Window and PrevBars: the kernel keeps that many
	// recent values per kind and symbol, and while a day's window fills
	// each bar sums it afresh (mlfinpy's span changes with every trade),
	// so memory and time would otherwise grow with a parameter.
	MaxWindow = 100_000
)

// Spec is one requested bar kind with its parameters.
type Spec struct {
	Kind Kind
	// Threshold of tick, volume and dollar bars (> 0).
	Threshold float64
	// Duration of time bars in nanoseconds (> 0, at most a day).
	Duration int64

	// Information-driven bars (AFML 2.3.2, EMA variant as mlfinpy):
	// ExpTicksInit is the initial E[T] (>= 1); the first bar of a day
	// waits until that many trades have been seen. After each bar E[T]
	// is the EWMA (span PrevBars) of the last PrevBars bars' trade
	// counts, clamped to [MinExpTicks, MaxExpTicks] when they are set
	// (MinExpTicks = MaxExpTicks = ExpTicksInit gives mlfinpy's "const"
	// bars). The expected imbalance is the EWMA (span min(n, Window)) of
	// the last min(n, Window) signed measures; run bars keep one for buys
	// and one for sells, and P, the EWMA of the bars' buy-trade shares.
	ExpTicksInit float64
	PrevBars     int
	Window       int
	MinExpTicks  float64 // 0: no lower bound
	MaxExpTicks  float64 // 0: no upper bound
	Sign         Sign
}

// ParseSpec reads one kind as the command line writes it:
//
//	time:1m  time:500ms  tick:500  volume:1000  dollar:8e4
//	tick_imbalance:100  volume_run:50:window=1000:prev=3:sign=tick:min=10:max=5000
//
// The value after the first colon is the duration, the threshold, or for
// imbalance and run bars the initial expected ticks per bar; key=value
// pairs after further colons set the other parameters of those bars.
func ParseSpec(s string) (Spec, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	name := parts[0]
	kind := Kind(-1)
	for i, k := range kinds {
		if k.name == name {
			kind = Kind(i)
		}
	}
	if kind < 0 {
		return Spec{}, fmt.Errorf("bar kind %q: unknown kind %q (known: %s)", s, name, strings.Join(KindNames(), ", "))
	}
	if len(parts) < 2 || parts[1] == "" {
		return Spec{}, fmt.Errorf("bar kind %q: %s needs a value after the colon, e.g. %s", s, name, example(kind))
	}
	sp := Spec{Kind: kind, PrevBars: DefaultPrevBars, Window: DefaultWindow}
	info := kind.info()
	switch info.family {
	case familyTime:
		d, err := formula.ParseDuration(parts[1])
		if err != nil {
			return Spec{}, fmt.Errorf("bar kind %q: %w", s, err)
		}
		sp.Duration = d
	case familyStandard:
		v, err := strconv.ParseFloat(parts[1], 64)
		if err != nil {
			return Spec{}, fmt.Errorf("bar kind %q: threshold %q is not a number", s, parts[1])
		}
		sp.Threshold = v
	default:
		v, err := strconv.ParseFloat(parts[1], 64)
		if err != nil {
			return Spec{}, fmt.Errorf("bar kind %q: initial expected ticks %q is not a number", s, parts[1])
		}
		sp.ExpTicksInit = v
	}
	if len(parts) > 2 && (info.family == familyTime || info.family == familyStandard) {
		return Spec{}, fmt.Errorf("bar kind %q: %s takes one value, got %q", s, name, strings.Join(parts[2:], ":"))
	}
	for _, kv := range parts[min(2, len(parts)):] {
		key, val, ok := strings.Cut(kv, "=")
		if !ok {
			return Spec{}, fmt.Errorf("bar kind %q: parameter %q is not key=value", s, kv)
		}
		var err error
		switch key {
		case "window":
			sp.Window, err = strconv.Atoi(val)
		case "prev":
			sp.PrevBars, err = strconv.Atoi(val)
		case "min":
			sp.MinExpTicks, err = strconv.ParseFloat(val, 64)
		case "max":
			sp.MaxExpTicks, err = strconv.ParseFloat(val, 64)
		case "sign":
			switch val {
			case "side":
				sp.Sign = SignSide
			case "tick":
				sp.Sign = SignTick
			default:
				err = fmt.Errorf("want side or tick")
			}
		default:
			return Spec{}, fmt.Errorf("bar kind %q: unknown parameter %q (known: window, prev, min, max, sign)", s, key)
		}
		if err != nil {
			return Spec{}, fmt.Errorf("bar kind %q: parameter %s=%q: %v", s, key, val, err)
		}
	}
	if err := sp.Validate(); err != nil {
		return Spec{}, fmt.Errorf("bar kind %q: %w", s, err)
	}
	return sp, nil
}

// ParseSpecs reads a comma-separated list of kinds (the --kinds flag).
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
		if seen[sp.Name()] {
			return nil, fmt.Errorf("bar kind %q is requested twice", sp.Name())
		}
		seen[sp.Name()] = true
		out = append(out, sp)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no bar kinds given (e.g. %s)", "tick:500,volume:1000,dollar:8e4,time:1m")
	}
	return out, nil
}

func example(k Kind) string {
	switch k.info().family {
	case familyTime:
		return "time:1m"
	case familyStandard:
		return k.String() + ":500"
	}
	return k.String() + ":100"
}

const day = int64(86_400_000_000) // microseconds

// Validate checks the parameters.
func (s Spec) Validate() error {
	if s.Kind < 0 || int(s.Kind) >= len(kinds) {
		return fmt.Errorf("unknown bar kind %d", int(s.Kind))
	}
	positive := func(v float64) bool { return v > 0 && !math.IsInf(v, 0) }
	switch s.Kind.info().family {
	case familyTime:
		if s.Duration <= 0 {
			return fmt.Errorf("time bars need a positive duration")
		}
		if s.Duration%1000 != 0 {
			return fmt.Errorf("time bar duration %s is finer than the trade timestamps (microseconds)", formula.FormatDuration(s.Duration))
		}
		if s.Duration/1000 > day {
			return fmt.Errorf("time bar duration %s is longer than a day: bars reset at each UTC day", formula.FormatDuration(s.Duration))
		}
	case familyStandard:
		if !positive(s.Threshold) {
			return fmt.Errorf("%s bars need a positive finite threshold, got %v", s.Kind, s.Threshold)
		}
	default:
		if !(s.ExpTicksInit >= 1) || math.IsInf(s.ExpTicksInit, 0) {
			return fmt.Errorf("%s bars need initial expected ticks >= 1, got %v", s.Kind, s.ExpTicksInit)
		}
		if s.Window < 1 || s.Window > MaxWindow {
			return fmt.Errorf("window=%d: want 1..%d trades", s.Window, MaxWindow)
		}
		if s.PrevBars < 1 || s.PrevBars > MaxWindow {
			return fmt.Errorf("prev=%d: want 1..%d bars", s.PrevBars, MaxWindow)
		}
		if s.MinExpTicks < 0 || s.MaxExpTicks < 0 || (s.MaxExpTicks > 0 && s.MaxExpTicks < s.MinExpTicks) {
			return fmt.Errorf("min=%v max=%v: want 0 <= min <= max (0: no bound)", s.MinExpTicks, s.MaxExpTicks)
		}
	}
	return nil
}

// Name is the kind with its parameters as a table-name suffix:
// time_1m, tick_500, dollar_80000, tick_imbalance_100,
// volume_run_50_window1000_signtick (non-default parameters appended).
func (s Spec) Name() string {
	num := func(v float64) string {
		return strings.NewReplacer(".", "p", "+", "", "-", "m").Replace(strconv.FormatFloat(v, 'f', -1, 64))
	}
	name := s.Kind.String()
	switch s.Kind.info().family {
	case familyTime:
		return name + "_" + formula.FormatDuration(s.Duration)
	case familyStandard:
		return name + "_" + num(s.Threshold)
	}
	name += "_" + num(s.ExpTicksInit)
	if s.Window != DefaultWindow {
		name += "_window" + strconv.Itoa(s.Window)
	}
	if s.PrevBars != DefaultPrevBars {
		name += "_prev" + strconv.Itoa(s.PrevBars)
	}
	if s.MinExpTicks > 0 {
		name += "_min" + num(s.MinExpTicks)
	}
	if s.MaxExpTicks > 0 {
		name += "_max" + num(s.MaxExpTicks)
	}
	if s.Sign == SignTick {
		name += "_signtick"
	}
	return name
}

// Table is the warehouse table of the kind: cdm_bars_<Name>.
func (s Spec) Table() string { return TablePrefix + s.Name() }

// TablePrefix starts the name of every bar table.
const TablePrefix = "cdm_bars_"

// String is the spec as ParseSpec reads it.
func (s Spec) String() string {
	switch s.Kind.info().family {
	case familyTime:
		return "time:" + formula.FormatDuration(s.Duration)
	case familyStandard:
		return s.Kind.String() + ":" + strconv.FormatFloat(s.Threshold, 'g', -1, 64)
	}
	out := fmt.Sprintf("%s:%s:window=%d:prev=%d", s.Kind, strconv.FormatFloat(s.ExpTicksInit, 'g', -1, 64), s.Window, s.PrevBars)
	if s.MinExpTicks > 0 {
		out += ":min=" + strconv.FormatFloat(s.MinExpTicks, 'g', -1, 64)
	}
	if s.MaxExpTicks > 0 {
		out += ":max=" + strconv.FormatFloat(s.MaxExpTicks, 'g', -1, 64)
	}
	if s.Sign == SignTick {
		out += ":sign=tick"
	} else {
		out += ":sign=side"
	}
	return out
}
