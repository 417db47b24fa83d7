package nbview

import (
	"cmp"
	"fmt"
	"html"
	"slices"
	"strconv"
	"strings"

	"github.com/featuredag/fdag/ir"
)

// DAGText is the text form of a plan's DAG (ir.Plan.Explain): nodes with
// their consumers and lookbacks, then each feature, failed ones with their
// caret-rendered errors. Use it where SVG cannot be shown.
func DAGText(plan *ir.Plan) string { return plan.Explain() }

// dagNode is one box of the drawing: a plan node or a feature sink.
type dagNode struct {
	lines   []string // label lines
	layer   int
	pos     float64 // order within the layer
	args    []int   // indexes into the drawing's nodes
	shared  int     // features using the node, when more than one
	feature bool
	x, y    float64
	w, h    float64
}

// DAG layout constants, in pixels; charWidth matches 12px monospace.
const (
	charWidth  = 7.2
	lineHeight = 15.0
	boxPadX    = 8.0
	boxPadY    = 5.0
	layerGap   = 50.0
	rowGap     = 14.0
	dagMargin  = 12.0
)

// DAGSVG draws a plan's DAG as SVG, left to right like `fdag explain --dot`:
// source columns and constants in the first column, each node one column
// right of its deepest argument, the features last. Nodes used by more
// than one feature (the common subexpressions computed once) are marked,
// every node shows its lookback, and failed features are listed under the
// graph with their caret-rendered errors.
//
// The layout is a layered (Sugiyama-style) one done in Go: layers by
// longest path, then a few deterministic barycenter sweeps to reduce
// crossings. No Graphviz needed; the output is deterministic.
func DAGSVG(plan *ir.Plan) string {
	nodes := dagNodes(plan)
	layers := assignLayers(nodes)
	orderLayers(nodes, layers)
	width, height := place(nodes, layers)

	failed := plan.Failed()
	var errLines []string
	for _, f := range failed {
		msg := f.Err.Error()
		if fe, ok := f.Err.(*ir.FeatureError); ok {
			msg = fe.Render()
		}
		errLines = append(errLines, strings.Split(msg, "\n")...)
	}
	header := fmt.Sprintf("%d features (%d ok, %d failed), %d nodes, %d shared by more than one feature",
		len(plan.Features), len(plan.Features)-len(failed), len(failed), len(plan.Nodes), plan.SharedNodes())
	top := dagMargin + lineHeight + 6
	errWidth := 0.0
	for _, l := range errLines {
		errWidth = max(errWidth, float64(len([]rune(l)))*charWidth)
	}
	totalW := max(width, errWidth, float64(len(header))*charWidth*0.85) + 2*dagMargin
	totalH := top + height + dagMargin
	if len(errLines) > 0 {
		totalH += 10 + lineHeight*float64(len(errLines)+1) + boxPadY
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="monospace" font-size="12">`+"\n",
		num(totalW), num(totalH), num(totalW), num(totalH))
	fmt.Fprintf(&b, `<rect width="%s" height="%s" fill="white"/>`+"\n", num(totalW), num(totalH))
	b.WriteString(`<defs><marker id="fdag-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#666"/></marker></defs>` + "\n")
	fmt.Fprintf(&b, `<text x="%s" y="%s" font-family="sans-serif">%s</text>`+"\n", num(dagMargin), num(dagMargin+11), html.EscapeString(header))
	off := func(n *dagNode) (float64, float64) { return n.x + dagMargin, n.y + top }
	for _, n := range nodes {
		nx, ny := off(n)
		for _, a := range n.args {
			an := nodes[a]
			ax, ay := off(an)
			x1, y1 := ax+an.w, ay+an.h/2
			x2, y2 := nx, ny+n.h/2
			mx := (x1 + x2) / 2
			fmt.Fprintf(&b, `<path d="M%s,%s C%s,%s %s,%s %s,%s" fill="none" stroke="#666" marker-end="url(#fdag-arrow)"/>`+"\n",
				num(x1), num(y1), num(mx), num(y1), num(mx), num(y2), num(x2), num(y2))
		}
	}
	for _, n := range nodes {
		nx, ny := off(n)
		fill, stroke, sw, rx := "#f7f7f7", "#888", "1", "2"
		switch {
		case n.feature:
			fill, stroke, rx = "#e8f4e8", "#2a7a2a", "10"
		case n.shared > 1:
			fill, stroke, sw = "#fff4d6", "#c98a00", "2"
		}
		fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" rx="%s" fill="%s" stroke="%s" stroke-width="%s"/>`+"\n",
			num(nx), num(ny), num(n.w), num(n.h), rx, fill, stroke, sw)
		for i, l := range n.lines {
			color := "#000"
			if i > 0 {
				color = "#555"
			}
			fmt.Fprintf(&b, `<text x="%s" y="%s" fill="%s" xml:space="preserve">%s</text>`+"\n",
				num(nx+boxPadX), num(ny+boxPadY+lineHeight*float64(i)+11), color, html.EscapeString(l))
		}
	}
	if len(errLines) > 0 {
		y := top + height + 10
		fmt.Fprintf(&b, `<text x="%s" y="%s" fill="#b00" font-family="sans-serif">failed features:</text>`+"\n", num(dagMargin), num(y+11))
		for i, l := range errLines {
			fmt.Fprintf(&b, `<text x="%s" y="%s" fill="#b00" xml:space="preserve" style="white-space:pre">%s</text>`+"\n",
				num(dagMargin), num(y+11+lineHeight*float64(i+1)), html.EscapeString(l))
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// dagNodes builds the drawing's boxes: the plan's nodes (same indexes), then
// one sink per successful feature.
func dagNodes(plan *ir.Plan) []*dagNode {
	users := plan.FeatureUsers()
	nodes := make([]*dagNode, 0, len(plan.Nodes)+len(plan.Features))
	for i, n := range plan.Nodes {
		d := &dagNode{lines: []string{"n" + strconv.Itoa(int(n.ID)) + " = " + n.Expr()}}
		var extra []string
		if lb := plan.Lookbacks[i]; !lb.IsZero() {
			extra = append(extra, "lookback "+lb.String())
		}
		if users[i] > 1 {
			d.shared = users[i]
			extra = append(extra, fmt.Sprintf("shared by %d features", users[i]))
		}
		if len(extra) > 0 {
			d.lines = append(d.lines, strings.Join(extra, ", "))
		}
		for j, a := range n.Args {
			if !slices.Contains(n.Args[:j], a) {
				d.args = append(d.args, int(a))
			}
		}
		nodes = append(nodes, d)
	}
	for _, f := range plan.Features {
		if f.Err != nil {
			continue
		}
		d := &dagNode{lines: []string{f.Spec.Name}, feature: true, args: []int{int(f.Root)}}
		if !f.Lookback.IsZero() {
			d.lines = append(d.lines, "lookback "+f.Lookback.String())
		}
		nodes = append(nodes, d)
	}
	for _, d := range nodes {
		w := 0
		for _, l := range d.lines {
			w = max(w, len([]rune(l)))
		}
		d.w = float64(w)*charWidth + 2*boxPadX
		d.h = float64(len(d.lines))*lineHeight + 2*boxPadY
	}
	return nodes
}

// assignLayers puts each node one layer right of its deepest argument
// (nodes come in topological order) and every feature sink in the last
// layer; it returns the layers' members.
func assignLayers(nodes []*dagNode) [][]int {
	last := 0
	for _, n := range nodes {
		if n.feature {
			continue
		}
		for _, a := range n.args {
			n.layer = max(n.layer, nodes[a].layer+1)
		}
		last = max(last, n.layer)
	}
	layers := make([][]int, last+2)
	for i, n := range nodes {
		if n.feature {
			n.layer = last + 1
		}
		layers[n.layer] = append(layers[n.layer], i)
	}
	if len(layers[last+1]) == 0 {
		layers = layers[:last+1]
	}
	for _, l := range layers {
		for k, i := range l {
			nodes[i].pos = float64(k)
		}
	}
	return layers
}

// orderLayers runs barycenter sweeps: each node moves to the mean position
// of its neighbours in the previous (downward) or next (upward) layer. Ties
// keep the earlier order, so the result is deterministic.
func orderLayers(nodes []*dagNode, layers [][]int) {
	if len(nodes) == 0 {
		return
	}
	users := make([][]int, len(nodes))
	for i, n := range nodes {
		for _, a := range n.args {
			users[a] = append(users[a], i)
		}
	}
	sweep := func(l []int, neighbours func(int) []int) {
		bary := make(map[int]float64, len(l))
		for _, i := range l {
			nb := neighbours(i)
			if len(nb) == 0 {
				bary[i] = nodes[i].pos
				continue
			}
			s := 0.0
			for _, j := range nb {
				s += nodes[j].pos
			}
			bary[i] = s / float64(len(nb))
		}
		slices.SortStableFunc(l, func(a, b int) int { return cmp.Compare(bary[a], bary[b]) })
		for k, i := range l {
			nodes[i].pos = float64(k)
		}
	}
	for range 4 {
		for li := 1; li < len(layers); li++ {
			sweep(layers[li], func(i int) []int { return nodes[i].args })
		}
		for li := len(layers) - 2; li >= 0; li-- {
			sweep(layers[li], func(i int) []int { return users[i] })
		}
	}
}

// place sets every box's position: layers as columns (each as wide as its
// widest box), boxes stacked in order and centred vertically. It returns
// the drawing's size.
func place(nodes []*dagNode, layers [][]int) (width, height float64) {
	colH := make([]float64, len(layers))
	for li, l := range layers {
		for k, i := range l {
			if k > 0 {
				colH[li] += rowGap
			}
			colH[li] += nodes[i].h
		}
		height = max(height, colH[li])
	}
	x := 0.0
	for li, l := range layers {
		colW := 0.0
		y := (height - colH[li]) / 2
		for _, i := range l {
			nodes[i].x, nodes[i].y = x, y
			y += nodes[i].h + rowGap
			colW = max(colW, nodes[i].w)
		}
		x += colW
		if li < len(layers)-1 {
			x += layerGap
		}
	}
	return x, height
}
