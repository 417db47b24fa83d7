// Package nbgonb shows nbview's renderings in a GoNB (Go kernel) notebook
// cell, one call each:
//
//	res, _ := compute.ComputeFeatures(ctx, specs, frames, compute.Options{})
//	nbgonb.Result(res, specs)                  // the wide table with per-feature status
//	nbgonb.Plot(res.Table, nbview.PlotOptions{Symbol: "BTCUSDT", Left: []string{"ret_1"}})
//	nbgonb.DAG(specs)                          // the DAG after CSE, with lookbacks
//
// Outside a notebook (gonbui.IsNotebook false: a test, a plain go run) each
// call prints a text form to stdout instead, so the same code runs anywhere.
// This is the only fdag package that imports GoNB.
package nbgonb

import (
	"fmt"
	"html"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/janpfeifer/gonb/gonbui"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
	"github.com/featuredag/fdag/nbview"
)

// displayHTML and displaySVG are the cell's outputs; tests replace them.
var (
	displayHTML = gonbui.DisplayHTML
	displaySVG  = gonbui.DisplaySVG
	isNotebook  = func() bool { return gonbui.IsNotebook }
)

// Table shows a wide feature table (first and last rows, row count,
// per-feature status from its fdag.features metadata).
func Table(tbl arrow.Table, opts ...nbview.TableOptions) {
	var o nbview.TableOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if !isNotebook() {
		fmt.Println(tbl.Schema())
		fmt.Printf("%d rows\n", tbl.NumRows())
		return
	}
	displayHTML(nbview.TableHTML(tbl, o))
}

// Result shows a computation's table; specs (optional) give the failed
// features' errors their caret line under the formula.
func Result(res *compute.Result, specs []ir.Spec) {
	if !isNotebook() {
		fmt.Printf("%d rows\n", res.Table.NumRows())
		for _, s := range res.Statuses {
			if s.Status == compute.StatusSuccess {
				fmt.Printf("  %s: ok\n", s.Name)
				continue
			}
			fmt.Printf("  %s: %s\n", s.Name, nbview.RenderError(s.Error, formulaOf(specs, s.Name)))
		}
		return
	}
	displayHTML(nbview.TableHTML(res.Table, nbview.TableOptions{Specs: specs}))
}

func formulaOf(specs []ir.Spec, name string) string {
	for _, s := range specs {
		if s.Name == name {
			return s.Formula
		}
	}
	return ""
}

// Plot shows series against time as an SVG line plot (see
// nbview.PlotSVG). An error is shown in the cell in red and returned.
func Plot(tbl arrow.Table, opts nbview.PlotOptions) error {
	svg, err := nbview.PlotSVG(tbl, opts)
	if err != nil {
		if isNotebook() {
			displayHTML(`<pre style="color:#b00">` + html.EscapeString(err.Error()) + "</pre>")
		} else {
			fmt.Println(err)
		}
		return err
	}
	if !isNotebook() {
		fmt.Printf("plot of %v %v (%d bytes of SVG)\n", opts.Left, opts.Right, len(svg))
		return nil
	}
	displaySVG(svg)
	return nil
}

// DAG compiles specs (built-in registry, default aliases) and shows the
// plan's DAG as SVG. It returns the plan for further inspection.
func DAG(specs []ir.Spec) *ir.Plan {
	plan := ir.Compile(specs, ir.Options{})
	ShowPlan(plan)
	return plan
}

// ShowPlan shows a compiled plan's DAG as SVG (text outside a notebook).
func ShowPlan(plan *ir.Plan) {
	if !isNotebook() {
		fmt.Print(nbview.DAGText(plan))
		return
	}
	displaySVG(nbview.DAGSVG(plan))
}

// DAGText shows the plan's text form (ir.Plan.Explain) in a <pre> block,
// where an SVG would be too large.
func DAGText(plan *ir.Plan) {
	if !isNotebook() {
		fmt.Print(nbview.DAGText(plan))
		return
	}
	displayHTML("<pre>" + html.EscapeString(nbview.DAGText(plan)) + "</pre>")
}
