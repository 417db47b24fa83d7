package flightserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"

	"github.com/featuredag/fdag/batch"
	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/ir"
)

var day0 = time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)

// warehouseServer is a server over a fresh embedded warehouse.
func warehouseServer(t *testing.T) (*testServer, *catalog.Warehouse, flight.Client) {
	t.Helper()
	return warehouseServerWith(t, Config{})
}

// warehouseServerWith is warehouseServer with a config.
func warehouseServerWith(t *testing.T, cfg Config) (*testServer, *catalog.Warehouse, flight.Client) {
	t.Helper()
	whMem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	wh, err := catalog.Open(context.Background(), t.TempDir(), catalog.Config{}, catalog.Options{Mem: whMem, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		wh.Close()
		whMem.AssertSize(t, 0)
	})
	ts := startServerWith(t, cfg, Options{Warehouse: wh})
	return ts, wh, newClient(t, ts.addr())
}

// put runs one DoPut and returns the server's summary.
func put(t *testing.T, c flight.Client, desc *flight.FlightDescriptor, schema *arrow.Schema, recs []arrow.RecordBatch) (putSummary, error) {
	t.Helper()
	stream, err := c.DoPut(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(schema))
	w.SetFlightDescriptor(desc)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			break // the status comes with Recv
		}
	}
	w.Close()
	stream.CloseSend()
	var sum putSummary
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return sum, nil
		}
		if err != nil {
			return sum, err
		}
		if err := json.Unmarshal(res.AppMetadata, &sum); err != nil {
			t.Fatalf("put result %q: %v", res.AppMetadata, err)
		}
	}
}

func demoRecords(t *testing.T, rows int) []arrow.RecordBatch {
	rdr := demodata.NewReader(demodata.Config{Rows: rows, Seed: 3, Symbols: []string{"BTCUSDT", "ETHUSDT"}, MeanGap: 8 * time.Second, Start: day0, BatchRows: 5000}, memory.DefaultAllocator)
	defer rdr.Release()
	var out []arrow.RecordBatch
	for rdr.Next() {
		r := rdr.RecordBatch()
		r.Retain()
		out = append(out, r)
	}
	t.Cleanup(func() { releaseAll(out) })
	return out
}

func readAll(t *testing.T, c flight.Client, ticket []byte) (arrow.Table, error) {
	t.Helper()
	stream, err := c.DoGet(context.Background(), &flight.Ticket{Ticket: ticket})
	if err != nil {
		return nil, err
	}
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		return nil, err
	}
	defer rdr.Release()
	var recs []arrow.RecordBatch
	for rdr.Next() {
		r := rdr.RecordBatch()
		r.Retain()
		recs = append(recs, r)
	}
	defer releaseAll(recs)
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return array.NewTableFromRecords(rdr.Schema(), recs), nil
}

var fetchSpecs = []ir.Spec{
	{Name: "ret_1", Formula: "log(close) - log(lag(close, 1))"},
	{Name: "ma_100", Formula: "rolling_mean(close, 100)"},
	{Name: "vol_5m", Formula: "rolling_std(ret_1, '5m')"},
	{Name: "vsum_1h", Formula: "rolling_sum(volume, '1h')"},
	{Name: "bad", Formula: "rolling_mean(close)"},
}

