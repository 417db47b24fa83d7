// Package scripttest runs golden test scripts against
// compute.ComputeFeatures, in the manner of Prometheus' promqltest: a tiny
// language to load rows per symbol and state, for one formula or a few
// features at a time, the values or the error every symbol must get.
//
// The language is described in compute/testdata/scripts/README.md. In short:
//
//	load
//	  symbol  event_time  trade_price  trade_size
//	  A       0s          100          1
//	  A       1s          101          _
//	  B       500ms       7            Inf
//
//	eval rolling_mean(close, 2)
//	  A  _  100.5
//	  B  _
//
//	eval r = diff(close)
//	eval s = r * 2
//	  r  A  _  1
//	  r  B  _
//	  s  A  _  2
//	  s  B  _
//
//	eval_approx 1e-12 log(close)
//	  A  4.605170185988092  4.61512051684126
//	  B  1.9459101490553132
//
//	eval rolling_mean(close)
//	  expect error msg: 1:1: rolling_mean expects 2 or 3 arguments, got 1
//
// Every eval runs in several configurations (default options, one-row
// chunks, no common-subexpression elimination on one worker, and a Stream
// fed one row per batch); all must give the expected result.
package scripttest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
)

// Column names a load block must (time) or may (symbol) have; they are the
// defaults of compute.Options.
const (
	TimeColumn   = "event_time"
	SymbolColumn = "symbol"
)

// AllSymbols names the single group of a load block without a symbol
// column in eval expectation lines.
const AllSymbols = "*"

// unnamedFeature is the feature name given to the formula of an unnamed
// eval (`eval FORMULA`).
const unnamedFeature = "result"

// Value is one cell: a float64, a string (load blocks only) or null.
type Value struct {
	Null  bool
	F     float64
	S     string
	IsStr bool
}

func (v Value) String() string {
	if v.Null {
		return "_"
	}
	if v.IsStr {
		return "'" + v.S + "'"
	}
	return strconv.FormatFloat(v.F, 'g', -1, 64)
}

// Script is one parsed test file.
type Script struct {
	File  string
	Evals []*Eval
}

// Load is a load block: a header naming the columns, then one row per line.
type Load struct {
	Line      int
	HasSymbol bool
	Columns   []string // the value columns, in header order
	// Strings marks the string columns: those written with quoted values
	// ('buy'); the others are float64.
	Strings []bool
	Rows    []Row
	// Symbols lists the symbols in order of first appearance; Groups maps
	// each to its rows' indices in Rows, stably sorted by time.
	Symbols []string
	Groups  map[string][]int
}

// Row is one line of a load block.
type Row struct {
	Line   int
	Symbol string
	Time   int64 // nanoseconds since the Unix epoch
	Values []Value
}

// Eval is one request: one unnamed formula, or a run of consecutive named
// eval lines, with the expectations that follow.
type Eval struct {
	Line     int
	Load     *Load
	Named    bool
	Features []*Feature
}

// Feature is one requested feature and what it must produce.
type Feature struct {
	Line    int
	Name    string
	Formula string
	Tol     float64 // relative tolerance; 0 means exact
	// Want holds the expected values per symbol; WantOrder lists the
	// symbols in the order their lines appear, WantLine the first line of
	// each.
	Want      map[string][]Value
	WantOrder []string
	WantLine  map[string]int
	// ErrMsg lines, joined by newlines, must equal the feature's error
	// text; each ErrContains must occur in it. ErrLine is the first
	// expect line.
	ErrMsg      []string
	ErrContains []string
	ErrLine     int
}

func (f *Feature) wantsError() bool { return f.ErrLine > 0 }

func (f *Feature) label(named bool) string {
	if named {
		return f.Name
	}
	return f.Formula
}

// ParseFile reads and parses a script file.
func ParseFile(path string) (*Script, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, string(src))
}

// parser holds the state of Parse.
type parser struct {
	file  string
	s     *Script
	load  *Load // the latest load block
	block string
	eval  *Eval
	// header is true while the current load block still awaits its
	// header line.
	header bool
	timeAt int    // index of the time column in the header
	typed  []bool // value column j has had a non-null value
	symAt  int    // index of the symbol column, -1 if none
	valAt  []int
}

