package flightserver

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/batch"
	"github.com/featuredag/fdag/catalog"
)

// Notices: warnings a DoGet sends in-band, so that every client (not only
// the server's log) learns that a fetch is probably a mistake. They travel
// in the app_metadata of a last, zero-row batch (the stream's schema goes
// first even when there is no other batch) (docs/flight.md, "Notices"):
//
//	{"fdag.notices": [{"kind": "empty", "table": "cdm_trade_enriched",
//	  "symbols": ["NOPE"], "start": "...", "end": "...", "message": "..."}]}
//
// A client that does not look at app_metadata reads the same batches as
// before. The Python client turns each notice into an EmptyResultWarning
// (or EmptyResult with on_empty="error").

// noticesKey is the app_metadata key of the notices.
const noticesKey = "fdag.notices"

// notice is one in-band warning.
type notice struct {
	Kind    string   `json:"kind"` // "empty": symbols without source rows in the range
	Table   string   `json:"table"`
	Symbols []string `json:"symbols,omitempty"`
	Start   string   `json:"start"`
	End     string   `json:"end"`
	Message string   `json:"message"`
}

// fetchNotices are the warnings of a computed fetch that read sourceRows
// rows of [start, end) and output the symbols in seen: the requested
// symbols with no source rows in the range (every output row is a source
// row of the range, so a symbol absent from the output had none).
func fetchNotices(req batch.Request, sourceRows int64, seen symbolSet) []notice {
	var empty []string
	switch {
	case sourceRows == 0 && len(req.Symbols) == 0:
		empty = []string{} // "any symbol"
	case sourceRows == 0:
		empty = req.Symbols
	default:
		empty = seen.absent(req.Symbols)
	}
	if empty == nil {
		return nil
	}
	table := req.Source
	if table == "" {
		table = catalog.TradesTable
	}
	start, end := req.Start.UTC().Format(time.RFC3339), req.End.UTC().Format(time.RFC3339)
	what := "any symbol"
	if len(empty) > 0 {
		what = "symbol " + strings.Join(empty, ", ")
		if len(empty) > 1 {
			what = "symbols " + strings.Join(empty, ", ")
		}
	}
	return []notice{{Kind: "empty", Table: table, Symbols: empty, Start: start, End: end,
		Message: fmt.Sprintf("%s: no source rows for %s in [%s, %s)", table, what, start, end)}}
}

// symbolSet collects the symbols of a fetch's output batches as they are
// sent. Rows come ordered by symbol, so a batch whose first and last rows
// have one symbol holds no other.
type symbolSet map[string]bool

func (s *symbolSet) add(rec arrow.RecordBatch) {
	idx := rec.Schema().FieldIndices(catalog.ColSymbol)
	if len(idx) == 0 || rec.NumRows() == 0 {
		return
	}
	col, ok := rec.Column(idx[0]).(*array.String)
	if !ok {
		return
	}
	if *s == nil {
		*s = symbolSet{}
	}
	if n := col.Len(); col.Value(0) == col.Value(n-1) && col.NullN() == 0 {
		(*s)[col.Value(0)] = true
		return
	}
	for i := 0; i < col.Len(); i++ {
		if col.IsValid(i) {
			(*s)[col.Value(i)] = true
		}
	}
}

// absent are the symbols of want never seen, in want's order; nil when
// all were.
func (s symbolSet) absent(want []string) []string {
	var out []string
	for _, w := range want {
		if !s[w] {
			out = append(out, w)
		}
	}
	return out
}

// noticesMetadata is the app_metadata carrying ns; nil for none.
func noticesMetadata(ns []notice) []byte {
	if len(ns) == 0 {
		return nil
	}
	b, _ := json.Marshal(map[string][]notice{noticesKey: ns})
	return b
}

// writeTrailer sends each non-nil trailer as the app_metadata of a
// zero-row batch of schema.
func writeTrailer(w *flight.Writer, schema *arrow.Schema, mem memory.Allocator, trailers [][]byte) error {
	for _, tr := range trailers {
		if tr == nil {
			continue
		}
		b := array.NewRecordBuilder(mem, schema)
		empty := b.NewRecordBatch()
		b.Release()
		err := w.WriteWithAppMetadata(empty, tr)
		empty.Release()
		if err != nil {
			return fmt.Errorf("sending notices: %w", err)
		}
	}
	return nil
}