// TestWarehouseRoundTrip: DoPut ingests, ListFlights lists, GetFlightInfo
// plans one endpoint per (symbol, day), and DoGet on the endpoints gives
// the same rows and values as one computation over the whole range.
func TestWarehouseRoundTrip(t *testing.T) {
	ts, wh, c := warehouseServer(t)
	ctx := context.Background()
	recs := demoRecords(t, 20_000)
	sum, err := put(t, c, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{catalog.TradesTable}}, demodata.Schema, recs)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != 20_000 || sum.Table != catalog.TradesTable || sum.SnapshotID == 0 {
		t.Fatalf("put summary %+v", sum)
	}
	if logs := ts.logs.String(); !strings.Contains(logs, "method=DoPut") || !strings.Contains(logs, "rows_in=20000") {
		t.Errorf("no DoPut log line with rows_in=20000:\n%s", logs)
	}

	lf, err := c.ListFlights(ctx, &flight.Criteria{})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for {
		fi, err := lf.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, fi.FlightDescriptor.Path[0])
		if fi.FlightDescriptor.Path[0] == catalog.TradesTable && fi.TotalRecords != 20_000 {
			t.Errorf("ListFlights: %s has %d records, want 20000", catalog.TradesTable, fi.TotalRecords)
		}
	}
	if len(listed) != 1 || listed[0] != catalog.TradesTable {
		t.Fatalf("ListFlights: %v", listed)
	}

	start, end := day0.Add(12*time.Hour), day0.Add(48*time.Hour)
	m := map[string]any{"features": fetchSpecs, "symbols": []string{"BTCUSDT", "ETHUSDT"},
		"start": start.Format(time.RFC3339), "end": end.Format(time.RFC3339)}
	cmd := cmdJSON(t, m)
	info, err := c.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: cmd})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Endpoint) != 4 {
		t.Fatalf("%d endpoints, want 4 (2 symbols x 2 days)", len(info.Endpoint))
	}
	schema, err := flight.DeserializeSchema(info.Schema, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if got := schema.NumFields(); got != 6 { // time, symbol, 4 good features
		t.Fatalf("schema %v", schema)
	}
	// Without "symbols": every symbol with data in the range.
	delete(m, "symbols")
	all, err := c.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: cmdJSON(t, m)})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Endpoint) != 4 {
		t.Errorf("without symbols: %d endpoints, want 4", len(all.Endpoint))
	}
	for i, ep := range info.Endpoint {
		tbl, err := readAll(t, c, ep.Ticket.Ticket)
		if err != nil {
			t.Fatalf("endpoint %d: %v", i, err)
		}
		var tk fetchCommand
		if err := json.Unmarshal(ep.Ticket.Ticket, &tk); err != nil {
			t.Fatal(err)
		}
		lo, _ := batch.ParseTime(tk.Start)
		hi, _ := batch.ParseTime(tk.End)
		want, err := batch.Compute(ctx, wh, batch.Request{Specs: fetchSpecs, Symbols: tk.Symbols, Start: start, End: end})
		if err != nil {
			t.Fatal(err)
		}
		compareShard(t, tbl, want.Table, lo, hi)
		tbl.Release()
		want.Release()
	}

	// The stored rows, filtered on the server.
	tbl, err := readAll(t, c, cmdJSON(t, map[string]any{"table": catalog.TradesTable,
		"filter":  map[string]any{"symbols": []string{"ETHUSDT"}, "start": start.Format(time.RFC3339), "end": end.Format(time.RFC3339)},
		"columns": []string{"symbol", "event_time", "trade_price"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	if tbl.NumCols() != 3 || tbl.NumRows() == 0 {
		t.Fatalf("table ticket: %d columns, %d rows", tbl.NumCols(), tbl.NumRows())
	}
	for _, ch := range tbl.Column(1).Data().Chunks() {
		for _, v := range ch.(*array.Timestamp).Values() {
			if int64(v) < start.UnixMicro() || int64(v) >= end.UnixMicro() {
				t.Fatalf("table ticket: row at %d outside the filter", v)
			}
		}
	}
	if !regexp.MustCompile(`method=DoGet .*rows_out=[1-9]`).MatchString(ts.logs.String()) {
		t.Errorf("no DoGet log line with its rows:\n%s", ts.logs.String())
	}
	waitAllocated(t, ts.mem)
}

// compareShard checks that shard holds the rows of whole with time in
// [lo, hi), values equal to 1e-12 (rolling std's last bits depend on where
// its running sums start).
func compareShard(t *testing.T, shard, whole arrow.Table, lo, hi time.Time) {
	t.Helper()
	col := func(tbl arrow.Table, i int) []float64 {
		var out []float64
		for _, ch := range tbl.Column(i).Data().Chunks() {
			switch a := ch.(type) {
			case *array.Timestamp:
				for _, v := range a.Values() {
					out = append(out, float64(v))
				}
			case *array.Float64:
				for j := range a.Len() {
					if a.IsNull(j) {
						out = append(out, math.Inf(-1))
					} else {
						out = append(out, a.Value(j))
					}
				}
			}
		}
		return out
	}
	wt := col(whole, 0)
	first, last := -1, -1
	for i, v := range wt {
		if v >= float64(lo.UnixMicro()) && v < float64(hi.UnixMicro()) {
			if first < 0 {
				first = i
			}
			last = i + 1
		}
	}
	if first < 0 || int64(last-first) != shard.NumRows() {
		t.Fatalf("shard [%s, %s): %d rows, want %d", lo, hi, shard.NumRows(), last-first)
	}
	for c := 2; c < int(whole.NumCols()); c++ {
		g, w := col(shard, c), col(whole, c)[first:last]
		for i := range g {
			if !(g[i] == w[i] || math.IsNaN(g[i]) && math.IsNaN(w[i]) || math.Abs(g[i]-w[i]) <= 1e-12*math.Abs(w[i])) {
				t.Fatalf("%s row %d: shard %v, whole range %v", whole.Schema().Field(c).Name, i, g[i], w[i])
			}
		}
	}
}

// TestWarehouseErrors: each bad request gets a status a person can act on,
// a failed DoPut commits nothing, and the server stays healthy.
func TestWarehouseErrors(t *testing.T) {
	ts, _, c := warehouseServer(t)
	recs := demoRecords(t, 2000)
	if _, err := put(t, c, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"table": "cdm_trade_enriched"}`)}, demodata.Schema, recs); err != nil {
		t.Fatal(err)
	}
	good := map[string]any{"features": fetchSpecs[:1], "symbols": []string{"BTCUSDT"}, "start": "2024-01-02", "end": "2024-01-03"}
	with := func(k string, v any) []byte {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return cmdJSON(t, m)
	}
	for _, tc := range []struct {
		name   string
		ticket []byte
		code   codes.Code
		msg    string
	}{
		{"malformed", []byte(`{"features": [`), codes.InvalidArgument, "malformed JSON"},
		{"unknown key", with("symbolz", []string{"X"}), codes.InvalidArgument, "symbolz"},
		{"no start", with("start", nil), codes.InvalidArgument, "start"},
		{"bad time", with("end", "yesterday"), codes.InvalidArgument, "yesterday"},
		{"end before start", with("end", "2024-01-01"), codes.InvalidArgument, "not after"},
		{"missing source", with("source", "no_such_table"), codes.NotFound, "no_such_table"},
		{"no feature runs", with("features", []ir.Spec{{Name: "x", Formula: "log(nope)"}}), codes.InvalidArgument, "nope"},
		{"missing table", []byte(`{"table": "nope"}`), codes.NotFound, "nope"},
		{"bad column", []byte(`{"table": "cdm_trade_enriched", "columns": ["nope_col"]}`), codes.InvalidArgument, "nope_col"},
		// issue 8: these read everything, or nothing, silently
		{"filter unknown column", []byte(`{"table": "cdm_trade_enriched", "filter": {"equal": {"nope_col": ["x"]}}}`), codes.InvalidArgument, `no column "nope_col"`},
		{"filter equal on float", []byte(`{"table": "cdm_trade_enriched", "filter": {"equal": {"trade_price": ["1.5"]}}}`), codes.InvalidArgument, "string columns only"},
		{"negative limit", []byte(`{"table": "cdm_trade_enriched", "limit": -5}`), codes.InvalidArgument, "limit -5 is negative"},
		{"year 1", with("start", "0001-01-01"), codes.InvalidArgument, "0001-01-01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(t, c, tc.ticket)
			checkStatus(t, err, tc.code, tc.msg)
		})
	}

	// A batch lacking the symbol column fails the whole put: nothing lands.
	noSym := arrow.NewSchema(demodata.Schema.Fields()[1:], nil)
	bad := array.NewRecordBatch(noSym, recs[0].Columns()[1:], recs[0].NumRows())
	defer bad.Release()
	_, err := put(t, c, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{catalog.TradesTable}}, noSym, []arrow.RecordBatch{bad})
	checkStatus(t, err, codes.InvalidArgument)
	_, err = put(t, c, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"a", "b"}}, demodata.Schema, recs[:1])
	checkStatus(t, err, codes.InvalidArgument)
	tbl, err := readAll(t, c, []byte(`{"table": "cdm_trade_enriched"}`))
	if err != nil {
		t.Fatal(err)
	}
	if tbl.NumRows() != 2000 {
		t.Errorf("after failed puts the table has %d rows, want 2000", tbl.NumRows())
	}
	tbl.Release()
	checkHealthy(t, c)
	waitAllocated(t, ts.mem)
}

// TestNoWarehouse: a server without a project refuses warehouse calls
// clearly and still computes over DoExchange.
func TestNoWarehouse(t *testing.T) {
	ts := startServer(t, Config{})
	c := newClient(t, ts.addr())
	_, err := readAll(t, c, []byte(`{"table": "ft_features"}`))
	checkStatus(t, err, codes.FailedPrecondition)
	checkHealthy(t, c)
}
