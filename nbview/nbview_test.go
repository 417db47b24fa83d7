package nbview

import (
	"context"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
// Review the diff (and open the .svg/.html files) after an intended change.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./nbview -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the output (run go test ./nbview -update and review the diff):\n%s", path, firstDiff(string(want), got))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(wl), len(gl)) {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g
		}
	}
	return "(same lines)"
}

func itoa(i int) string { return groupThousands(i) }

// demoSpecs: shared subexpressions, row and duration windows, one failing
// feature with a positioned error.
var demoSpecs = []ir.Spec{
	{Name: "ret_1", Formula: "log(close) - log(lag(close, 1))"},
	{Name: "vol_20", Formula: "rolling_std(ret_1, 20)"},
	{Name: "z_20", Formula: "(ret_1 - rolling_mean(ret_1, 20)) / rolling_std(ret_1, 20)"},
	{Name: "vwap_1m", Formula: "rolling_sum(close * volume, '1m') / rolling_sum(volume, '1m')"},
	{Name: "broken", Formula: "log(close) - rolling_mean(close)"},
}

func demoResult(t testing.TB, mem memory.Allocator) *compute.Result {
	t.Helper()
	trades := DemoTrades(400, 7, "BTCUSDT", "ETHUSDT")
	defer trades.Release()
	res, err := compute.ComputeFeatures(context.Background(), demoSpecs, []compute.Frame{{Name: "trades", Table: trades}},
		compute.Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestTableHTMLGolden(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	res := demoResult(t, mem)
	defer res.Release()
	got := TableHTML(res.Table, TableOptions{Specs: demoSpecs, Head: 3, Tail: 2, Title: "demo features"})
	golden(t, "table.html", got)
	// The failed feature's error is there with its caret under the call.
	for _, want := range []string{
		"400 rows &times; 6 columns",
		`<span class="fdag-error">1 failed</span>`,
		"broken: 1:14: rolling_mean expects 2 or 3 arguments, got 1\n | log(close) - rolling_mean(close)\n |              ^",
		"&hellip; 395 more rows &hellip;",
		`<td class="fdag-null">null</td>`, // ret_1 of the first row
	} {
		if !strings.Contains(got, want) {
			t.Errorf("TableHTML lacks %q", want)
		}
	}
}

func TestTableHTMLSmallTableShowsEveryRowOnce(t *testing.T) {
	tbl := floatTable(t, "x", []float64{1, math.NaN(), math.Inf(1)}, []bool{true, true, false})
	defer tbl.Release()
	got := TableHTML(tbl, TableOptions{})
	golden(t, "table_small.html", got)
	if strings.Contains(got, "more rows") {
		t.Error("a 3-row table is shown whole, without a gap row")
	}
	for _, want := range []string{"<td>NaN</td>", `<td class="fdag-null">null</td>`, "3 rows &times; 2 columns"} {
		if !strings.Contains(got, want) {
			t.Errorf("TableHTML lacks %q", want)
		}
	}
}

func TestTableHTMLReportsBadMetadata(t *testing.T) {
	md := arrow.NewMetadata([]string{compute.MetadataKey}, []string{"{not json"})
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Float64}}, &md)
	tbl := array.NewTableFromSlice(schema, [][]arrow.Array{{}})
	defer tbl.Release()
	if got := TableHTML(tbl, TableOptions{}); !strings.Contains(got, `schema metadata &#34;fdag.features&#34;`) {
		t.Errorf("malformed metadata is not reported:\n%s", got)
	}
}

func TestRenderError(t *testing.T) {
	cases := []struct{ msg, src, want string }{
		{"a: 1:5: unknown name \"x\"", "1 + x", "a: 1:5: unknown name \"x\"\n | 1 + x\n |     ^"},
		{"a: 2:3: bad", "lag(close) +\n  rolling_sum(close, '5x')", "a: 2:3: bad\n |   rolling_sum(close, '5x')\n |   ^"},
		{"a: 1:1: x\na: 1:3: y", "abc", "a: 1:1: x\n | abc\n | ^\na: 1:3: y\n | abc\n |   ^"},
		{"a: no position", "abc", "a: no position"},
		{"a: 1:9: past the end", "abc", "a: 1:9: past the end"},
		{"a: 1:1: already\n | abc\n | ^", "abc", "a: 1:1: already\n | abc\n | ^"},
		{"a: 1:1: no source", "", "a: 1:1: no source"},
		{"a: 1:3: rune columns", "é é x", "a: 1:3: rune columns\n | é é x\n |   ^"},
	}
	for _, c := range cases {
		if got := RenderError(c.msg, c.src); got != c.want {
			t.Errorf("RenderError(%q, %q) =\n%s\nwant\n%s", c.msg, c.src, got, c.want)
		}
	}
}