// Parse parses a script; file is used in error messages. Errors read
// "file:line: message".
func Parse(file, src string) (*Script, error) {
	p := &parser{file: file, s: &Script{File: file}}
	for i, raw := range strings.Split(src, "\n") {
		if err := p.line(i+1, strings.TrimRight(raw, "\r")); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, i+1, err)
		}
	}
	if err := p.endBlock(); err != nil {
		return nil, err
	}
	return p.s, nil
}

func (p *parser) line(n int, text string) error {
	trimmed := strings.TrimSpace(text)
	if trimmed == "" || strings.HasPrefix(trimmed, "#") {
		return nil
	}
	if text[0] != ' ' && text[0] != '\t' {
		return p.command(n, trimmed)
	}
	switch p.block {
	case "load":
		return p.loadLine(n, fieldsNoComment(trimmed))
	case "eval":
		return p.expectLine(n, trimmed)
	}
	return errors.New("indented line outside a load or eval block")
}

func (p *parser) command(n int, text string) error {
	word, rest, _ := strings.Cut(text, " ")
	rest = strings.TrimSpace(rest)
	switch word {
	case "load":
		if stripComment(rest) != "" {
			return fmt.Errorf("load takes no arguments, got %q", rest)
		}
		if err := p.endBlock(); err != nil {
			return err
		}
		p.load = &Load{Line: n, Groups: map[string][]int{}}
		p.block, p.header = "load", true
		return nil
	case "eval", "eval_approx":
		tol := 0.0
		if word == "eval_approx" {
			tolText, formula, _ := strings.Cut(rest, " ")
			t, err := strconv.ParseFloat(tolText, 64)
			if err != nil || !(t > 0) || math.IsInf(t, 0) {
				return fmt.Errorf("eval_approx needs a positive tolerance before the formula, got %q", tolText)
			}
			tol, rest = t, strings.TrimSpace(formula)
		}
		rest = stripComment(rest)
		if rest == "" {
			return fmt.Errorf("%s needs a formula", word)
		}
		name, formula, named := splitNamed(rest)
		f := &Feature{Line: n, Name: unnamedFeature, Formula: rest, Tol: tol,
			Want: map[string][]Value{}, WantLine: map[string]int{}}
		if named {
			f.Name, f.Formula = name, formula
			if formula == "" {
				return fmt.Errorf("feature %s needs a formula after =", name)
			}
		}
		// Named eval lines directly after one another form one request.
		if named && p.block == "eval" && p.eval.Named && !p.eval.hasExpectations() {
			if p.eval.feature(name) != nil {
				return fmt.Errorf("feature %s is declared twice in this eval", name)
			}
			p.eval.Features = append(p.eval.Features, f)
			return nil
		}
		if err := p.endBlock(); err != nil {
			return err
		}
		if p.load == nil {
			return errors.New("eval before any load block")
		}
		p.eval = &Eval{Line: n, Load: p.load, Named: named, Features: []*Feature{f}}
		p.s.Evals = append(p.s.Evals, p.eval)
		p.block = "eval"
		return nil
	}
	return fmt.Errorf("unknown command %q (expected load, eval or eval_approx; block lines are indented)", word)
}

// endBlock finishes the current block, checking what can only be checked
// once it is complete.
func (p *parser) endBlock() error {
	switch p.block {
	case "load":
		l := p.load
		if p.header {
			return fmt.Errorf("%s:%d: load block without a header line", p.file, l.Line)
		}
		for i, r := range l.Rows {
			if _, ok := l.Groups[r.Symbol]; !ok {
				l.Symbols = append(l.Symbols, r.Symbol)
			}
			l.Groups[r.Symbol] = append(l.Groups[r.Symbol], i)
		}
		for _, rows := range l.Groups {
			slices.SortStableFunc(rows, func(a, b int) int {
				return cmpInt(l.Rows[a].Time, l.Rows[b].Time)
			})
		}
	case "eval":
		e := p.eval
		if !e.Named && !e.hasExpectations() {
			return fmt.Errorf("%s:%d: eval without expectations (indented value lines or expect error)", p.file, e.Line)
		}
		if e.Named && !e.hasExpectations() {
			return fmt.Errorf("%s:%d: eval without expectations (indented lines NAME SYMBOL values... or NAME expect error)", p.file, e.Line)
		}
		for _, f := range e.Features {
			if len(f.Want) == 0 {
				continue
			}
			for _, sym := range e.Load.Symbols {
				if _, ok := f.Want[sym]; !ok {
					return fmt.Errorf("%s:%d: %s: no values for symbol %s (every symbol of the load block must be listed)", p.file, f.WantLine[f.WantOrder[0]], f.label(e.Named), sym)
				}
			}
			for _, sym := range f.WantOrder {
				if got, want := len(f.Want[sym]), len(e.Load.Groups[sym]); got != want {
					return fmt.Errorf("%s:%d: %s: symbol %s has %d rows, %d values given", p.file, f.WantLine[sym], f.label(e.Named), sym, want, got)
				}
			}
		}
	}
	p.block = ""
	return nil
}

