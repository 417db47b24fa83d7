package flightserver

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/ir"
)

const flightPrefix = "/arrow.flight.protocol.FlightService/"

// Each RPC kind has its own concurrency limit, refused at once with
// ResourceExhausted naming the flag (issue 8: only DoExchange had one).
func TestConcurrencyLimitPerKind(t *testing.T) {
	lim := newLimits(Config{MaxActions: 1, MaxGets: 1, MaxPuts: 1, MaxFlightInfos: 1})
	for method, flag := range map[string]string{"DoAction": "--max-actions", "DoGet": "--max-gets", "DoPut": "--max-puts"} {
		info := &grpc.StreamServerInfo{FullMethod: flightPrefix + method}
		hold, held := make(chan struct{}), make(chan struct{})
		done := make(chan error)
		go func() {
			done <- lim.stream(nil, nil, info, func(any, grpc.ServerStream) error { close(held); <-hold; return nil })
		}()
		<-held
		err := lim.stream(nil, nil, info, func(any, grpc.ServerStream) error { return nil })
		checkStatus(t, err, codes.ResourceExhausted, flag, "maximum of 1 "+method)
		close(hold)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := lim.stream(nil, nil, info, func(any, grpc.ServerStream) error { return nil }); err != nil {
			t.Errorf("%s after the first ended: %v", method, err)
		}
	}
	uinfo := &grpc.UnaryServerInfo{FullMethod: flightPrefix + "GetFlightInfo"}
	hold, held := make(chan struct{}), make(chan struct{})
	go lim.unary(context.Background(), nil, uinfo, func(context.Context, any) (any, error) { close(held); <-hold; return nil, nil })
	<-held
	_, err := lim.unary(context.Background(), nil, uinfo, func(context.Context, any) (any, error) { return nil, nil })
	checkStatus(t, err, codes.ResourceExhausted, "--max-flight-infos")
	close(hold)
}

// A panic in a handler is Internal for that call only.
func TestPanicBecomesInternal(t *testing.T) {
	ts := startServer(t, Config{})
	s := ts.svc
	_, err := s.recoverUnary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: flightPrefix + "GetFlightInfo"},
		func(context.Context, any) (any, error) { panic("boom") })
	checkStatus(t, err, codes.Internal, "GetFlightInfo", "still serving")
	err = s.recoverStream(nil, nil, &grpc.StreamServerInfo{FullMethod: flightPrefix + "DoGet"},
		func(any, grpc.ServerStream) error { var m map[string]int; m["x"]++; return nil })
	checkStatus(t, err, codes.Internal, "DoGet")
	// the idle watch runs exchange handlers in a goroutine of their own
	err = s.idleWatch(nil, nil, &grpc.StreamServerInfo{FullMethod: flightPrefix + "DoExchange"},
		func(any, grpc.ServerStream) error { panic("boom in exchange") })
	checkStatus(t, err, codes.Internal, "DoExchange")
	if !strings.Contains(ts.logs.String(), "panic in a handler") {
		t.Error("the panic was not logged")
	}
	checkHealthy(t, newClient(t, ts.addr()))
}

// An exchange that opens and sends nothing holds no --max-exchanges slot;
// one that stops sending mid-way is ended after --idle-timeout and frees
// its slot (issue 8: four idle streams locked every exchange out > 61 s).
func TestIdleExchanges(t *testing.T) {
	ts := startServer(t, Config{MaxExchanges: 1, IdleTimeout: 300 * time.Millisecond})
	c := newClient(t, ts.addr())
	rec := tradeRecord(t, memory.DefaultAllocator, 6, 100)
	defer rec.Release()
	ctx := context.Background()
	idle, err := c.DoExchange(ctx) // opens, sends nothing
	if err != nil {
		t.Fatal(err)
	}
	res, err := exchange(ctx, t, c, featuresCmd(t, testFeatures[:1]), rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatalf("an idle stream without a schema blocked an exchange: %v", err)
	}
	res.release()

	// Sends its schema (takes the slot), then nothing.
	stalled, err := c.DoExchange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	desc := &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: featuresCmd(t, testFeatures[:1])}
	if err := sendSchema(t, stalled, rec.Schema(), desc); err != nil {
		t.Fatal(err)
	}
	checkStatus(t, drain(stalled), codes.DeadlineExceeded, "--idle-timeout")
	checkStatus(t, drain(idle), codes.DeadlineExceeded, "--idle-timeout")
	waitFor(t, func() bool {
		res, err := exchange(ctx, t, c, featuresCmd(t, testFeatures[:1]), rec.Schema(), []arrow.RecordBatch{rec})
		if err == nil {
			res.release()
		}
		return err == nil
	})
}

