package flightserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/internal/demodata"
)

// fetchNoticesOf runs one DoGet of a fetch ticket and returns the rows it
// streamed and the notices in its app_metadata.
func fetchNoticesOf(t *testing.T, c flight.Client, ticket string) (int64, []notice) {
	t.Helper()
	stream, err := c.DoGet(context.Background(), &flight.Ticket{Ticket: []byte(ticket)})
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	var rows int64
	var out []notice
	for rdr.Next() {
		rows += rdr.RecordBatch().NumRows()
		if md := rdr.LatestAppMetadata(); len(md) > 0 {
			var m map[string][]notice
			if err := json.Unmarshal(md, &m); err != nil {
				t.Fatalf("app_metadata %q: %v", md, err)
			}
			out = append(out, m[noticesKey]...)
		}
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return rows, out
}

// An empty fetch reaches the client in-band: an unknown symbol, a range
// without data, one symbol of two missing; a fetch with data sends none.
func TestEmptyFetchNoticesInBand(t *testing.T) {
	_, _, c := warehouseServer(t)
	recs := demoRecords(t, 5_000) // BTCUSDT, ETHUSDT from day0
	if _, err := put(t, c, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{catalog.TradesTable}}, demodata.Schema, recs); err != nil {
		t.Fatal(err)
	}
	ticket := func(symbols, start, end string) string {
		return `{"features":[{"name":"r","formula":"log(close)"}],"symbols":[` + symbols + `],"start":"` + start + `","end":"` + end + `"}`
	}
	d0, d1 := day0.Format(time.DateOnly), day0.Add(24*time.Hour).Format(time.DateOnly)
	for _, c2 := range []struct {
		name, ticket, want string
		rows               bool
	}{
		{"unknown symbol", ticket(`"NOPE"`, d0, d1), "cdm_trade_enriched: no source rows for symbol NOPE in [2024-01-02T00:00:00Z, 2024-01-03T00:00:00Z)", false},
		{"range without data", ticket(`"BTCUSDT"`, "2023-01-01", "2023-01-02"), "no source rows for symbol BTCUSDT in [2023-01-01T00:00:00Z", false},
		{"one of two", ticket(`"BTCUSDT","NOPE"`, d0, d1), "no source rows for symbol NOPE in", true},
		{"data", ticket(`"BTCUSDT"`, d0, d1), "", true},
	} {
		rows, ns := fetchNoticesOf(t, c, c2.ticket)
		if (rows > 0) != c2.rows {
			t.Errorf("%s: %d rows", c2.name, rows)
		}
		if c2.want == "" {
			if len(ns) != 0 {
				t.Errorf("%s: notices %+v, want none", c2.name, ns)
			}
			continue
		}
		if len(ns) != 1 || ns[0].Kind != "empty" || !strings.Contains(ns[0].Message, c2.want) {
			t.Errorf("%s: notices %+v, want one saying %q", c2.name, ns, c2.want)
		}
	}
}