func (e *Eval) hasExpectations() bool {
	for _, f := range e.Features {
		if len(f.Want) > 0 || f.wantsError() {
			return true
		}
	}
	return false
}

func (e *Eval) feature(name string) *Feature {
	for _, f := range e.Features {
		if f.Name == name {
			return f
		}
	}
	return nil
}

func (p *parser) loadLine(n int, fields []string) error {
	l := p.load
	if p.header {
		p.header, p.timeAt, p.symAt, p.valAt, p.typed = false, -1, -1, nil, nil
		seen := map[string]bool{}
		for i, name := range fields {
			if seen[name] {
				return fmt.Errorf("column %s appears twice", name)
			}
			seen[name] = true
			switch name {
			case TimeColumn:
				p.timeAt = i
			case SymbolColumn:
				p.symAt = i
				l.HasSymbol = true
			default:
				p.valAt = append(p.valAt, i)
				l.Columns = append(l.Columns, name)
				l.Strings = append(l.Strings, false)
			}
		}
		if p.timeAt < 0 {
			return fmt.Errorf("the header must name the time column %s", TimeColumn)
		}
		return nil
	}
	if len(fields) != len(p.valAt)+1+btoi(l.HasSymbol) {
		return fmt.Errorf("row has %d fields, the header %d", len(fields), len(p.valAt)+1+btoi(l.HasSymbol))
	}
	r := Row{Line: n, Symbol: AllSymbols}
	if l.HasSymbol {
		r.Symbol = fields[p.symAt]
		if r.Symbol == "_" {
			return errors.New("a symbol cannot be null")
		}
	}
	t, err := parseTime(fields[p.timeAt])
	if err != nil {
		return err
	}
	r.Time = t
	for j, i := range p.valAt {
		v, err := parseValue(fields[i])
		if err != nil {
			return err
		}
		if !v.Null {
			if p.typed == nil {
				p.typed = make([]bool, len(p.valAt))
			}
			if p.typed[j] && l.Strings[j] != v.IsStr {
				return fmt.Errorf("column %s mixes numbers and quoted strings", l.Columns[j])
			}
			p.typed[j], l.Strings[j] = true, v.IsStr
		}
		r.Values = append(r.Values, v)
	}
	l.Rows = append(l.Rows, r)
	return nil
}

func (p *parser) expectLine(n int, text string) error {
	e := p.eval
	f := e.Features[0]
	if e.Named {
		name, rest, _ := strings.Cut(text, " ")
		if f = e.feature(name); f == nil {
			return fmt.Errorf("expectation lines of a named eval start with a feature name (%s), got %q", e.names(), name)
		}
		text = strings.TrimSpace(rest)
	}
	if rest, ok := strings.CutPrefix(text, "expect "); ok {
		// The message is taken verbatim: error texts may hold '#'.
		rest = strings.TrimSpace(rest)
		if len(f.Want) > 0 {
			return errors.New("a feature expects either values or an error, not both")
		}
		if f.ErrLine == 0 {
			f.ErrLine = n
		}
		if msg, ok := strings.CutPrefix(rest, "error msg:"); ok {
			f.ErrMsg = append(f.ErrMsg, strings.TrimSpace(msg))
			return nil
		}
		if msg, ok := strings.CutPrefix(rest, "error contains:"); ok {
			f.ErrContains = append(f.ErrContains, strings.TrimSpace(msg))
			return nil
		}
		return fmt.Errorf("expected `expect error msg: TEXT` or `expect error contains: TEXT`, got %q", text)
	}
	if f.wantsError() {
		return errors.New("a feature expects either values or an error, not both")
	}
	fields := fieldsNoComment(text)
	if len(fields) == 0 {
		return errors.New("expected a symbol and its values")
	}
	sym := fields[0]
	if _, ok := e.Load.Groups[sym]; !ok && !slices.ContainsFunc(e.Load.Rows, func(r Row) bool { return r.Symbol == sym }) {
		if !e.Load.HasSymbol {
			return fmt.Errorf("the load block has no symbol column: value lines start with %s", AllSymbols)
		}
		return fmt.Errorf("symbol %s is not in the load block at line %d", sym, e.Load.Line)
	}
	if _, ok := f.Want[sym]; !ok {
		f.WantOrder = append(f.WantOrder, sym)
		f.WantLine[sym] = n
		f.Want[sym] = []Value{}
	} else if f.WantOrder[len(f.WantOrder)-1] != sym {
		return fmt.Errorf("the values of symbol %s continue here after other symbols; keep a symbol's lines together", sym)
	}
	for _, tok := range fields[1:] {
		v, err := parseValue(tok)
		if err != nil {
			return err
		}
		if v.IsStr {
			return fmt.Errorf("bad value %s: features are numbers (strings only in load blocks)", tok)
		}
		f.Want[sym] = append(f.Want[sym], v)
	}
	return nil
}

