package nbview_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
	"github.com/featuredag/fdag/nbview"
)

// A notebook cell computes features on demo trades and renders the table;
// a failed feature shows its error with a caret under the formula.
func ExampleTableHTML() {
	specs := []ir.Spec{
		{Name: "ret_1", Formula: "log(close) - log(lag(close, 1))"},
		{Name: "typo", Formula: "rolling_mean(close)"},
	}
	trades := nbview.DemoTrades(1000, 1, "BTCUSDT", "ETHUSDT")
	defer trades.Release()
	res, err := compute.ComputeFeatures(context.Background(), specs, []compute.Frame{{Name: "trades", Table: trades}}, compute.Options{})
	if err != nil {
		panic(err)
	}
	defer res.Release()
	html := nbview.TableHTML(res.Table, nbview.TableOptions{Specs: specs})
	fmt.Println(strings.Contains(html, "1,000 rows"))
	fmt.Println(nbview.RenderError(res.Statuses[1].Error, specs[1].Formula))
	// Output:
	// true
	// typo: 1:1: rolling_mean expects 2 or 3 arguments, got 1
	//  | rolling_mean(close)
	//  | ^
}

// The DAG of a feature set, after common subexpressions are merged, as SVG
// (DAGSVG) or text (DAGText).
func ExampleDAGText() {
	plan := ir.Compile([]ir.Spec{
		{Name: "ret_1", Formula: "log(close) - log(lag(close, 1))"},
		{Name: "vol", Formula: "rolling_std(ret_1, 10)"},
	}, ir.Options{})
	fmt.Print(strings.SplitN(nbview.DAGText(plan), "\n", 2)[0] + "\n")
	fmt.Println(strings.HasPrefix(nbview.DAGSVG(plan), "<svg"))
	// Output:
	// plan: 2 features (2 ok, 0 failed), 6 nodes, 5 shared by more than one feature
	// true
}

// Price on the left axis, a feature on the right, for one symbol.
func ExamplePlotSVG() {
	trades := nbview.DemoTrades(500, 1, "BTCUSDT")
	defer trades.Release()
	svg, err := nbview.PlotSVG(trades, nbview.PlotOptions{Left: []string{"trade_price"}, Right: []string{"trade_size"}})
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(svg, "<svg"), strings.Contains(svg, "trade_size (right)"))
	// Output: true true
}
