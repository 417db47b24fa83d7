package ir

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/featuredag/fdag/formula"
)

// inline turns "name=formula" pairs into specs.
func inline(defs ...string) []Spec {
	specs := make([]Spec, len(defs))
	for i, d := range defs {
		name, f, _ := strings.Cut(d, "=")
		specs[i] = Spec{Name: strings.TrimSpace(name), Formula: strings.TrimSpace(f)}
	}
	return specs
}

// rootExpr renders a feature's root as a nested formula over columns, to
// assert on resolution without depending on node numbering.
func rootExpr(p *Plan, id NodeID) string {
	n := p.Nodes[id]
	sub := func(i int) string { return rootExpr(p, n.Args[i]) }
	switch {
	case n.Op == OpSource:
		return "$" + n.Column
	case n.Op == OpConst:
		return formatNumber(n.Value)
	case n.Op == OpNeg:
		return "-(" + sub(0) + ")"
	case n.Op.IsBinary():
		l, r := sub(0), sub(1)
		if n.Op.commutative() && l > r {
			l, r = r, l // argument order follows node ids, which differ with NoCSE
		}
		return "(" + l + " " + n.Op.String() + " " + r + ")"
	}
	e := n.Expr()
	for i := len(n.Args) - 1; i >= 0; i-- {
		e = strings.ReplaceAll(e, "n"+itoa(int(n.Args[i])), sub(i))
	}
	return e
}

func itoa(i int) string { return formatNumber(float64(i)) }