func (e *Eval) names() string {
	names := make([]string, len(e.Features))
	for i, f := range e.Features {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// splitNamed splits "name = formula"; a formula such as "x == 1" or
// "lag(x, k=2)" is not a name.
func splitNamed(s string) (name, formula string, ok bool) {
	i := 0
	for i < len(s) && (s[i] == '_' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || i > 0 && s[i] >= '0' && s[i] <= '9') {
		i++
	}
	if i == 0 {
		return "", "", false
	}
	j := i
	for j < len(s) && s[j] == ' ' {
		j++
	}
	if j >= len(s) || s[j] != '=' || j+1 < len(s) && s[j+1] == '=' {
		return "", "", false
	}
	return s[:i], strings.TrimSpace(s[j+1:]), true
}

// stripComment cuts a trailing "# ..." that is not inside a quoted string.
func stripComment(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '#':
			return strings.TrimSpace(s[:i])
		}
	}
	return strings.TrimSpace(s)
}

func fieldsNoComment(s string) []string { return strings.Fields(stripComment(s)) }

// parseValue reads `_` (null), a number, NaN, Inf, +Inf or -Inf, or a
// quoted string without spaces ('buy').
func parseValue(tok string) (Value, error) {
	if tok == "_" {
		return Value{Null: true}, nil
	}
	if len(tok) >= 2 && (tok[0] == '\'' || tok[0] == '"') && tok[len(tok)-1] == tok[0] {
		return Value{S: tok[1 : len(tok)-1], IsStr: true}, nil
	}
	f, err := strconv.ParseFloat(tok, 64)
	if err != nil {
		return Value{}, fmt.Errorf("bad value %q (a number, NaN, Inf, -Inf, or _ for null)", tok)
	}
	return Value{F: f}, nil
}