func floatTable(t *testing.T, name string, vals []float64, valid []bool) arrow.Table {
	t.Helper()
	tb := array.NewTimestampBuilder(memory.DefaultAllocator, &arrow.TimestampType{Unit: arrow.Microsecond})
	defer tb.Release()
	fb := array.NewFloat64Builder(memory.DefaultAllocator)
	defer fb.Release()
	for i, v := range vals {
		tb.Append(arrow.Timestamp(1_704_153_600_000_000 + int64(i)*1_500_000)) // 2024-01-02, 1.5 s apart
		fb.AppendValues([]float64{v}, []bool{valid[i]})
	}
	ts, fs := tb.NewArray(), fb.NewArray()
	defer ts.Release()
	defer fs.Release()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "event_time", Type: ts.DataType(), Nullable: true},
		{Name: name, Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	return array.NewTableFromSlice(schema, [][]arrow.Array{{ts}, {fs}})
}

func TestPlotSVGGolden(t *testing.T) {
	res := demoResult(t, memory.DefaultAllocator)
	defer res.Release()
	trades := DemoTrades(400, 7, "BTCUSDT", "ETHUSDT")
	defer trades.Release()
	// Price from the trades, features from the result: both row-aligned.
	wide, err := WithColumns(res.Table, trades, "trade_price")
	if err != nil {
		t.Fatal(err)
	}
	defer wide.Release()
	got, err := PlotSVG(wide, PlotOptions{Symbol: "BTCUSDT", Left: []string{"trade_price"}, Right: []string{"vol_20", "z_20"}, Title: "BTCUSDT"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "plot.svg", got)
	again, _ := PlotSVG(wide, PlotOptions{Symbol: "BTCUSDT", Left: []string{"trade_price"}, Right: []string{"vol_20", "z_20"}, Title: "BTCUSDT"})
	if again != got {
		t.Error("PlotSVG is not deterministic")
	}
	for _, want := range []string{"trade_price (left)", "vol_20 (right)", "z_20 (right)", "<path clip-path"} {
		if !strings.Contains(got, want) {
			t.Errorf("plot lacks %q", want)
		}
	}
}

func TestPlotSVGBreaksLinesAtNulls(t *testing.T) {
	tbl := floatTable(t, "x", []float64{1, 2, 0, 3, 4, math.NaN(), 5}, []bool{true, true, false, true, true, true, true})
	defer tbl.Release()
	got, err := PlotSVG(tbl, PlotOptions{Right: []string{"x"}, Width: 300, Height: 200})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "plot_gaps.svg", got)
	// Three segments: 1 2 | 3 4 | 5.
	d := got[strings.Index(got, ` d="M`)+4:]
	d = d[:strings.Index(d, `"`)]
	if n := strings.Count(d, "M"); n != 3 {
		t.Errorf("path %q has %d segments, want 3", d, n)
	}
	if strings.Contains(got, "(left)") {
		t.Error("a plot with one axis needs no (left)/(right) in its legend")
	}
}

func TestPlotSVGReducesLongSeries(t *testing.T) {
	n := 10_000
	vals, valid := make([]float64, n), make([]bool, n)
	for i := range vals {
		vals[i], valid[i] = math.Sin(float64(i)/100), true
	}
	vals[5000] = 50 // a spike survives reduction
	tbl := floatTable(t, "x", vals, valid)
	defer tbl.Release()
	got, err := PlotSVG(tbl, PlotOptions{Left: []string{"x"}, MaxPoints: 500})
	if err != nil {
		t.Fatal(err)
	}
	if pts := strings.Count(got, " L"); pts > 600 {
		t.Errorf("%d points drawn for MaxPoints 500", pts)
	}
	if !strings.Contains(got, ">50</text>") && !strings.Contains(got, ">50.0</text>") {
		t.Errorf("the spike at 50 did not make the axis reach it")
	}
}

