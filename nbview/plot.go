package nbview

import (
	"errors"
	"fmt"
	"html"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// PlotOptions configures PlotSVG. Left and Right name the series: Left on
// the left axis (a price, say), Right on a second axis at the right (the
// features, whose scale differs). At least one series is required; with
// only Right given, those series take the left axis.
type PlotOptions struct {
	Left, Right  []string
	TimeColumn   string // default "event_time"
	SymbolColumn string // default "symbol"
	// Symbol keeps only that symbol's rows; "" plots every row, which is
	// only meaningful for one-symbol tables (PlotSVG refuses a table
	// holding several symbols then, rather than zig-zag between them).
	Symbol        string
	Title         string
	Width, Height int // pixels; default 800 x 360
	// MaxPoints bounds the points drawn per series (default 2000): longer
	// series are reduced to each bucket's minimum and maximum, so spikes stay
	// visible and the SVG stays small whatever the row count.
	MaxPoints int
}

func (o PlotOptions) withDefaults() PlotOptions {
	if o.TimeColumn == "" {
		o.TimeColumn = "event_time"
	}
	if o.SymbolColumn == "" {
		o.SymbolColumn = "symbol"
	}
	if o.Width <= 0 {
		o.Width = 800
	}
	if o.Height <= 0 {
		o.Height = 360
	}
	if o.MaxPoints <= 0 {
		o.MaxPoints = 2000
	}
	if len(o.Left) == 0 {
		o.Left, o.Right = o.Right, nil
	}
	return o
}

// palette is matplotlib's tab10, so Go and Python plots look alike.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// series is one column to draw: times in ns and values, NaN for null.
type series struct {
	name  string
	right bool
	t     []int64
	v     []float64
}

// PlotSVG draws series of a wide table against its time column as an SVG
// line plot: a time axis, the Left series on the left axis, the Right
// series on a second axis, a legend. Nulls and NaN break a line; infinities
// are left out of the axis range. The output is deterministic.
//
// Errors name what is wrong: an unknown or non-numeric column, a time
// column that is not a timestamp, no rows (for Symbol), several symbols.
func PlotSVG(tbl arrow.Table, opts PlotOptions) (string, error) {
	opts = opts.withDefaults()
	if len(opts.Left) == 0 {
		return "", errors.New("plot: no series given (set Left and/or Right)")
	}
	rows, err := selectRows(tbl, opts)
	if err != nil {
		return "", err
	}
	if len(rows) == 0 {
		if opts.Symbol != "" {
			return "", fmt.Errorf("plot: no rows for symbol %q", opts.Symbol)
		}
		return "", errors.New("plot: the table has no rows")
	}
	times, err := timeValues(tbl, opts.TimeColumn, rows)
	if err != nil {
		return "", err
	}
	var all []series
	for i, name := range slices.Concat(opts.Left, opts.Right) {
		v, err := numericValues(tbl, name, rows)
		if err != nil {
			return "", err
		}
		t, v := reduce(times, v, opts.MaxPoints)
		all = append(all, series{name: name, right: i >= len(opts.Left), t: t, v: v})
	}
	return renderPlot(all, times[0], times[len(times)-1], opts), nil
}

// selectRows returns the row numbers to plot: all of them, or those of
// opts.Symbol.
func selectRows(tbl arrow.Table, opts PlotOptions) ([]int, error) {
	n := int(tbl.NumRows())
	idx := fieldIndex(tbl.Schema(), opts.SymbolColumn)
	if idx < 0 {
		if opts.Symbol != "" {
			return nil, fmt.Errorf("plot: Symbol %q given but the table has no column %q", opts.Symbol, opts.SymbolColumn)
		}
		return allRows(n), nil
	}
	col := tbl.Column(idx).Data()
	var rows []int
	first, several := "", false
	r := 0
	for _, ch := range col.Chunks() {
		for i := range ch.Len() {
			s := ""
			if !ch.IsNull(i) {
				s = ch.ValueStr(i)
			}
			switch {
			case opts.Symbol != "":
				if s == opts.Symbol {
					rows = append(rows, r)
				}
			case r == 0:
				first = s
			case s != first:
				several = true
			}
			r++
		}
	}
	if opts.Symbol == "" {
		if several {
			return nil, fmt.Errorf("plot: the table holds several symbols in column %q; set PlotOptions.Symbol", opts.SymbolColumn)
		}
		return allRows(n), nil
	}
	return rows, nil
}

func allRows(n int) []int {
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	return rows
}

func fieldIndex(s *arrow.Schema, name string) int {
	idx := s.FieldIndices(name)
	if len(idx) == 0 {
		return -1
	}
	return idx[0]
}

func columnNames(s *arrow.Schema) string {
	names := make([]string, s.NumFields())
	for i := range names {
		names[i] = s.Field(i).Name
	}
	return strings.Join(names, ", ")
}

// gather calls f for each wanted row (ascending) with its chunk and index.
func gather(c *arrow.Chunked, rows []int, f func(k int, arr arrow.Array, i int)) {
	k, base := 0, 0
	for _, ch := range c.Chunks() {
		for k < len(rows) && rows[k] < base+ch.Len() {
			f(k, ch, rows[k]-base)
			k++
		}
		base += ch.Len()
	}
}

func timeValues(tbl arrow.Table, name string, rows []int) ([]int64, error) {
	idx := fieldIndex(tbl.Schema(), name)
	if idx < 0 {
		return nil, fmt.Errorf("plot: no time column %q (columns: %s)", name, columnNames(tbl.Schema()))
	}
	col := tbl.Column(idx).Data()
	ts, ok := col.DataType().(*arrow.TimestampType)
	if !ok {
		return nil, fmt.Errorf("plot: time column %q has type %s; expected a timestamp", name, col.DataType())
	}
	out := make([]int64, len(rows))
	var bad error
	gather(col, rows, func(k int, arr arrow.Array, i int) {
		if arr.IsNull(i) {
			if bad == nil {
				bad = fmt.Errorf("plot: time column %q is null at row %d", name, rows[k])
			}
			return
		}
		out[k] = arr.(*array.Timestamp).Value(i).ToTime(ts.Unit).UnixNano()
	})
	return out, bad
}

func numericValues(tbl arrow.Table, name string, rows []int) ([]float64, error) {
	idx := fieldIndex(tbl.Schema(), name)
	if idx < 0 {
		return nil, fmt.Errorf("plot: no column %q (columns: %s)", name, columnNames(tbl.Schema()))
	}
	col := tbl.Column(idx).Data()
	out := make([]float64, len(rows))
	var bad error
	gather(col, rows, func(k int, arr arrow.Array, i int) {
		if arr.IsNull(i) {
			out[k] = math.NaN()
			return
		}
		switch a := arr.(type) {
		case *array.Float64:
			out[k] = a.Value(i)
		case *array.Float32:
			out[k] = float64(a.Value(i))
		case *array.Int64:
			out[k] = float64(a.Value(i))
		case *array.Int32:
			out[k] = float64(a.Value(i))
		default:
			if bad == nil {
				bad = fmt.Errorf("plot: column %q has type %s; expected a number", name, arr.DataType())
			}
		}
	})
	return out, bad
}

// reduce keeps at most about max points: the minimum and maximum of each
// bucket of consecutive rows, in time order, and the NaN gaps.
func reduce(t []int64, v []float64, maxPoints int) ([]int64, []float64) {
	if len(t) <= maxPoints {
		return t, v
	}
	size := (len(t) + maxPoints/2 - 1) / (maxPoints / 2)
	var rt []int64
	var rv []float64
	for s := 0; s < len(t); s += size {
		e := min(s+size, len(t))
		lo, hi, gap := -1, -1, -1
		for i := s; i < e; i++ {
			switch {
			case math.IsNaN(v[i]):
				gap = i
			case lo < 0:
				lo, hi = i, i
			case v[i] < v[lo]:
				lo = i
			case v[i] > v[hi]:
				hi = i
			}
		}
		keep := []int{}
		for _, i := range []int{lo, hi, gap} {
			if i >= 0 && !slices.Contains(keep, i) {
				keep = append(keep, i)
			}
		}
		slices.Sort(keep)
		for _, i := range keep {
			rt, rv = append(rt, t[i]), append(rv, v[i])
		}
	}
	return rt, rv
}

// plot margins in pixels.
const (
	marginLeft   = 70
	marginRight  = 70
	marginTop    = 30
	marginBottom = 50
)

func renderPlot(all []series, t0, t1 int64, opts PlotOptions) string {
	w, h := float64(opts.Width), float64(opts.Height)
	pw, ph := w-marginLeft-marginRight, h-marginTop-marginBottom
	if t1 == t0 {
		t1 = t0 + 1
	}
	x := func(t int64) float64 { return marginLeft + pw*float64(t-t0)/float64(t1-t0) }
	leftLo, leftHi := valueRange(all, false)
	rightLo, rightHi := valueRange(all, true)
	hasRight := slices.ContainsFunc(all, func(s series) bool { return s.right })

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		opts.Width, opts.Height, opts.Width, opts.Height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", opts.Width, opts.Height)
	if opts.Title != "" {
		fmt.Fprintf(&b, `<text x="%s" y="18" text-anchor="middle" font-size="13">%s</text>`+"\n", num(w/2), html.EscapeString(opts.Title))
	}
	// Axes and grid.
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%s" height="%s" fill="none" stroke="#444"/>`+"\n", marginLeft, marginTop, num(pw), num(ph))
	yAxis := func(lo, hi float64, right bool) func(float64) float64 {
		y := func(v float64) float64 { return marginTop + ph*(1-(v-lo)/(hi-lo)) }
		ticks, step := niceTicks(lo, hi, 6)
		for _, tv := range ticks {
			yy := num(y(tv))
			label := formatTick(tv, step)
			if right {
				fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#444"/><text x="%s" y="%s" dy="4">%s</text>`+"\n",
					num(marginLeft+pw), yy, num(marginLeft+pw+4), yy, num(marginLeft+pw+6), yy, label)
				continue
			}
			fmt.Fprintf(&b, `<line x1="%d" y1="%s" x2="%s" y2="%s" stroke="#eee"/>`+"\n", marginLeft, yy, num(marginLeft+pw), yy)
			fmt.Fprintf(&b, `<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#444"/><text x="%d" y="%s" dy="4" text-anchor="end">%s</text>`+"\n",
				marginLeft-4, yy, marginLeft, yy, marginLeft-6, yy, label)
		}
		return y
	}
	yl := yAxis(leftLo, leftHi, false)
	yr := yl
	if hasRight {
		yr = yAxis(rightLo, rightHi, true)
	}
	tticks, tstep := timeTicks(t0, t1, 7)
	for _, tt := range tticks {
		xx := num(x(tt))
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#444"/><text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n",
			xx, num(marginTop+ph), xx, num(marginTop+ph+4), xx, num(marginTop+ph+16), formatTimeTick(tt, tstep))
	}
	fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" fill="#444">%s &#8211; %s UTC</text>`+"\n",
		num(marginLeft+pw/2), num(h-10), formatTime(time.Unix(0, t0)), formatTime(time.Unix(0, t1)))
	// Lines, clipped to the plot area.
	fmt.Fprintf(&b, `<clipPath id="fdag-plot-area"><rect x="%d" y="%d" width="%s" height="%s"/></clipPath>`+"\n", marginLeft, marginTop, num(pw), num(ph))
	for i, s := range all {
		y := yl
		if s.right {
			y = yr
		}
		fmt.Fprintf(&b, `<path clip-path="url(#fdag-plot-area)" fill="none" stroke="%s" stroke-width="1.2" d="%s"/>`+"\n",
			palette[i%len(palette)], pathData(s, x, y))
	}
	// Legend.
	for i, s := range all {
		ly := marginTop + 12 + 14*float64(i)
		label := s.name
		if hasRight {
			label += map[bool]string{false: " (left)", true: " (right)"}[s.right]
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="%s" stroke-width="2"/><text x="%d" y="%s" dy="4">%s</text>`+"\n",
			marginLeft+8, num(ly), marginLeft+24, num(ly), palette[i%len(palette)], marginLeft+28, num(ly), html.EscapeString(label))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// pathData is the SVG path of a series, a new segment after each gap.
func pathData(s series, x func(int64) float64, y func(float64) float64) string {
	var b strings.Builder
	pen := false
	for i, v := range s.v {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			pen = false
			continue
		}
		cmd := "L"
		if !pen {
			cmd = "M"
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(cmd + num(x(s.t[i])) + "," + num(y(v)))
		pen = true
	}
	return b.String()
}

// valueRange is the padded range of the finite values on one axis.
func valueRange(all []series, right bool) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range all {
		if s.right != right {
			continue
		}
		for _, v := range s.v {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	switch {
	case lo > hi: // nothing finite
		return 0, 1
	case lo == hi:
		d := math.Max(math.Abs(lo)*0.01, 1e-9)
		return lo - d, hi + d
	}
	pad := (hi - lo) * 0.05
	return lo - pad, hi + pad
}

// niceTicks returns about n round tick values (1, 2 or 5 times a power of
// ten apart) inside [lo, hi], and their step.
func niceTicks(lo, hi float64, n int) ([]float64, float64) {
	raw := (hi - lo) / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step := p
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			step = m * p
			break
		}
	}
	var ticks []float64
	for k := math.Ceil(lo / step); k*step <= hi; k++ {
		ticks = append(ticks, k*step)
	}
	return ticks, step
}

// formatTick prints a tick with as many decimals as its step needs.
func formatTick(v, step float64) string {
	dec := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	if math.Abs(v) < step/2 {
		v = 0 // no "-0.00"
	}
	if math.Abs(v) >= 1e6 || (v != 0 && math.Abs(v) < 1e-4) {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}

// timeSteps are the tick spacings of the time axis.
var timeSteps = []time.Duration{
	time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 365 * 24 * time.Hour,
}

// timeTicks returns at most about n ticks at round UTC times in [t0, t1].
func timeTicks(t0, t1 int64, n int) ([]int64, time.Duration) {
	step := timeSteps[len(timeSteps)-1]
	for _, s := range timeSteps {
		if (t1-t0)/int64(s) <= int64(n) {
			step = s
			break
		}
	}
	var ticks []int64
	first := (t0 + int64(step) - 1) / int64(step) * int64(step)
	if t0 < 0 {
		first = t0 / int64(step) * int64(step)
	}
	for t := first; t <= t1; t += int64(step) {
		ticks = append(ticks, t)
	}
	return ticks, step
}

func formatTimeTick(t int64, step time.Duration) string {
	tt := time.Unix(0, t).UTC()
	switch {
	case step < time.Second:
		return tt.Format("15:04:05.000")
	case step < time.Minute:
		return tt.Format("15:04:05")
	case step < 24*time.Hour:
		if tt.Hour() == 0 && tt.Minute() == 0 {
			return tt.Format("Jan 2")
		}
		return tt.Format("15:04")
	}
	return tt.Format("2006-01-02")
}

// num prints a coordinate with one decimal, the precision a screen needs.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
