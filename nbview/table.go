package nbview

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
)

// TableOptions configures TableHTML. The zero value shows the first 5 and
// last 5 rows with 6 significant digits.
type TableOptions struct {
	Head, Tail int // rows shown from the start and the end; < 0 shows none, 0 means 5
	Digits     int // significant digits of floats; 0 means 6
	// Specs, when given, supply the formulas under which failed features'
	// errors get their caret line (see RenderError).
	Specs []ir.Spec
	// Title is shown above the table ("" shows none).
	Title string
}

func (o TableOptions) withDefaults() TableOptions {
	if o.Head == 0 {
		o.Head = 5
	}
	if o.Tail == 0 {
		o.Tail = 5
	}
	o.Head, o.Tail = max(o.Head, 0), max(o.Tail, 0)
	if o.Digits <= 0 {
		o.Digits = 6
	}
	return o
}

// tableCSS is scoped to the fdag-view class so it styles nothing else in
// the notebook.
const tableCSS = `<style>
.fdag-view table{border-collapse:collapse;font-family:monospace;font-size:12px;margin:4px 0}
.fdag-view th,.fdag-view td{border:1px solid #ddd;padding:2px 6px;text-align:right;white-space:nowrap}
.fdag-view th{background:#f4f4f4}
.fdag-view td.fdag-null{color:#999;font-style:italic}
.fdag-view td.fdag-gap{text-align:center;color:#999}
.fdag-view .fdag-ok{color:#070}
.fdag-view .fdag-error{color:#b00}
.fdag-view pre{margin:0;text-align:left;white-space:pre}
</style>`

// TableHTML renders a wide feature table: the row and column counts, the
// status of every requested feature (from the fdag.features metadata; a
// failed feature with its error and caret), then the first and last rows
// with their row numbers. Nulls show as "null", NaN and infinities as
// such. Malformed status metadata is reported in the output, not hidden.
func TableHTML(tbl arrow.Table, opts TableOptions) string {
	opts = opts.withDefaults()
	var b strings.Builder
	b.WriteString(tableCSS)
	b.WriteString(`<div class="fdag-view">`)
	if opts.Title != "" {
		fmt.Fprintf(&b, "<b>%s</b><br>", html.EscapeString(opts.Title))
	}
	n := int(tbl.NumRows())
	sts, err := Statuses(tbl.Schema())
	fmt.Fprintf(&b, "<div>%s rows &times; %d columns", groupThousands(n), tbl.NumCols())
	if len(sts) > 0 {
		ok := 0
		for _, s := range sts {
			if s.Status == compute.StatusSuccess {
				ok++
			}
		}
		fmt.Fprintf(&b, `; features: <span class="fdag-ok">%d ok</span>`, ok)
		if bad := len(sts) - ok; bad > 0 {
			fmt.Fprintf(&b, `, <span class="fdag-error">%d failed</span>`, bad)
		}
	}
	b.WriteString("</div>")
	if err != nil {
		fmt.Fprintf(&b, `<div class="fdag-error">%s</div>`, html.EscapeString(err.Error()))
	}
	if len(sts) > 0 {
		writeStatuses(&b, sts, formulas(opts.Specs))
	}
	writeRows(&b, tbl, opts)
	b.WriteString("</div>")
	return b.String()
}

// RecordHTML is TableHTML for one record batch.
func RecordHTML(rec arrow.RecordBatch, opts TableOptions) string {
	tbl := array.NewTableFromRecords(rec.Schema(), []arrow.RecordBatch{rec})
	defer tbl.Release()
	return TableHTML(tbl, opts)
}

func writeStatuses(b *strings.Builder, sts []compute.FeatureStatus, src map[string]string) {
	b.WriteString("<table><tr><th>feature</th><th>status</th><th>error</th></tr>")
	for _, s := range sts {
		if s.Status == compute.StatusSuccess {
			fmt.Fprintf(b, `<tr><td>%s</td><td class="fdag-ok">ok</td><td></td></tr>`, html.EscapeString(s.Name))
			continue
		}
		fmt.Fprintf(b, `<tr><td>%s</td><td class="fdag-error">%s</td><td><pre class="fdag-error">%s</pre></td></tr>`,
			html.EscapeString(s.Name), html.EscapeString(s.Status), html.EscapeString(RenderError(s.Error, src[s.Name])))
	}
	b.WriteString("</table>")
}

func writeRows(b *strings.Builder, tbl arrow.Table, opts TableOptions) {
	n := int(tbl.NumRows())
	cols := int(tbl.NumCols())
	if cols == 0 {
		return
	}
	b.WriteString("<table><tr><th></th>")
	for i := range cols {
		f := tbl.Schema().Field(i)
		fmt.Fprintf(b, `<th title="%s">%s</th>`, html.EscapeString(f.Type.String()), html.EscapeString(f.Name))
	}
	b.WriteString("</tr>")
	head, tail := opts.Head, opts.Tail
	if head+tail >= n {
		head, tail = n, 0
	}
	row := func(r int) {
		fmt.Fprintf(b, "<tr><th>%d</th>", r)
		for c := range cols {
			arr, i := locate(tbl.Column(c).Data(), r)
			txt, null := cellText(arr, i, opts.Digits)
			if null {
				b.WriteString(`<td class="fdag-null">null</td>`)
			} else {
				fmt.Fprintf(b, "<td>%s</td>", html.EscapeString(txt))
			}
		}
		b.WriteString("</tr>")
	}
	for r := range head {
		row(r)
	}
	if tail > 0 {
		fmt.Fprintf(b, `<tr><td class="fdag-gap" colspan="%d">&hellip; %s more rows &hellip;</td></tr>`,
			cols+1, groupThousands(n-head-tail))
		for r := n - tail; r < n; r++ {
			row(r)
		}
	}
	b.WriteString("</table>")
}

// locate finds the chunk holding row r of a chunked column and the row's
// index in it.
func locate(c *arrow.Chunked, r int) (arrow.Array, int) {
	for _, ch := range c.Chunks() {
		if r < ch.Len() {
			return ch, r
		}
		r -= ch.Len()
	}
	return nil, 0
}

// cellText formats one value; null reports a null.
func cellText(arr arrow.Array, i, digits int) (txt string, null bool) {
	if arr == nil || arr.IsNull(i) {
		return "", true
	}
	switch a := arr.(type) {
	case *array.Float64:
		return formatFloat(a.Value(i), digits), false
	case *array.Float32:
		return formatFloat(float64(a.Value(i)), digits), false
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return formatTime(a.Value(i).ToTime(unit)), false
	}
	return arr.ValueStr(i), false
}

func formatFloat(v float64, digits int) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', digits, 64)
}

// formatTime prints UTC with microseconds, the precision of trade times.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.000000")
}

// groupThousands writes 1234567 as "1,234,567".
func groupThousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
