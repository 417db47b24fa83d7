package nbgonb

import (
	"context"
	"strings"
	"testing"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
	"github.com/featuredag/fdag/nbview"
)

// capture makes the package believe it runs in a notebook and records what
// it displays.
func capture(t *testing.T) *[]string {
	var out []string
	oldH, oldS, oldN := displayHTML, displaySVG, isNotebook
	displayHTML = func(s string) { out = append(out, "html:"+s) }
	displaySVG = func(s string) { out = append(out, "svg:"+s) }
	isNotebook = func() bool { return true }
	t.Cleanup(func() { displayHTML, displaySVG, isNotebook = oldH, oldS, oldN })
	return &out
}

func TestCellOutputs(t *testing.T) {
	out := capture(t)
	specs := []ir.Spec{{Name: "ret_1", Formula: "log(close) - log(lag(close, 1))"}, {Name: "bad", Formula: "lag(close, 1, 2, 3)"}}
	trades := nbview.DemoTrades(50, 1, "BTCUSDT")
	defer trades.Release()
	res, err := compute.ComputeFeatures(context.Background(), specs, []compute.Frame{{Table: trades}}, compute.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	Result(res, specs)
	if err := Plot(res.Table, nbview.PlotOptions{Left: []string{"ret_1"}}); err != nil {
		t.Fatal(err)
	}
	if err := Plot(res.Table, nbview.PlotOptions{Left: []string{"nope"}}); err == nil {
		t.Error("plotting a missing column is an error")
	}
	DAG(specs)
	got := *out
	if len(got) != 4 {
		t.Fatalf("%d outputs, want 4", len(got))
	}
	for i, want := range []string{"html:", "svg:<svg", `html:<pre style="color:#b00">plot: no column &#34;nope&#34;`, "svg:<svg"} {
		if !strings.HasPrefix(got[i], want) {
			t.Errorf("output %d starts %.60q, want %q", i, got[i], want)
		}
	}
	if !strings.Contains(got[0], " | lag(close, 1, 2, 3)") {
		t.Errorf("the table lacks the failed feature's caret line")
	}
}