// parseTime reads a duration since the Unix epoch (0s, 1.5s, 250ms, 1m30s)
// or an ISO 8601 time (2024-01-02T09:30:00Z, 2024-01-02T09:30:00.5+01:00;
// without a zone it is UTC).
func parseTime(tok string) (int64, error) {
	if d, err := time.ParseDuration(tok); err == nil {
		return int64(d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, tok); err == nil {
			return t.UnixNano(), nil
		}
	}
	return 0, fmt.Errorf("bad time %q (a duration since the epoch such as 0s, 1.5s, 250ms, or an ISO time such as 2024-01-02T09:30:00Z)", tok)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// RunFile parses the script at path and runs it (see Script.Run).
func RunFile(t *testing.T, path string) {
	t.Helper()
	s, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Run(t)
}

// Run runs every eval of the script as a subtest named after its line
// ("line12").
func (s *Script) Run(t *testing.T) {
	for _, e := range s.Evals {
		t.Run(fmt.Sprintf("line%d", e.Line), func(t *testing.T) {
			for _, v := range variants {
				for _, f := range e.runVariant(t, v) {
					if v.name != "" {
						f.msg = "[" + v.name + "] " + f.msg
					}
					t.Errorf("%s:%d: %s", s.File, f.line, f.msg)
				}
				if t.Failed() {
					// Later variants would mostly repeat the failure.
					break
				}
			}
		})
	}
}

// A variant is one way of running an eval; every variant must produce the
// expected result.
type variant struct {
	name   string
	opts   compute.Options
	stream bool // through compute.Stream, one row per batch
}

var variants = []variant{
	{name: ""},
	{name: "one-row chunks", opts: compute.Options{ChunkRows: 1}},
	{name: "no CSE, one worker", opts: compute.Options{NoCSE: true, Parallelism: 1}},
	// Every step of every chunk is a task: with 2-row chunks and 8
	// workers many chunks and DAG nodes of one symbol run at once.
	{name: "8 workers, 2-row chunks", opts: compute.Options{Parallelism: 8, Pool: compute.NewPool(8), ChunkRows: 2}},
	{name: "stream, one row per batch", stream: true},
}

// outcome is what one run produced: the statuses in request order and,
// per successful feature, its values by input row.
type outcome struct {
	statuses []compute.FeatureStatus
	columns  map[string][]Value
}

// failure is one mismatch, at a line of the script.
type failure struct {
	line int
	msg  string
}

func failf(line int, format string, args ...any) failure {
	return failure{line, fmt.Sprintf(format, args...)}
}

// runVariant runs the eval once and returns the failures.
func (e *Eval) runVariant(t *testing.T, v variant) []failure {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	opts := v.opts
	opts.Mem = mem
	specs := make([]ir.Spec, len(e.Features))
	for i, f := range e.Features {
		specs[i] = ir.Spec{Name: f.Name, Formula: f.Formula}
	}
	var out *outcome
	var failures []failure
	var err error
	if v.stream {
		out, err = e.runStream(specs, opts)
	} else {
		out, failures, err = e.runOnce(specs, opts)
	}
	if err != nil {
		failures = append(failures, failf(e.Line, "request failed: %v", err))
	} else {
		failures = append(failures, e.check(out)...)
	}
	if n := mem.CurrentAlloc(); n != 0 {
		failures = append(failures, failf(e.Line, "%d bytes still allocated after releasing the input and the result", n))
		mem.AssertSize(t, 0)
	}
	return failures
}

// runOnce calls ComputeFeatures on the whole load block. A NoFeaturesError
// (every feature failed) is an outcome, not a request failure.
func (e *Eval) runOnce(specs []ir.Spec, opts compute.Options) (*outcome, []failure, error) {
	tbl := e.Load.table(opts.Mem)
	defer tbl.Release()
	res, err := compute.ComputeFeatures(context.Background(), specs, []compute.Frame{{Name: "load", Table: tbl}}, opts)
	var nf *compute.NoFeaturesError
	if errors.As(err, &nf) {
		return &outcome{statuses: nf.Statuses}, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer res.Release()
	out := &outcome{statuses: res.Statuses, columns: map[string][]Value{}}
	var failures []failure
	// The wide output's shape (DESIGN.md, "Outputs"): every input row, the
	// time column, the symbol column when present, then one column per
	// successful feature in request order.
	if got := res.Table.NumRows(); got != int64(len(e.Load.Rows)) {
		failures = append(failures, failf(e.Line, "the result has %d rows, the input %d", got, len(e.Load.Rows)))
	}
	want := []string{TimeColumn}
	if e.Load.HasSymbol {
		want = append(want, SymbolColumn)
	}
	for _, st := range res.Statuses {
		if st.Status == compute.StatusSuccess {
			want = append(want, st.Name)
		}
	}
	var got []string
	for _, f := range res.Table.Schema().Fields() {
		got = append(got, f.Name)
	}
	if !slices.Equal(got, want) {
		failures = append(failures, failf(e.Line, "result columns are %v, want %v", got, want))
	}
	if len(failures) > 0 {
		return out, failures, nil
	}
	if bad := e.Load.misaligned(res.Table); bad >= 0 {
		failures = append(failures, failf(e.Line, "the result's time or symbol differs from the input at row %d (load line %d): rows must stay in input order", bad+1, e.Load.Rows[bad].Line))
	}
	for i, f := range res.Table.Schema().Fields() {
		if f.Name == TimeColumn || e.Load.HasSymbol && f.Name == SymbolColumn || f.Type.ID() != arrow.FLOAT64 {
			continue
		}
		out.columns[f.Name] = values(res.Table.Column(i).Data().Chunks())
	}
	return out, failures, nil
}

// misaligned returns the first row whose time or symbol in tbl (a result
// whose first columns are time and, when present, symbol) differs from the
// load block, or -1.
func (l *Load) misaligned(tbl arrow.Table) int {
	row := 0
	for _, c := range tbl.Column(0).Data().Chunks() {
		ts, ok := c.(*array.Timestamp)
		if !ok {
			return 0
		}
		for i := 0; i < ts.Len(); i, row = i+1, row+1 {
			if row >= len(l.Rows) || ts.IsNull(i) || int64(ts.Value(i)) != l.Rows[row].Time {
				return row
			}
		}
	}
	if !l.HasSymbol {
		return -1
	}
	row = 0
	for _, c := range tbl.Column(1).Data().Chunks() {
		ss, ok := c.(*array.String)
		if !ok {
			return 0
		}
		for i := 0; i < ss.Len(); i, row = i+1, row+1 {
			if row >= len(l.Rows) || ss.Value(i) != l.Rows[row].Symbol {
				return row
			}
		}
	}
	return -1
}

// values flattens float64 chunks into Values.
func values(chunks []arrow.Array) []Value {
	var out []Value
	for _, c := range chunks {
		a := c.(*array.Float64)
		for i := 0; i < a.Len(); i++ {
			out = append(out, Value{Null: a.IsNull(i), F: a.Value(i)})
		}
	}
	return out
}

// runStream feeds a compute.Stream one row per batch, in time order (ties
// in input order), and gathers the output by input row.
func (e *Eval) runStream(specs []ir.Spec, opts compute.Options) (*outcome, error) {
	l := e.Load
	schema := l.schema()
	st, err := compute.NewStream(specs, schema, opts)
	var nf *compute.NoFeaturesError
	if errors.As(err, &nf) {
		return &outcome{statuses: nf.Statuses}, nil
	}
	if err != nil {
		return nil, err
	}
	order := make([]int, len(l.Rows))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmpInt(l.Rows[a].Time, l.Rows[b].Time) })
	columns := map[string][]Value{}
	outSchema := st.Schema()
	for _, f := range outSchema.Fields() {
		if f.Name != TimeColumn && f.Name != SymbolColumn {
			columns[f.Name] = make([]Value, len(l.Rows))
		}
	}
	for _, r := range order {
		rec := l.record(opts.Mem, schema, []int{r})
		res, err := st.Process(context.Background(), rec)
		rec.Release()
		if err != nil {
			return nil, err
		}
		for i, f := range outSchema.Fields() {
			if col, ok := columns[f.Name]; ok {
				col[r] = values([]arrow.Array{res.Column(i)})[0]
			}
		}
		res.Release()
	}
	return &outcome{statuses: st.Statuses(), columns: columns}, nil
}

