package flightserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
)

func featuresCmd(t testing.TB, specs []ir.Spec) []byte {
	return cmdJSON(t, map[string]any{"features": specs})
}

// TestExchangeMatchesOneShot: whatever the batching, the exchange's output
// equals the one-shot computation bit for bit, one output batch per input
// batch, and the summary counts the rows.
func TestExchangeMatchesOneShot(t *testing.T) {
	ts := startServer(t, Config{})
	c := newClient(t, ts.addr())
	rec := tradeRecord(t, memory.DefaultAllocator, 1, 6000)
	defer rec.Release()
	want := oneShot(t, rec, testFeatures)
	defer want.Release()
	for _, maxRows := range []int{6000, 1500, 97, 3} {
		t.Run(fmt.Sprint(maxRows), func(t *testing.T) {
			in := split(rec, uint64(maxRows), maxRows)
			defer releaseAll(in)
			got, err := exchange(context.Background(), t, c, featuresCmd(t, testFeatures), rec.Schema(), in)
			if err != nil {
				t.Fatal(err)
			}
			defer got.release()
			checkSame(t, got, in, want)
			if got.summary.RowsIn != rec.NumRows() || got.summary.RowsOut != rec.NumRows() {
				t.Errorf("summary rows %d/%d, want %d", got.summary.RowsIn, got.summary.RowsOut, rec.NumRows())
			}
			if len(got.summary.Statuses) != len(testFeatures) {
				t.Errorf("summary has %d statuses", len(got.summary.Statuses))
			}
			for _, s := range got.summary.Statuses {
				if s.Status != compute.StatusSuccess {
					t.Errorf("status %+v", s)
				}
			}
		})
	}
}

// sendSchema sends a schema message by hand, with the descriptor if any.
func sendSchema(t testing.TB, s flight.FlightService_DoExchangeClient, schema *arrow.Schema, desc *flight.FlightDescriptor) error {
	t.Helper()
	p := ipc.GetSchemaPayload(schema, memory.DefaultAllocator)
	defer p.Release()
	meta := p.Meta()
	defer meta.Release()
	return s.Send(&flight.FlightData{FlightDescriptor: desc, DataHeader: bytes.Clone(meta.Bytes())})
}

// sendBatch sends one record batch message by hand (no schema message).
func sendBatch(t testing.TB, s flight.FlightService_DoExchangeClient, rec arrow.RecordBatch) error {
	t.Helper()
	p, err := ipc.GetRecordBatchPayload(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	meta := p.Meta()
	defer meta.Release()
	var body bytes.Buffer
	if err := p.SerializeBody(&body); err != nil {
		t.Fatal(err)
	}
	return s.Send(&flight.FlightData{DataHeader: bytes.Clone(meta.Bytes()), DataBody: body.Bytes()})
}

// TestExchangeIsIncremental: the output schema comes back before any batch
// is sent, and each output batch before the next input batch is sent.
func TestExchangeIsIncremental(t *testing.T) {
	ts := startServer(t, Config{})
	c := newClient(t, ts.addr())
	rec := tradeRecord(t, memory.DefaultAllocator, 2, 900)
	defer rec.Release()
	in := split(rec, 2, 300)
	defer releaseAll(in)
	want := oneShot(t, rec, testFeatures[:4])
	defer want.Release()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := c.DoExchange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	desc := &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: featuresCmd(t, testFeatures[:4])}
	if err := sendSchema(t, s, rec.Schema(), desc); err != nil {
		t.Fatal(err)
	}
	mr := &metaReader{s: s}
	rdr, err := flight.NewRecordReader(mr) // blocks until the output schema arrives
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	if !rdr.Schema().Equal(want.Table.Schema()) {
		t.Fatalf("schema %s", rdr.Schema())
	}
	res := &exchangeResult{schema: rdr.Schema()}
	defer res.release()
	for i, b := range in {
		if err := sendBatch(t, s, b); err != nil {
			t.Fatal(err)
		}
		if !rdr.Next() {
			t.Fatalf("no output for batch %d: %v", i, rdr.Err())
		}
		out := rdr.RecordBatch()
		out.Retain()
		res.batches = append(res.batches, out)
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if rdr.Next() {
		t.Fatal("an extra batch")
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mr.meta), `"rows_in":900`) {
		t.Fatalf("summary %s", mr.meta)
	}
	checkSame(t, res, in, want)
}