func TestCompileTimeLimit(t *testing.T) {
	ts := startServer(t, Config{MaxCompileTime: time.Nanosecond})
	c := newClient(t, ts.addr())
	var out any
	err := doAction(context.Background(), c, ActionValidate, featuresCmd(t, testFeatures[:2]), &out)
	checkStatus(t, err, codes.ResourceExhausted, "--max-compile-time")
	err = doAction(context.Background(), c, ActionExplain, featuresCmd(t, testFeatures[:2]), &out)
	checkStatus(t, err, codes.ResourceExhausted, "--max-compile-time")
	rec := tradeRecord(t, memory.DefaultAllocator, 6, 100)
	defer rec.Release()
	_, err = exchange(context.Background(), t, c, featuresCmd(t, testFeatures[:1]), rec.Schema(), []arrow.RecordBatch{rec})
	checkStatus(t, err, codes.ResourceExhausted, "--max-compile-time")
}

// The window state estimate grows with the rows seen and is refused past
// --max-state-bytes.
func TestStateLimit(t *testing.T) {
	ts := startServer(t, Config{MaxStateBytes: 64 << 10})
	c := newClient(t, ts.addr())
	rec := tradeRecord(t, memory.DefaultAllocator, 6, 3000)
	defer rec.Release()
	ctx := context.Background()
	small := featuresCmd(t, []ir.Spec{{Name: "m", Formula: "rolling_mean(close, 10)"}})
	res, err := exchange(ctx, t, c, small, rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatalf("a 10-row window: %v", err)
	}
	res.release()
	big := featuresCmd(t, []ir.Spec{{Name: "m", Formula: "rolling_mean(close, 1000000)"}, {Name: "l", Formula: "lag(close, 1000000)"}})
	_, err = exchange(ctx, t, c, big, rec.Schema(), split(rec, 1, 500))
	checkStatus(t, err, codes.ResourceExhausted, "--max-state-bytes")
}

// A DoGet fetch's window state is bounded by --max-state-bytes too: the
// source streams through the kernels, so their state is what grows.
func TestFetchStateLimit(t *testing.T) {
	_, _, c := warehouseServerWith(t, Config{MaxStateBytes: 64 << 10})
	desc := &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{catalog.TradesTable}}
	// 20000 rows over 2 symbols and ~22 h: a window of a million rows
	// holds ~80 KB of each symbol's prices.
	if _, err := put(t, c, desc, demodata.Schema, demoRecords(t, 20000)); err != nil {
		t.Fatal(err)
	}
	fetch := func(specs []ir.Spec) error {
		tbl, err := readAll(t, c, cmdJSON(t, map[string]any{"features": specs,
			"start": day0.Format(time.RFC3339), "end": day0.Add(48 * time.Hour).Format(time.RFC3339)}))
		if err == nil {
			tbl.Release()
		}
		return err
	}
	if err := fetch([]ir.Spec{{Name: "m", Formula: "rolling_mean(close, 10)"}}); err != nil {
		t.Fatalf("a 10-row window: %v", err)
	}
	err := fetch([]ir.Spec{{Name: "m", Formula: "rolling_mean(close, 1000000)"}, {Name: "l", Formula: "lag(close, 1000000)"}})
	checkStatus(t, err, codes.ResourceExhausted, "--max-state-bytes", "the fetch's window and lag state")
}