// check compares an outcome with the expectations.
func (e *Eval) check(out *outcome) []failure {
	var failures []failure
	fail := func(line int, format string, args ...any) {
		failures = append(failures, failf(line, format, args...))
	}
	if len(out.statuses) != len(e.Features) {
		fail(e.Line, "got %d feature statuses, want %d: %+v", len(out.statuses), len(e.Features), out.statuses)
		return failures
	}
	for i, f := range e.Features {
		st, label := out.statuses[i], f.label(e.Named)
		if st.Name != f.Name {
			fail(f.Line, "status %d is for feature %q, want %q", i, st.Name, f.Name)
			continue
		}
		if f.wantsError() {
			if st.Status == compute.StatusSuccess {
				fail(f.ErrLine, "%s: succeeded, want an error", label)
				continue
			}
			msg := errorText(f.Name, st.Error)
			if len(f.ErrMsg) > 0 && msg != strings.Join(f.ErrMsg, "\n") {
				fail(f.ErrLine, "%s: wrong error\n\twant: %s\n\tgot:  %s", label, strings.Join(f.ErrMsg, "\n\t      "), strings.ReplaceAll(msg, "\n", "\n\t      "))
			}
			for _, c := range f.ErrContains {
				if !strings.Contains(msg, c) {
					fail(f.ErrLine, "%s: error does not contain %q\n\tgot: %s", label, c, msg)
				}
			}
			if col, ok := out.columns[f.Name]; ok && slices.ContainsFunc(col, func(v Value) bool { return !v.Null }) {
				fail(f.ErrLine, "%s: failed, yet the result has values in its column", label)
			}
			continue
		}
		if st.Status != compute.StatusSuccess {
			fail(f.Line, "%s: unexpected error: %s", label, st.Error)
			continue
		}
		if len(f.Want) == 0 {
			continue
		}
		col, ok := out.columns[f.Name]
		if !ok {
			fail(f.Line, "%s: succeeded but the result has no float64 column %q", label, f.Name)
			continue
		}
		if len(col) != len(e.Load.Rows) {
			fail(f.Line, "%s: column has %d rows, the input %d", label, len(col), len(e.Load.Rows))
			continue
		}
		for _, sym := range f.WantOrder {
			rows := e.Load.Groups[sym]
			want := f.Want[sym]
			got := make([]Value, len(rows))
			bad := -1
			for k, r := range rows {
				got[k] = col[r]
				if bad < 0 && !Equal(want[k], got[k], f.Tol) {
					bad = k
				}
			}
			if bad >= 0 {
				r := e.Load.Rows[rows[bad]]
				fail(f.WantLine[sym], "%s, symbol %s: value %d (time %s, load line %d) is %s, want %s\n\twant: %s\n\tgot:  %s",
					label, sym, bad+1, formatTime(r.Time), r.Line, got[bad], want[bad], join(want), join(got))
			}
		}
	}
	return failures
}