func mustCompile(t *testing.T, specs []Spec, opts Options) *Plan {
	t.Helper()
	p := Compile(specs, opts)
	if err := p.Err(); err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

func TestResolutionOrder(t *testing.T) {
	cols := []string{"trade_price", "trade_size", "close", "x"}
	tests := []struct {
		name    string
		specs   []Spec
		opts    Options
		feature string
		want    string
	}{
		{"column", inline("f = x"), Options{SourceColumns: cols}, "f", "$x"},
		{"alias", inline("f = volume"), Options{SourceColumns: cols}, "f", "$trade_size"},
		{"column before alias", inline("f = close"), Options{SourceColumns: cols}, "f", "$close"},
		{"alias without columns", inline("f = close"), Options{}, "f", "$trade_price"},
		{"unknown without columns", inline("f = anything"), Options{}, "f", "$anything"},
		// A feature named like a column used by another feature is an error
		// (TestCompileErrors "feature named like a column"): once the
		// feature won silently.
		{"feature later in request", inline("f = g * 2", "g = lag(x)"), Options{SourceColumns: cols}, "f", "(2 * lag($x, 1))"},
		{"self name is the column", inline("x = log(x)"), Options{SourceColumns: cols}, "x", "log($x)"},
		{"self name is an alias", inline("close = close / lag(close)"), Options{SourceColumns: []string{"trade_price"}}, "close", "($trade_price / lag($trade_price, 1))"},
		{"custom aliases", inline("f = px"), Options{SourceColumns: cols, Aliases: map[string]string{"px": "trade_price"}}, "f", "$trade_price"},
		{"type input to feature", []Spec{
			{Name: "ret", Formula: "diff(log(close))"},
			{Name: "z", Type: "zscore", Inputs: map[string]string{"x": "ret"}, Params: map[string]any{"w": 3}},
		}, Options{SourceColumns: cols}, "z",
			"((($close - lag($close, 1)) - rolling_mean(($close - lag($close, 1)), 3)) / rolling_std(($close - lag($close, 1)), 3))"},
		{"type input defaults to its name", []Spec{{Name: "r", Type: "log_return"}}, Options{}, "r", "(log($price) - log(lag($price, 1)))"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCompile(t, tt.specs, tt.opts)
			got := rootExpr(p, p.Feature(tt.feature).Root)
			// rootExpr prints log(x) for the log op, so diff(log(close))
			// shows log nodes as log(...).
			got = strings.ReplaceAll(got, "log($close)", "$close")
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestCustomAliasesReplaceDefaults(t *testing.T) {
	p := Compile(inline("f = close"), Options{SourceColumns: []string{"trade_price"}, Aliases: map[string]string{}})
	want := `f: 1:1: unknown identifier "close": not a feature of this request, an input column or an alias`
	if err := p.Feature("f").Err; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestTypeSubstitution(t *testing.T) {
	specs := []Spec{
		{Name: "ret_5", Type: "log_return", Inputs: map[string]string{"price": "close"}, Params: map[string]any{"k": 5}},
		{Name: "vw", Type: "vwap", Inputs: map[string]string{"price": "close", "size": "volume"}, Params: map[string]any{"w": "300s"}},
		{Name: "ew", Type: "ewm_price", Inputs: map[string]string{"price": "close"}, Params: map[string]any{"h": 2.5}},
		{Name: "dflt", Type: "momentum", Inputs: map[string]string{"price": "close"}},
	}
	p := mustCompile(t, specs, Options{})
	want := map[string]string{
		"ret_5": "log(close) - log(lag(close, 5))",
		"vw":    "rolling_sum(close * volume, '5m') / rolling_sum(volume, '5m')",
		"ew":    "ewm_mean(close, 2.5)",
		"dflt":  "close / lag(close, 20) - 1",
	}
	for name, w := range want {
		if got := p.Feature(name).Canonical; got != w {
			t.Errorf("%s: canonical %q, want %q", name, got, w)
		}
	}
	if p.Feature("ret_5").Spec.Namespace != "signal" || p.Feature("ret_5").Spec.Version != "v1.0" {
		t.Errorf("defaults not applied: %+v", p.Feature("ret_5").Spec)
	}
}

func TestErrors(t *testing.T) {
	cols := Options{SourceColumns: []string{"trade_price", "trade_size", "bid"}}
	tests := []struct {
		name   string
		specs  []Spec
		opts   Options
		errs   map[string]string // feature -> Error()
		render map[string]string // feature -> Render(), optional
	}{
		{"arity", inline("ret_5 = log(close) - rolling_mean(close)"), Options{},
			map[string]string{"ret_5": "ret_5: 1:14: rolling_mean expects 2 or 3 arguments, got 1"},
			map[string]string{"ret_5": "ret_5: 1:14: rolling_mean expects 2 or 3 arguments, got 1\n | log(close) - rolling_mean(close)\n |              ^"}},
		{"syntax", inline("f = log(close"), Options{},
			map[string]string{"f": `f: 1:10: unexpected end of formula, expected "," or ")" to close "(" at 1:4`}, nil},
		{"unknown identifier with suggestion", inline("f = log(trade_prise)"), cols,
			map[string]string{"f": `f: 1:5: unknown identifier "trade_prise": not a feature of this request, an input column or an alias; did you mean "trade_price"?`}, nil},
		{"alias target missing", inline("f = volume + close"), Options{SourceColumns: []string{"trade_size"}},
			map[string]string{"f": "f: 1:10: close is an alias of trade_price, which is not an input column"}, nil},
		{"min_samples over window", inline("f = rolling_mean(close, 10, 11)"), Options{},
			map[string]string{"f": "f: 1:25: rolling_mean: min_samples (11) exceeds the window (10 rows), so every value would be null"}, nil},
		{"several problems", inline("f = lag(close, -1) + rolling_sum(close, '5x')"), Options{},
			map[string]string{"f": "f: 1:12: lag: k must be a non-negative integer, got -1\nf: 1:37: rolling_sum: w: invalid duration \"5x\": unknown unit \"x\" (expected one of ns, us, ms, s, m, h, d, w)"}, nil},
		{"missing name", []Spec{{Formula: "close"}}, Options{},
			map[string]string{"": "feature #1: name is required"}, nil},
		{"duplicate name", inline("a = close", "a = volume"), Options{},
			map[string]string{"a": "a: duplicate feature name (also feature #2)", "#2": "a: duplicate feature name (also feature #1)"}, nil},
		{"feature named like an alias", inline("close = log(trade_price)", "b = close * 2", "c = trade_price"), Options{},
			map[string]string{"close": "", "b": `b: 1:1: "close" is both feature #1 of this request and the alias of column trade_price: rename the feature (a formula cannot tell them apart)`, "c": ""}, nil},
		{"feature named like a column", inline("px = log(px)", "b = px + 1"), Options{SourceColumns: []string{"px"}},
			map[string]string{"px": "", "b": `b: 1:1: "px" is both feature #1 of this request and an input column: rename the feature (a formula cannot tell them apart)`}, nil},
		{"unknown type", []Spec{{Name: "r", Type: "log_retrun"}}, Options{},
			map[string]string{"r": `r: unknown feature type "log_retrun"; did you mean "log_return"?`}, nil},
		{"unknown input", []Spec{{Name: "r", Type: "log_return", Inputs: map[string]string{"px": "close"}}}, Options{},
			map[string]string{"r": `r: feature type log_return has no input "px" (inputs: price)`}, nil},
		{"type without its inputs", []Spec{
			{Name: "r", Type: "log_return", Params: map[string]any{"k": 5}},
			{Name: "vw", Type: "vwap", Inputs: map[string]string{"size": "volume"}},
			{Name: "pv", Type: "price_volume_corr"},
			{Name: "ok", Type: "zscore", Params: map[string]any{"w": 3}}, // input x is a column
		}, Options{SourceColumns: []string{"event_time", "trade_price", "trade_size", "x"}},
			map[string]string{
				"r":  `r: feature type log_return needs input price, which the spec does not map and which is no column, alias or feature: give "inputs": {"price": COLUMN}`,
				"vw": `vw: feature type vwap needs input price, which the spec does not map and which is no column, alias or feature: give "inputs": {"price": COLUMN}`,
				"pv": `pv: feature type price_volume_corr needs inputs price, size, which the spec does not map and which are no column, alias or feature: give "inputs": {"price": COLUMN, "size": COLUMN}`,
				"ok": "",
			}, nil},
		{"unknown param", []Spec{{Name: "r", Type: "log_return", Params: map[string]any{"n": 3}}}, Options{},
			map[string]string{"r": `r: feature type log_return has no param "n" (params: k)`}, nil},
		{"bad param value", []Spec{{Name: "r", Type: "log_return", Inputs: map[string]string{"price": "close"}, Params: map[string]any{"k": 2.5}}}, Options{},
			map[string]string{"r": "r: 1:29: lag: k must be a non-negative integer, got 2.5"},
			map[string]string{"r": "r: 1:29: lag: k must be a non-negative integer, got 2.5\n | log(close) - log(lag(close, 2.5))\n |                             ^"}},
		{"bad input value", []Spec{{Name: "r", Type: "log_return", Inputs: map[string]string{"price": "a+b"}}}, Options{},
			map[string]string{"r": `r: input price: name "a+b" is not a valid identifier (letters, digits and _, not starting with a digit, not a Python keyword)`}, nil},
		{"cycle", inline("a = b + 1", "b = c * 2", "c = lag(a)", "d = a + 1", "e = close"), Options{},
			map[string]string{
				"a": "a: 1:1: cycle: a -> b -> c -> a",
				"b": "b: 1:1: cycle: b -> c -> a -> b",
				"c": "c: 1:5: cycle: c -> a -> b -> c",
				"d": `d: 1:1: depends on failed feature "a"`,
				"e": "",
			}, nil},
		{"self cycle", inline("a = a + 1"), cols,
			map[string]string{"a": "a: 1:1: cycle: a -> a"}, nil},
		{"failure isolation", inline("bad = nope(close)", "uses_bad = bad * 2", "good = log(close)", "chain = uses_bad + good"), Options{},
			map[string]string{
				"bad":      `bad: 1:1: unknown function "nope"`,
				"uses_bad": `uses_bad: 1:1: depends on failed feature "bad"`,
				"good":     "",
				"chain":    `chain: 1:1: depends on failed feature "uses_bad"`,
			}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Compile(tt.specs, tt.opts)
			for name, want := range tt.errs {
				var f *Feature
				switch {
				case name == "":
					f = &p.Features[0]
				case strings.HasPrefix(name, "#"):
					f = &p.Features[int(name[1]-'1')]
				default:
					f = p.Feature(name)
				}
				got := ""
				if f.Err != nil {
					got = f.Err.Error()
					if f.Root != -1 {
						t.Errorf("%s: failed feature has root %d", name, f.Root)
					}
				}
				if got != want {
					t.Errorf("%s:\ngot  %s\nwant %s", name, got, want)
				}
				if r, ok := tt.render[name]; ok {
					var fe *FeatureError
					if !errors.As(f.Err, &fe) {
						t.Fatalf("%s: %T is not a *FeatureError", name, f.Err)
					}
					if got := fe.Render(); got != r {
						t.Errorf("%s: render\ngot\n%s\nwant\n%s", name, got, r)
					}
					var fe2 *formula.Error
					if !errors.As(f.Err, &fe2) {
						t.Errorf("%s: the *formula.Error is not reachable", name)
					}
				}
			}
		})
	}
}

func TestFailedFeatureLeavesNoNodes(t *testing.T) {
	p := Compile(inline("bad = rolling_mean(log(close), 3, 9)", "good = close"), Options{})
	if len(p.Nodes) != 1 || p.Nodes[0].Column != "trade_price" {
		t.Fatalf("nodes of the failed feature kept: %s", p.Explain())
	}
	if got := p.SourceColumns(); len(got) != 1 || got[0] != "trade_price" {
		t.Errorf("SourceColumns %v", got)
	}
}

func TestCSE(t *testing.T) {
	tests := []struct {
		name         string
		defs         []string
		nodes        int
		shared       int
		nodesNoCSE   int
		sameRoot     [][2]string // features with one root
		countOps     map[Op]int
		countOpsNone map[Op]int // with NoCSE
	}{
		{"three features share log(close)", []string{"a = log(close) * 2", "b = log(close) + 1", "c = sqrt(log(close))"},
			7, 2, 11, nil, map[Op]int{FuncOp("log"): 1, OpSource: 1}, map[Op]int{FuncOp("log"): 3, OpSource: 3}},
		{"commutative", []string{"a = close + volume", "b = volume + close", "c = close * volume == volume * close"},
			5, 3, 10, [][2]string{{"a", "b"}}, map[Op]int{OpAdd: 1, OpMul: 1, OpEQ: 1}, nil},
		{"not commutative", []string{"a = close - volume", "b = volume - close", "c = close < volume", "d = volume > close"},
			6, 2, 12, nil, map[Op]int{OpSub: 2, OpLT: 1, OpGT: 1}, nil},
		{"diff shares the lag", []string{"a = diff(close, 3)", "b = lag(close, 3)"},
			3, 2, 5, nil, map[Op]int{FuncOp("lag"): 1, OpSub: 1}, map[Op]int{FuncOp("lag"): 2}},
		{"feature reference is an edge", []string{"r = diff(log(close))", "v = rolling_std(r, 10)", "m = rolling_mean(r, 10)"},
			6, 4, 4 + 5 + 5, nil, map[Op]int{FuncOp("log"): 1, FuncOp("lag"): 1}, map[Op]int{FuncOp("log"): 3, FuncOp("lag"): 3}},
		{"identical features", []string{"a = lag(close)", "b = lag(close)"}, 2, 2, 4, [][2]string{{"a", "b"}}, nil, nil},
		{"parameters distinguish", []string{"a = rolling_mean(close, 5)", "b = rolling_mean(close, 5, 3)", "c = rolling_mean(close, '5s')", "d = rolling_sum(close, 5)"},
			5, 1, 8, nil, map[Op]int{FuncOp("rolling_mean"): 3, FuncOp("rolling_sum"): 1}, nil},
	}
	count := func(p *Plan) map[Op]int {
		m := map[Op]int{}
		for _, n := range p.Nodes {
			m[n.Op]++
		}
		return m
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCompile(t, inline(tt.defs...), Options{})
			if len(p.Nodes) != tt.nodes || p.SharedNodes() != tt.shared {
				t.Errorf("nodes %d shared %d, want %d %d\n%s", len(p.Nodes), p.SharedNodes(), tt.nodes, tt.shared, p.Explain())
			}
			for op, n := range tt.countOps {
				if count(p)[op] != n {
					t.Errorf("%d %s nodes, want %d", count(p)[op], op, n)
				}
			}
			for _, pair := range tt.sameRoot {
				if p.Feature(pair[0]).Root != p.Feature(pair[1]).Root {
					t.Errorf("%s and %s have different roots", pair[0], pair[1])
				}
			}
			q := mustCompile(t, inline(tt.defs...), Options{NoCSE: true})
			if len(q.Nodes) != tt.nodesNoCSE || q.SharedNodes() != 0 {
				t.Errorf("NoCSE: nodes %d shared %d, want %d 0\n%s", len(q.Nodes), q.SharedNodes(), tt.nodesNoCSE, q.Explain())
			}
			for op, n := range tt.countOpsNone {
				if count(q)[op] != n {
					t.Errorf("NoCSE: %d %s nodes, want %d", count(q)[op], op, n)
				}
			}
			for i := range p.Features {
				if a, b := rootExpr(p, p.Features[i].Root), rootExpr(q, q.Features[i].Root); a != b {
					t.Errorf("%s differs with NoCSE: %s vs %s", p.Features[i].Spec.Name, a, b)
				}
			}
		})
	}
}

func TestTopologicalAndUses(t *testing.T) {
	p := mustCompile(t, inline("a = log(close) - log(lag(close))", "b = rolling_std(a, 5)", "c = a * a", "d = a"), Options{})
	for _, n := range p.Nodes {
		for _, a := range n.Args {
			if a >= n.ID {
				t.Errorf("n%d uses later n%d", n.ID, a)
			}
		}
	}
	root := p.Feature("a").Root
	// Consumers of a: rolling_std, a*a (once), and the roots of a and d.
	if p.Uses[root] != 4 {
		t.Errorf("uses of a's root: %d, want 4\n%s", p.Uses[root], p.Explain())
	}
}

func TestConstantFolding(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		formula string
		want    float64
	}{
		{"1 + 2 * 3", 7},
		{"-(2 ** 10)", -1024},
		{"2 ** -1", 0.5},
		{"1 / 0", math.Inf(1)},
		{"-1 / 0", math.Inf(-1)},
		{"0 / 0", nan},
		{"log(0)", math.Inf(-1)},
		{"sqrt(-1)", nan},
		{"abs(-3)", 3},
		// exp folds with the kernel's own correctly rounded rule.
		{"exp(1)", 2.718281828459045},
		{"log(-1) == log(-1)", 1}, // Polars: NaN == NaN
		{"log(-1) != log(-1)", 0},
		{"log(-1) > 1 / 0", 1}, // NaN is greatest
		{"log(-1) < 1", 0},
		{"1 <= log(-1)", 1},
		{"-0.0 == 0", 1},
		{"3 >= 3", 1},
		{"2 < 1", 0},
	}
	for _, tt := range tests {
		p := mustCompile(t, inline("f = "+tt.formula), Options{})
		if len(p.Nodes) != 1 || p.Nodes[0].Op != OpConst {
			t.Errorf("%s: not folded:\n%s", tt.formula, p.Explain())
			continue
		}
		got := p.Nodes[0].Value
		if !(got == tt.want || math.IsNaN(got) && math.IsNaN(tt.want)) || math.Signbit(got) != math.Signbit(tt.want) && !math.IsNaN(got) {
			t.Errorf("%s = %v, want %v", tt.formula, got, tt.want)
		}
	}
	// Not folded: window ops over constants, which are null for the
	// first rows.
	for _, f := range []string{"lag(1)", "rolling_sum(1, 3)", "ewm_mean(2, 3)"} {
		p := mustCompile(t, inline("f = "+f), Options{})
		if p.Nodes[p.Feature("f").Root].Op == OpConst {
			t.Errorf("%s was folded", f)
		}
	}
	// A constant subexpression inside a series expression.
	p := mustCompile(t, inline("f = close * (60 * 60)"), Options{})
	if got := rootExpr(p, p.Feature("f").Root); got != "($trade_price * 3600)" {
		t.Errorf("got %s", got)
	}
}

func TestLookback(t *testing.T) {
	tests := []struct {
		formula string
		want    Lookback
	}{
		{"close", Lookback{}},
		{"lag(close, 5)", Lookback{Rows: 5}},
		{"lag(close, 0)", Lookback{}},
		{"diff(close)", Lookback{Rows: 1}},
		{"rolling_mean(close, 20)", Lookback{Rows: 19}},
		{"rolling_mean(lag(close, 5), 10)", Lookback{Rows: 14}},
		{"rolling_sum(close, '5m')", Lookback{Dur: 300e9}},
		{"rolling_sum(lag(close, 2), '5m')", Lookback{Rows: 2, Dur: 300e9}},
		{"lag(close, 3) + rolling_max(close, 10)", Lookback{Rows: 9}},
		{"rolling_corr(lag(close, 4), rolling_sum(volume, '1s'), 3)", Lookback{Rows: 6, Dur: 1e9}},
		{"rolling_std(rolling_mean(close, '1m'), '30s')", Lookback{Dur: 90e9}},
		{"ewm_mean(close, 10)", Lookback{Rows: 400, Unbounded: true}},
		{"ewm_mean(close, 2.5)", Lookback{Rows: 100, Unbounded: true}},
		{"decay_accum(volume, '30s') + lag(close, 3)", Lookback{Rows: 3, Dur: 1200e9, Unbounded: true}},
	}
	for _, tt := range tests {
		p := mustCompile(t, inline("f = "+tt.formula), Options{})
		if got := p.Feature("f").Lookback; got != tt.want {
			t.Errorf("%s: lookback %+v, want %+v", tt.formula, got, tt.want)
		}
	}
	p := mustCompile(t, inline("a = lag(close, 7)", "b = rolling_sum(close, '1h')"), Options{})
	if got := p.MaxLookback(); got != (Lookback{Rows: 7, Dur: 3600e9}) {
		t.Errorf("MaxLookback %+v", got)
	}
}

func TestNodeParams(t *testing.T) {
	p := mustCompile(t, inline("a = rolling_mean(close, 20)", "b = rolling_std(close, '5m')", "c = rolling_sum(close, 20, min_samples=5)",
		"d = ewm_mean(close, '30s')", "e = lag(close, k=4)"), Options{})
	root := func(name string) *Node { return p.Nodes[p.Feature(name).Root] }
	if n := root("a"); n.Window != (Window{Rows: 20}) || n.MinSamples != 20 {
		t.Errorf("a: %+v", n)
	}
	if n := root("b"); n.Window != (Window{Dur: 300e9}) || n.MinSamples != 1 {
		t.Errorf("b: %+v", n)
	}
	if n := root("c"); n.MinSamples != 5 {
		t.Errorf("c: %+v", n)
	}
	if n := root("d"); n.HalfLife != (HalfLife{Dur: 30e9}) {
		t.Errorf("d: %+v", n)
	}
	if n := root("e"); n.K != 4 {
		t.Errorf("e: %+v", n)
	}
	if !p.NeedsTime() {
		t.Error("NeedsTime false")
	}
	if mustCompile(t, inline("a = rolling_mean(close, 20)"), Options{}).NeedsTime() {
		t.Error("NeedsTime true for row windows")
	}
	if got := p.SourceColumns(); len(got) != 1 || got[0] != "trade_price" {
		t.Errorf("SourceColumns %v", got)
	}
}

func TestFeatureID(t *testing.T) {
	id := func(s Spec) string { return Compile([]Spec{s}, Options{}).Features[0].ID }
	base := id(Spec{Name: "v", Formula: "rolling_sum(close, '1m')"})
	if len(base) != 32 {
		t.Fatalf("ID %q", base)
	}
	same := []Spec{
		{Name: "v", Formula: "rolling_sum( (close) ,'60s' )"},
		{Name: "v", Formula: "rolling_sum(close, '1m')", Version: "v1.0"},
	}
	for _, s := range same {
		if got := id(s); got != base {
			t.Errorf("%+v: ID %s, want %s", s, got, base)
		}
	}
	differ := []Spec{
		{Name: "w", Formula: "rolling_sum(close, '1m')"},
		{Name: "v", Formula: "rolling_sum(close, '1m')", Version: "v2"},
		{Name: "v", Formula: "rolling_sum(close, '2m')"},
	}
	for _, s := range differ {
		if got := id(s); got == base {
			t.Errorf("%+v: same ID", s)
		}
	}
	// An instance and the inline formula it expands to are the same feature.
	a := id(Spec{Name: "r", Type: "log_return", Inputs: map[string]string{"price": "close"}, Params: map[string]any{"k": 5}})
	b := id(Spec{Name: "r", Formula: "log(close) - log(lag(close, 5))"})
	if a != b {
		t.Errorf("type instance ID %s != inline ID %s", a, b)
	}
}

// Every function of the formula table must be lowered by the IR.
func TestEveryFunctionCompiles(t *testing.T) {
	for _, f := range formula.Functions {
		p := Compile(inline("f = "+f.Example), Options{})
		if err := p.Err(); err != nil {
			t.Errorf("%s: example %q: %v", f.Name, f.Example, err)
		}
	}
}

// A chain of features each using the previous one twice stays linear in
// size, with and without CSE.
func TestFeatureChainIsLinear(t *testing.T) {
	defs := []string{"f0 = close"}
	for i := 1; i <= 40; i++ {
		defs = append(defs, "f"+itoa(i)+" = f"+itoa(i-1)+" + lag(f"+itoa(i-1)+")")
	}
	for _, noCSE := range []bool{false, true} {
		p := mustCompile(t, inline(defs...), Options{NoCSE: noCSE})
		if !noCSE && len(p.Nodes) != 1+2*40 {
			t.Errorf("CSE: %d nodes", len(p.Nodes))
		}
		if noCSE && len(p.Nodes) > 41*81 {
			t.Errorf("NoCSE: %d nodes", len(p.Nodes))
		}
		if got := p.Feature("f40").Lookback; got.Rows != 40 {
			t.Errorf("lookback %+v", got)
		}
	}
}

// Cumulative functions need every earlier row: explain says so, and where
// the input is a bounded warmup (fetches, batch runs) they fail at their
// call, with the features using them, and nothing else.
func TestCumulativeRefusedUnderBoundedWarmup(t *testing.T) {
	specs := []Spec{
		{Name: "peak", Formula: "close / cum_max(close)"},
		{Name: "uses_peak", Formula: "peak * 2"},
		{Name: "sma", Formula: "rolling_mean(close, 3)"},
	}
	p := Compile(specs, Options{})
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := p.Features[0].Lookback.String(), "all earlier rows (cumulative from the first input row; refused in fetches and batch runs)"; got != want {
		t.Errorf("lookback %q, want %q", got, want)
	}
	b := Compile(specs, Options{BoundedWarmup: true})
	want := "peak: 1:9: cum_max needs every earlier row of the symbol, but a fetch or batch run reads its range plus a bounded warmup, so the result would depend on where the read starts; compute it over an input table (fdag compute, DoExchange), or use a rolling window"
	if err := b.Features[0].Err; err == nil || err.Error() != want {
		t.Errorf("peak: %v\nwant %s", err, want)
	}
	if err := b.Features[1].Err; err == nil || !strings.Contains(err.Error(), `depends on failed feature "peak"`) {
		t.Errorf("uses_peak: %v", err)
	}
	if err := b.Features[2].Err; err != nil {
		t.Errorf("sma: %v", err)
	}
}