// TestExchangeEmptyInput: a schema and no batches gives the schema and the
// summary.
func TestExchangeEmptyInput(t *testing.T) {
	ts := startServer(t, Config{})
	c := newClient(t, ts.addr())
	rec := tradeRecord(t, memory.DefaultAllocator, 3, 10)
	defer rec.Release()
	got, err := exchange(context.Background(), t, c, featuresCmd(t, testFeatures), rec.Schema(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer got.release()
	if len(got.batches) != 0 || got.summary.RowsIn != 0 || got.schema.NumFields() != 2+len(testFeatures) {
		t.Fatalf("batches %d, summary %+v, schema %s", len(got.batches), got.summary, got.schema)
	}
}

// TestExchangeErrors: each mistake a client can make is an actionable
// status, and the server stays healthy (allocator at 0 after each, checked
// again at cleanup).
func TestExchangeErrors(t *testing.T) {
	ts := startServer(t, Config{})
	c := newClient(t, ts.addr())
	rec := tradeRecord(t, memory.DefaultAllocator, 4, 400)
	defer rec.Release()
	in := split(rec, 4, 150)
	defer releaseAll(in)
	good := testFeatures[:2]

	cases := []struct {
		name  string
		cmd   string
		code  codes.Code
		want  []string
		batch []arrow.RecordBatch
	}{
		{"malformed JSON", `{"features": [{"name": "a", "formula": "log(close)"}`, codes.InvalidArgument,
			[]string{"malformed JSON", "ends early"}, in},
		{"syntax error", `{"features": [{"name": "a" "formula": "log(close)"}]}`, codes.InvalidArgument,
			[]string{"malformed JSON", "byte 28"}, in},
		{"unknown key", `{"featurs": [{"name": "a", "formula": "log(close)"}]}`, codes.InvalidArgument,
			[]string{"unknown field \"featurs\""}, in},
		{"misspelt spec key", `{"features": [{"name": "a", "formla": "log(close)"}]}`, codes.InvalidArgument,
			[]string{"unknown field \"formla\""}, in},
		{"no features", `{"features": []}`, codes.InvalidArgument, []string{"no \"features\""}, in},
		{"unknown feature type only", `{"features": [{"name": "a", "type": "no_such_type"}]}`, codes.InvalidArgument,
			[]string{"no requested feature can be computed", "no_such_type"}, in},
		{"missing column only", `{"features": [{"name": "spread", "formula": "ask_price - bid_price"}]}`, codes.InvalidArgument,
			[]string{"no requested feature can be computed", "spread", "ask_price"}, in},
		{"missing time column", `{"features": [{"name": "a", "formula": "log(close)"}], "time_column": "ts"}`, codes.InvalidArgument,
			[]string{"time column \"ts\"", "event_time"}, in},
		{"bad formula only", `{"features": [{"name": "a", "formula": "rolling_mean(close)"}]}`, codes.InvalidArgument,
			[]string{"a: 1:1: rolling_mean expects"}, in},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := exchange(context.Background(), t, c, []byte(tc.cmd), rec.Schema(), tc.batch)
			if err == nil {
				res.release()
				t.Fatal("no error")
			}
			checkStatus(t, err, tc.code, tc.want...)
			waitAllocated(t, ts.mem)
			checkHealthy(t, c)
		})
	}

	t.Run("unknown type among good features", func(t *testing.T) {
		specs := append(append([]ir.Spec{}, good...), ir.Spec{Name: "bad", Type: "no_such_type"}, ir.Spec{Name: "gone", Formula: "log(bid_price)"})
		res, err := exchange(context.Background(), t, c, featuresCmd(t, specs), rec.Schema(), in)
		if err != nil {
			t.Fatal(err)
		}
		defer res.release()
		if res.schema.NumFields() != 2+len(good) {
			t.Fatalf("schema %s", res.schema)
		}
		meta, _ := res.schema.Metadata().GetValue(compute.MetadataKey)
		for _, w := range []string{"no_such_type", "bid_price", `"status":"success"`} {
			if !strings.Contains(meta, w) || !strings.Contains(string(res.rawMeta), w) {
				t.Errorf("schema metadata %s / summary %s lack %q", meta, res.rawMeta, w)
			}
		}
	})

	t.Run("no descriptor", func(t *testing.T) {
		s, err := c.DoExchange(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := sendSchema(t, s, rec.Schema(), nil); err != nil {
			t.Fatal(err)
		}
		_, err = s.Recv()
		checkStatus(t, err, codes.InvalidArgument, "CMD descriptor")
	})

	t.Run("schema changes mid-stream", func(t *testing.T) {
		s, err := c.DoExchange(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		desc := &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: featuresCmd(t, good)}
		if err := sendSchema(t, s, rec.Schema(), desc); err != nil {
			t.Fatal(err)
		}
		if err := sendBatch(t, s, in[0]); err != nil {
			t.Fatal(err)
		}
		other := arrow.NewSchema(append(rec.Schema().Fields(), arrow.Field{Name: "extra", Type: arrow.PrimitiveTypes.Int64}), nil)
		_ = sendSchema(t, s, other, nil)
		_ = s.CloseSend()
		err = drain(s)
		checkStatus(t, err, codes.InvalidArgument, "schema changed mid-stream", "after 1 batches")
		waitAllocated(t, ts.mem)
	})

	t.Run("rows out of time order", func(t *testing.T) {
		later := rec.NewSlice(200, 400)
		earlier := rec.NewSlice(0, 200)
		defer later.Release()
		defer earlier.Release()
		res, err := exchange(context.Background(), t, c, featuresCmd(t, good), rec.Schema(), []arrow.RecordBatch{later, earlier})
		if err == nil {
			res.release()
			t.Fatal("no error")
		}
		checkStatus(t, err, codes.InvalidArgument, "out of time order", "send each symbol's rows in time order")
		waitAllocated(t, ts.mem)
	})
	checkHealthy(t, c)
}

// drain reads an exchange until it ends and returns its final error.
func drain(s flight.FlightService_DoExchangeClient) error {
	for {
		if _, err := s.Recv(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

func checkStatus(t testing.TB, err error, code codes.Code, want ...string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("not a status: %v", err)
	}
	if st.Code() != code {
		t.Fatalf("code %s, want %s: %s", st.Code(), code, st.Message())
	}
	for _, w := range want {
		if !strings.Contains(st.Message(), w) {
			t.Errorf("message %q lacks %q", st.Message(), w)
		}
	}
}

func checkHealthy(t testing.TB, c flight.Client) {
	t.Helper()
	var res map[string]any
	if err := doAction(context.Background(), c, ActionHealth, nil, &res); err != nil {
		t.Fatalf("health: %v", err)
	}
	if res["status"] != "ok" {
		t.Fatalf("health %v", res)
	}
}

// TestExchangeCancel: a client that cancels mid-stream leaves no goroutine
// and no buffer behind, and the server keeps serving.
func TestExchangeCancel(t *testing.T) {
	ts := startServer(t, Config{})
	c := newClient(t, ts.addr())
	checkHealthy(t, c)
	base := runtime.NumGoroutine()
	rec := tradeRecord(t, memory.DefaultAllocator, 5, 3000)
	defer rec.Release()
	in := split(rec, 5, 200)
	defer releaseAll(in)

	for round := range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		s, err := c.DoExchange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		desc := &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: featuresCmd(t, testFeatures)}
		if err := sendSchema(t, s, rec.Schema(), desc); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil { // the output schema
			t.Fatal(err)
		}
		for i := range 2 + round {
			if err := sendBatch(t, s, in[i]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Recv(); err != nil { // one output batch: the server is mid-stream
			t.Fatal(err)
		}
		cancel()
		// Batches already on the wire before the cancel may still be
		// delivered; the stream must then end with Canceled.
		for range 100 {
			if _, err = s.Recv(); err != nil {
				break
			}
		}
		checkStatus(t, err, codes.Canceled)
		waitGoroutines(t, base)
		waitAllocated(t, ts.mem)
	}
	checkHealthy(t, c)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(ts.logs.String(), "status=Canceled") {
		if time.Now().After(deadline) {
			t.Fatalf("no Canceled log line:\n%s", ts.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	got, err := exchange(context.Background(), t, c, featuresCmd(t, testFeatures), rec.Schema(), in)
	if err != nil {
		t.Fatal(err)
	}
	defer got.release()
	want := oneShot(t, rec, testFeatures)
	defer want.Release()
	checkSame(t, got, in, want)
}

// TestConcurrentExchanges: 16 exchanges at once with different feature
// sets and batchings, each equal to its own one-shot result.
func TestConcurrentExchanges(t *testing.T) {
	ts := startServer(t, Config{})
	c := newClient(t, ts.addr())
	checkHealthy(t, c)
	base := runtime.NumGoroutine()
	const n = 16
	type job struct {
		rec   arrow.RecordBatch
		in    []arrow.RecordBatch
		specs []ir.Spec
		want  *compute.Result
	}
	jobs := make([]job, n)
	for i := range jobs {
		j := &jobs[i]
		j.rec = tradeRecord(t, memory.DefaultAllocator, uint64(100+i), 1500+100*i)
		j.in = split(j.rec, uint64(i), 50+40*i)
		// Rotating subsets of different sizes; z depends on ma_20.
		for k := range 1 + i%len(testFeatures) {
			j.specs = append(j.specs, testFeatures[(i+k)%len(testFeatures)])
		}
		if i%2 == 0 {
			j.specs = append(j.specs, ir.Spec{Name: fmt.Sprintf("own_%d", i), Formula: fmt.Sprintf("rolling_mean(close, %d) * %d", 2+i, i+1)})
		}
		j.want = oneShot(t, j.rec, j.specs)
	}
	defer func() {
		for _, j := range jobs {
			j.want.Release()
			releaseAll(j.in)
			j.rec.Release()
		}
	}()
	var wg sync.WaitGroup
	errs := make([]error, n)
	results := make([]*exchangeResult, n)
	for i := range jobs {
		wg.Go(func() {
			results[i], errs[i] = exchange(context.Background(), t, c, featuresCmd(t, jobs[i].specs), jobs[i].rec.Schema(), jobs[i].in)
		})
	}
	wg.Wait()
	for i, j := range jobs {
		if errs[i] != nil {
			t.Fatalf("exchange %d: %v", i, errs[i])
		}
		checkSame(t, results[i], j.in, j.want)
		results[i].release()
	}
	waitGoroutines(t, base)
	waitAllocated(t, ts.mem)
}

// TestMaxExchanges: past --max-exchanges, an exchange is refused with
// ResourceExhausted.
func TestMaxExchanges(t *testing.T) {
	ts := startServer(t, Config{MaxExchanges: 1})
	c := newClient(t, ts.addr())
	rec := tradeRecord(t, memory.DefaultAllocator, 6, 100)
	defer rec.Release()
	s, err := c.DoExchange(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	desc := &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: featuresCmd(t, testFeatures[:1])}
	if err := sendSchema(t, s, rec.Schema(), desc); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil { // running
		t.Fatal(err)
	}
	_, err = exchange(context.Background(), t, c, featuresCmd(t, testFeatures[:1]), rec.Schema(), []arrow.RecordBatch{rec})
	checkStatus(t, err, codes.ResourceExhausted, "--max-exchanges")
	_ = s.CloseSend()
	if err := drain(s); err != nil {
		t.Fatal(err)
	}
	res, err := exchange(context.Background(), t, c, featuresCmd(t, testFeatures[:1]), rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	res.release()
}

// TestShutdownDrains: Shutdown lets a running exchange finish within the
// deadline, and cancels it after.
func TestShutdownDrains(t *testing.T) {
	rec := tradeRecord(t, memory.DefaultAllocator, 7, 600)
	defer rec.Release()
	in := split(rec, 7, 200)
	defer releaseAll(in)
	for _, finish := range []bool{true, false} {
		t.Run(fmt.Sprint("finish=", finish), func(t *testing.T) {
			ts := startServer(t, Config{})
			c := newClient(t, ts.addr())
			s, err := c.DoExchange(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			desc := &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: featuresCmd(t, testFeatures)}
			if err := sendSchema(t, s, rec.Schema(), desc); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			deadline := 10 * time.Second
			if !finish {
				deadline = 200 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			shut := make(chan error, 1)
			go func() { shut <- ts.Shutdown(ctx) }()
			time.Sleep(50 * time.Millisecond) // shutdown has begun
			if !finish {
				if err := <-shut; err == nil {
					t.Fatal("shutdown reported no cancellation")
				}
				if err := drain(s); status.Code(err) == codes.OK {
					t.Fatal("exchange survived the deadline")
				}
				return
			}
			for _, b := range in {
				if err := sendBatch(t, s, b); err != nil {
					t.Fatal(err)
				}
			}
			_ = s.CloseSend()
			n := 0
			for {
				fd, err := s.Recv()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("exchange broken by shutdown: %v", err)
				}
				if len(fd.DataBody) > 0 {
					n++
				}
			}
			if n != len(in) {
				t.Fatalf("%d batches", n)
			}
			if err := <-shut; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestZeroCopyInput: the float64 arrays the IPC reader builds from the
// received messages (the ones DoExchange hands to compute, which reads
// float64 columns in place) point into the received bytes.
func TestZeroCopyInput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rec := tradeRecord(t, memory.DefaultAllocator, 8, 1000)
	defer rec.Release()
	msgs := &fakeExchange{}
	msgs.add(t, rec.Schema(), []arrow.RecordBatch{rec, rec})
	in := &inputStream{stream: msgs}
	rdr, err := flight.NewRecordReader(in, ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	for i := 0; rdr.Next(); i++ {
		body := msgs.bodies[i]
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(body)))
		hi := lo + uintptr(len(body))
		price := rdr.RecordBatch().Column(2).(*array.Float64).Float64Values()
		p := uintptr(unsafe.Pointer(unsafe.SliceData(price)))
		if p < lo || p >= hi {
			t.Fatalf("batch %d: trade_price at %#x is not inside the received body [%#x, %#x)", i, p, lo, hi)
		}
	}
	if mem.CurrentAlloc() != 0 {
		t.Fatalf("reading allocated %d bytes", mem.CurrentAlloc())
	}
}

// fakeExchange is the receiving side of an exchange without gRPC.
type fakeExchange struct {
	flight.FlightService_DoExchangeServer
	msgs   []*flight.FlightData
	bodies [][]byte
}

func (f *fakeExchange) add(t testing.TB, schema *arrow.Schema, recs []arrow.RecordBatch) {
	w := flight.NewRecordWriter(&captureSend{f: f}, ipc.WithSchema(schema))
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
}

func (f *fakeExchange) Recv() (*flight.FlightData, error) {
	if len(f.msgs) == 0 {
		return nil, io.EOF
	}
	fd := f.msgs[0]
	f.msgs = f.msgs[1:]
	return fd, nil
}

type captureSend struct{ f *fakeExchange }

func (c *captureSend) Send(fd *flight.FlightData) error {
	cp := &flight.FlightData{DataHeader: bytes.Clone(fd.DataHeader), DataBody: bytes.Clone(fd.DataBody)}
	c.f.msgs = append(c.f.msgs, cp)
	if len(cp.DataBody) > 0 {
		c.f.bodies = append(c.f.bodies, cp.DataBody)
	}
	return nil
}

// TestExchangeWithoutKeys: with "keys": false the output (batches,
// GetSchema, validate's columns) is the feature columns alone, the same
// bits as with the keys, the statuses still in the schema metadata; the
// symbol column is left out only when the input has one.
func TestExchangeWithoutKeys(t *testing.T) {
	ts := startServer(t, Config{})
	c := newClient(t, ts.addr())
	ctx := context.Background()
	full := tradeRecord(t, memory.DefaultAllocator, 5, 3000)
	defer full.Release()
	noSymbol := array.NewRecordBatch(arrow.NewSchema(full.Schema().Fields()[1:], nil), full.Columns()[1:], full.NumRows())
	defer noSymbol.Release()
	for _, tc := range []struct {
		name string
		rec  arrow.RecordBatch
		keys int
	}{{"time and symbol", full, 2}, {"time only", noSymbol, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			want := oneShot(t, tc.rec, testFeatures)
			defer want.Release()
			cmd := cmdJSON(t, map[string]any{"features": testFeatures, "keys": false})
			in := split(tc.rec, 7, 400)
			defer releaseAll(in)
			got, err := exchange(ctx, t, c, cmd, tc.rec.Schema(), in)
			if err != nil {
				t.Fatal(err)
			}
			defer got.release()
			wantFields := want.Table.Schema().Fields()
			if got.schema.NumFields() != len(wantFields)-tc.keys {
				t.Fatalf("schema %s, want the features of %s", got.schema, want.Table.Schema())
			}
			for i, f := range got.schema.Fields() {
				if !f.Equal(wantFields[i+tc.keys]) {
					t.Fatalf("field %d is %s, want %s", i, f, wantFields[i+tc.keys])
				}
			}
			if md := got.schema.Metadata(); !md.Equal(want.Table.Schema().Metadata()) {
				t.Fatalf("metadata %v, want the statuses %v", md, want.Table.Schema().Metadata())
			}
			for i, f := range got.schema.Fields() {
				var chunks []arrow.Array
				for _, b := range got.batches {
					chunks = append(chunks, b.Column(i))
				}
				g, w := float64Bits(t, chunks), float64Bits(t, want.Table.Column(i+tc.keys).Data().Chunks())
				if !slices.Equal(g, w) {
					t.Fatalf("%s differs from the one-shot computation", f.Name)
				}
			}
		})
	}
	t.Run("get_schema and validate", func(t *testing.T) {
		cmd := cmdJSON(t, map[string]any{"features": testFeatures, "keys": false})
		res, err := c.GetSchema(ctx, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: cmd})
		if err != nil {
			t.Fatal(err)
		}
		s, err := flight.DeserializeSchema(res.Schema, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		var v validateResult
		if err := doAction(ctx, c, ActionValidate, cmd, &v); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range s.Fields() {
			names = append(names, f.Name)
		}
		if len(names) != len(testFeatures) || names[0] != testFeatures[0].Name || !slices.Equal(names, v.Columns) {
			t.Fatalf("GetSchema columns %v, validate columns %v: want the features only", names, v.Columns)
		}
	})
	t.Run("with echo", func(t *testing.T) {
		s, err := c.DoExchange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		desc := &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"echo": true, "keys": false}`)}
		if err := sendSchema(t, s, full.Schema(), desc); err != nil {
			t.Fatal(err)
		}
		checkStatus(t, drain(s), codes.InvalidArgument, `"keys" has no effect with "echo"`)
	})
}