// errorText is a status error without the "NAME: " prefix of each line.
func errorText(name, msg string) string {
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, name+": ")
	}
	return strings.Join(lines, "\n")
}

func join(vs []Value) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.String()
	}
	return strings.Join(parts, " ")
}

func formatTime(ns int64) string {
	return time.Duration(ns).String()
}

// Equal compares an expected and a computed value. Nulls equal only nulls
// and NaN equals NaN. With tol == 0 numbers must be bit-identical (so 0 and
// -0 differ); otherwise infinities must match exactly and finite numbers
// within the relative tolerance |got - want| <= tol * max(|got|, |want|)
// (an expected 0 therefore needs an exact 0).
func Equal(want, got Value, tol float64) bool {
	switch {
	case want.Null || got.Null:
		return want.Null == got.Null
	case math.IsNaN(want.F) || math.IsNaN(got.F):
		return math.IsNaN(want.F) && math.IsNaN(got.F)
	case tol == 0 || math.IsInf(want.F, 0) || math.IsInf(got.F, 0):
		return math.Float64bits(want.F) == math.Float64bits(got.F)
	}
	return math.Abs(got.F-want.F) <= tol*math.Max(math.Abs(got.F), math.Abs(want.F))
}

// schema is the Arrow schema of the load block: symbol (string) when
// present, event_time (timestamp[ns, UTC]) and one float64 column per
// value column, in header order of those kinds.
func (l *Load) schema() *arrow.Schema {
	var fields []arrow.Field
	if l.HasSymbol {
		fields = append(fields, arrow.Field{Name: SymbolColumn, Type: arrow.BinaryTypes.String})
	}
	fields = append(fields, arrow.Field{Name: TimeColumn, Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}})
	for j, c := range l.Columns {
		var dt arrow.DataType = arrow.PrimitiveTypes.Float64
		if l.Strings[j] {
			dt = arrow.BinaryTypes.String
		}
		fields = append(fields, arrow.Field{Name: c, Type: dt, Nullable: true})
	}
	return arrow.NewSchema(fields, nil)
}

// record builds the given rows as one record batch.
func (l *Load) record(mem memory.Allocator, schema *arrow.Schema, rows []int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	col := 0
	if l.HasSymbol {
		sb := b.Field(0).(*array.StringBuilder)
		for _, r := range rows {
			sb.Append(l.Rows[r].Symbol)
		}
		col++
	}
	tb := b.Field(col).(*array.TimestampBuilder)
	for _, r := range rows {
		tb.Append(arrow.Timestamp(l.Rows[r].Time))
	}
	col++
	for j := range l.Columns {
		for _, r := range rows {
			v := l.Rows[r].Values[j]
			switch fb := b.Field(col + j).(type) {
			case *array.StringBuilder:
				if v.Null {
					fb.AppendNull()
				} else {
					fb.Append(v.S)
				}
			case *array.Float64Builder:
				if v.Null {
					fb.AppendNull()
				} else {
					fb.Append(v.F)
				}
			}
		}
	}
	return b.NewRecordBatch()
}

// table builds the whole load block, rows in the order written.
func (l *Load) table(mem memory.Allocator) arrow.Table {
	schema := l.schema()
	all := make([]int, len(l.Rows))
	for i := range all {
		all[i] = i
	}
	rec := l.record(mem, schema, all)
	defer rec.Release()
	return array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
}