func TestPlotSVGErrors(t *testing.T) {
	res := demoResult(t, memory.DefaultAllocator)
	defer res.Release()
	cases := []struct {
		opts PlotOptions
		want string
	}{
		{PlotOptions{}, "no series given"},
		{PlotOptions{Left: []string{"vol_20"}}, `several symbols in column "symbol"; set PlotOptions.Symbol`},
		{PlotOptions{Left: []string{"nope"}, Symbol: "BTCUSDT"}, `no column "nope" (columns: event_time, symbol, ret_1`},
		{PlotOptions{Left: []string{"symbol"}, Symbol: "BTCUSDT"}, `column "symbol" has type utf8; expected a number`},
		{PlotOptions{Left: []string{"vol_20"}, Symbol: "DOGE"}, `no rows for symbol "DOGE"`},
		{PlotOptions{Left: []string{"vol_20"}, Symbol: "BTCUSDT", TimeColumn: "ret_1"}, `time column "ret_1" has type float64; expected a timestamp`},
	}
	for _, c := range cases {
		_, err := PlotSVG(res.Table, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("PlotSVG(%+v) error %v, want %q", c.opts, err, c.want)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	ticks, step := niceTicks(0.13, 0.91, 6)
	if step != 0.2 || len(ticks) != 4 || ticks[0] != 0.2 {
		t.Errorf("niceTicks(0.13, 0.91) = %v step %v", ticks, step)
	}
	if got := formatTick(-1e-17, 0.1); got != "0.0" {
		t.Errorf("formatTick near zero = %q", got)
	}
}

func TestDAGGolden(t *testing.T) {
	plan := ir.Compile(demoSpecs, ir.Options{})
	got := DAGSVG(plan)
	golden(t, "dag.svg", got)
	golden(t, "dag.txt", DAGText(plan))
	for _, want := range []string{
		"shared by 3 features",        // ret_1's nodes feed ret_1, vol_20 and z_20
		"lookback 20 rows",            // rolling over a lag
		"lookback 1m",                 // the duration window
		"rolling_mean expects 2 or 3", // the failed feature, listed
		">z_20</text>",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("DAG SVG lacks %q", want)
		}
	}
}

func TestDAGLayersFollowEdges(t *testing.T) {
	plan := ir.Compile(demoSpecs, ir.Options{})
	nodes := dagNodes(plan)
	layers := assignLayers(nodes)
	orderLayers(nodes, layers)
	place(nodes, layers)
	for i, n := range nodes {
		for _, a := range n.args {
			if nodes[a].layer >= n.layer || nodes[a].x+nodes[a].w >= n.x {
				t.Errorf("node %d (%s) is not right of its argument %d (%s)", i, n.lines[0], a, nodes[a].lines[0])
			}
		}
	}
	seen := map[[2]float64]bool{}
	for _, n := range nodes {
		k := [2]float64{n.x, n.y}
		if seen[k] {
			t.Errorf("two boxes at %v", k)
		}
		seen[k] = true
	}
}

func TestDAGEmptyPlan(t *testing.T) {
	got := DAGSVG(ir.Compile(nil, ir.Options{}))
	if !strings.Contains(got, "0 features (0 ok, 0 failed), 0 nodes") || !strings.HasSuffix(got, "</svg>\n") {
		t.Errorf("empty plan:\n%s", got)
	}
}

func TestWithColumnsErrors(t *testing.T) {
	res := demoResult(t, memory.DefaultAllocator)
	defer res.Release()
	short := DemoTrades(10, 1)
	defer short.Release()
	if _, err := WithColumns(res.Table, short, "trade_price"); err == nil || !strings.Contains(err.Error(), "400 rows in the wide table but 10") {
		t.Errorf("row mismatch: %v", err)
	}
	trades := DemoTrades(400, 7, "BTCUSDT", "ETHUSDT")
	defer trades.Release()
	if _, err := WithColumns(res.Table, trades, "px"); err == nil || !strings.Contains(err.Error(), `no column "px" in the source`) {
		t.Errorf("missing column: %v", err)
	}
	if _, err := WithColumns(res.Table, trades, "symbol"); err == nil || !strings.Contains(err.Error(), `already has a column "symbol"`) {
		t.Errorf("duplicate column: %v", err)
	}
}