// A credential is never echoed in an error or a log line, whatever the
// header looks like (issue 8: a token sent without "Bearer " was).
func TestTokenNeverEchoed(t *testing.T) {
	const secret = "tok-8f3a9c1e5d"
	ts := startServer(t, Config{AuthTokens: []string{secret}})
	c := newClient(t, ts.addr())
	ctx := context.Background()
	headers := []string{
		secret,                   // no scheme
		"Token " + secret,        // an unknown scheme
		"bearer" + secret,        // no space
		"Bearer " + secret + "x", // a wrong token
		"Bearer x" + secret,      // another wrong token
		"Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+secret)), // basic off Handshake
		"Basic " + secret, // not base64
	}
	var out any
	for _, h := range headers {
		hctx := metadata.AppendToOutgoingContext(ctx, "authorization", h)
		err := doAction(hctx, c, ActionHealth, nil, &out)
		checkStatus(t, err, codes.Unauthenticated)
		if strings.Contains(err.Error(), secret) {
			t.Errorf("header %q: the error shows the credential: %v", h, err)
		}
		_, err = c.AuthenticateBasicToken(hctx, "u", "wrong-"+secret)
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("handshake with header %q: %v", h, err)
		}
	}
	if logs := ts.logs.String(); strings.Contains(logs, secret) || strings.Contains(logs, base64.StdEncoding.EncodeToString([]byte("u:"+secret))) {
		t.Errorf("a credential reached the log:\n%s", logs)
	}
}

// GetFlightInfo counts symbols x shards before building any endpoint
// (issue 8: 40 symbols x 1 s shards built 3.46M endpoints, 2.5 GB).
func TestEndpointCap(t *testing.T) {
	_, _, c := warehouseServerWith(t, Config{MaxEndpoints: 100})
	recs := demoRecords(t, 2000)
	if _, err := put(t, c, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"table": "cdm_trade_enriched"}`)}, demodata.Schema, recs); err != nil {
		t.Fatal(err)
	}
	ask := func(shard string) error {
		cmd := cmdJSON(t, map[string]any{"features": fetchSpecs[:1], "symbols": []string{"BTCUSDT", "ETHUSDT"},
			"start": "2024-01-02", "end": "2024-01-03", "shard": shard})
		_, err := c.GetFlightInfo(context.Background(), &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: cmd})
		return err
	}
	checkStatus(t, ask("1s"), codes.ResourceExhausted, "--max-endpoints", "2 symbols x 86400 shards")
	checkStatus(t, ask("1h"), codes.OK)
}

// A null event_time is the client's mistake: InvalidArgument naming the
// row, not Internal (issue 8).
func TestNullTimeIsInvalidArgument(t *testing.T) {
	ts := startServer(t, Config{})
	c := newClient(t, ts.addr())
	rec := tradeRecord(t, memory.DefaultAllocator, 6, 10)
	defer rec.Release()
	tb := array.NewTimestampBuilder(memory.DefaultAllocator, rec.Schema().Field(1).Type.(*arrow.TimestampType))
	defer tb.Release()
	times := rec.Column(1).(*array.Timestamp)
	for i := range times.Len() {
		if i == 3 {
			tb.AppendNull()
		} else {
			tb.Append(times.Value(i))
		}
	}
	tcol := tb.NewArray()
	defer tcol.Release()
	cols := slices.Clone(rec.Columns())
	cols[1] = tcol
	bad := array.NewRecordBatch(rec.Schema(), cols, rec.NumRows())
	defer bad.Release()
	_, err := exchange(context.Background(), t, c, featuresCmd(t, testFeatures[:1]), rec.Schema(), []arrow.RecordBatch{bad})
	checkStatus(t, err, codes.InvalidArgument, "null at row 3")
	checkHealthy(t, c)
}

// A batch over --max-message-bytes is ResourceExhausted, also in the log
// (issue 8: logged as Canceled).
func TestOversizeMessage(t *testing.T) {
	ts := startServer(t, Config{MaxMessageBytes: 64 << 10})
	c := newClient(t, ts.addr())
	rec := tradeRecord(t, memory.DefaultAllocator, 6, 20000)
	defer rec.Release()
	_, err := exchange(context.Background(), t, c, featuresCmd(t, testFeatures[:1]), rec.Schema(), []arrow.RecordBatch{rec})
	checkStatus(t, err, codes.ResourceExhausted)
	waitFor(t, func() bool { return strings.Contains(ts.logs.String(), "status=ResourceExhausted") })
	checkHealthy(t, c)
}

// --max-compile-time bounds the compiles of warehouse fetches too (DoGet
// fetch tickets and GetFlightInfo), not only exchanges and actions.
func TestCompileTimeLimitOnFetches(t *testing.T) {
	_, _, c := warehouseServerWith(t, Config{MaxCompileTime: time.Nanosecond})
	ctx := context.Background()
	if _, err := put(t, c, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{catalog.TradesTable}}, demodata.Schema, demoRecords(t, 2000)); err != nil {
		t.Fatal(err)
	}
	cmd := cmdJSON(t, map[string]any{"features": fetchSpecs, "symbols": []string{"BTCUSDT"},
		"start": day0.Format(time.RFC3339), "end": day0.Add(24 * time.Hour).Format(time.RFC3339)})
	_, err := c.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: cmd})
	checkStatus(t, err, codes.ResourceExhausted, "--max-compile-time")
	_, err = readAll(t, c, cmd)
	checkStatus(t, err, codes.ResourceExhausted, "--max-compile-time")
}

// --max-fetch-buffer-bytes bounds the source rows a DoGet fetch holds at
// once to order them: a day whose files overlap and exceed it is
// ResourceExhausted naming the flag; under it the fetch streams.
func TestFetchBufferLimit(t *testing.T) {
	_, _, c := warehouseServerWith(t, Config{MaxFetchBuffer: 64 << 10})
	desc := &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{catalog.TradesTable}}
	cmd := cmdJSON(t, map[string]any{"features": fetchSpecs[:2], "symbols": []string{"BTCUSDT"},
		"start": day0.Format(time.RFC3339), "end": day0.Add(24 * time.Hour).Format(time.RFC3339)})
	// 2000 rows over 2 symbols and ~4.5 h: one file per symbol-day, ~41 KB
	// of the projected columns, under the limit.
	if _, err := put(t, c, desc, demodata.Schema, demoRecords(t, 2000)); err != nil {
		t.Fatal(err)
	}
	tbl, err := readAll(t, c, cmd)
	if err != nil {
		t.Fatalf("one file per day, under the limit: %v", err)
	}
	tbl.Release()
	// A table ticket streams too: the day's file is under the limit.
	tableCmd := cmdJSON(t, map[string]any{"table": catalog.TradesTable, "columns": []string{catalog.ColSymbol, catalog.ColTradeID}})
	if tbl, err = readAll(t, c, tableCmd); err != nil {
		t.Fatalf("table ticket, one file per day, under the limit: %v", err)
	}
	tbl.Release()
	// A second append of other trades of the same day overlaps the first:
	// the day is read whole to order it, past the limit.
	rdr := demodata.NewReader(demodata.Config{Rows: 2000, Seed: 4, Symbols: []string{"BTCUSDT", "ETHUSDT"}, MeanGap: 8 * time.Second, Start: day0}, memory.DefaultAllocator)
	defer rdr.Release()
	var more []arrow.RecordBatch
	for rdr.Next() { // other trade ids, or the ingest would skip them as repeats
		rec := rdr.RecordBatch()
		idx := rec.Schema().FieldIndices(catalog.ColTradeID)[0]
		b := array.NewInt64Builder(memory.DefaultAllocator)
		for _, id := range rec.Column(idx).(*array.Int64).Int64Values() {
			b.Append(id + 1<<40)
		}
		ids := b.NewArray()
		b.Release()
		cols := slices.Clone(rec.Columns())
		cols[idx] = ids
		more = append(more, array.NewRecordBatch(rec.Schema(), cols, rec.NumRows()))
		ids.Release()
	}
	defer releaseAll(more)
	if sum, err := put(t, c, desc, demodata.Schema, more); err != nil || sum.Files < 2 {
		t.Fatalf("second put: %+v, %v", sum, err)
	}
	_, err = readAll(t, c, cmd)
	checkStatus(t, err, codes.ResourceExhausted, "--max-fetch-buffer-bytes", "BTCUSDT", "2 data files whose time ranges overlap")
	// The table ticket reads the day's files (both symbols) together.
	_, err = readAll(t, c, tableCmd)
	checkStatus(t, err, codes.ResourceExhausted, "--max-fetch-buffer-bytes", "table "+catalog.TradesTable+":", "data files whose time ranges overlap")
}
