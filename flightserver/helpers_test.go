package flightserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
)

// testServer is a real server on 127.0.0.1:0 with a checked allocator.
type testServer struct {
	*Server
	mem  *memory.CheckedAllocator
	logs *lockedWriter
	done chan error
}

func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	return startServerWith(t, cfg, Options{})
}

// startServerWith starts a server with opts; Mem and Logger are the test's.
func startServerWith(t testing.TB, cfg Config, opts Options) *testServer {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = 1 << 30
	}
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	logs := &lockedWriter{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Mem, opts.Logger = mem, log
	srv, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, mem: mem, logs: logs, done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-ts.done; err != nil {
			t.Errorf("serve: %v", err)
		}
		ts.mem.AssertSize(t, 0)
	})
	return ts
}

func (ts *testServer) addr() string { return ts.Addr().String() }

func newClient(t testing.TB, addr string, opts ...grpc.DialOption) flight.Client {
	t.Helper()
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	opts = append(opts, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30), grpc.MaxCallSendMsgSize(1<<30)))
	c, err := flight.NewClientWithMiddleware(addr, nil, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// trade rows: symbols interleaved, time non-decreasing, some nulls and a NaN.
func tradeRecord(t testing.TB, mem memory.Allocator, seed uint64, n int) arrow.RecordBatch {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 3))
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "symbol", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "event_time", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "trade_price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "trade_size", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	syms := []string{"BTC", "ETH", "XRP", "SOL"}
	base := []float64{1e5, 3000, 0.5, 150}
	ts := int64(1_700_000_000_000_000)
	for i := range n {
		if r.IntN(3) != 0 {
			ts += int64(r.IntN(400_000))
		}
		k := r.IntN(len(syms))
		base[k] *= math.Exp(r.NormFloat64() * 1e-4)
		b.Field(0).(*array.StringBuilder).Append(syms[k])
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(ts))
		switch {
		case i%97 == 5:
			b.Field(2).AppendNull()
		case i == n/2:
			b.Field(2).(*array.Float64Builder).Append(math.NaN())
		default:
			b.Field(2).(*array.Float64Builder).Append(base[k])
		}
		b.Field(3).(*array.Float64Builder).Append(math.Exp(r.NormFloat64()))
	}
	return b.NewRecordBatch()
}

// split cuts rec into consecutive slices of random sizes in [1, maxRows].
func split(rec arrow.RecordBatch, seed uint64, maxRows int) []arrow.RecordBatch {
	r := rand.New(rand.NewPCG(seed, 9))
	var out []arrow.RecordBatch
	for lo := int64(0); lo < rec.NumRows(); {
		hi := min(rec.NumRows(), lo+1+int64(r.IntN(maxRows)))
		out = append(out, rec.NewSlice(lo, hi))
		lo = hi
	}
	return out
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

var testFeatures = []ir.Spec{
	{Name: "ret_1", Formula: "log(close) - log(lag(close, 1))"},
	{Name: "ret_5", Type: "log_return", Inputs: map[string]string{"price": "close"}, Params: map[string]any{"k": 5}},
	{Name: "ma_20", Formula: "rolling_mean(close, 20)"},
	{Name: "vol_5s", Formula: "rolling_std(diff(log(close)), '5s')"},
	{Name: "hi_50", Formula: "rolling_max(close, 50)"},
	{Name: "lo_1m", Formula: "rolling_min(close, '1m')"},
	{Name: "corr_30", Formula: "rolling_corr(close, volume, 30)"},
	{Name: "vsum_10s", Formula: "rolling_sum(volume, '10s')"},
	{Name: "dacc", Formula: "decay_accum(volume, '30s')"},
	{Name: "ewm", Formula: "ewm_mean(close, 50)"},
	{Name: "z", Formula: "(close - ma_20) / rolling_std(close, 20)"},
}

func cmdJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// metaReader passes FlightData to the flight reader and keeps the
// app_metadata of data-less messages (the exchange summary), which the IPC
// reader cannot parse.
type metaReader struct {
	s    flight.FlightService_DoExchangeClient
	meta []byte
}

func (m *metaReader) Recv() (*flight.FlightData, error) {
	for {
		fd, err := m.s.Recv()
		if err != nil {
			return nil, err
		}
		if len(fd.DataHeader) == 0 {
			if len(fd.AppMetadata) > 0 {
				m.meta = fd.AppMetadata
			}
			continue
		}
		return fd, nil
	}
}

// exchangeResult is what came back from one exchange.
type exchangeResult struct {
	schema  *arrow.Schema
	batches []arrow.RecordBatch // retained; release with release()
	summary exchangeSummary
	rawMeta []byte
}

func (r *exchangeResult) release() { releaseAll(r.batches) }

// exchange runs one DoExchange: it writes batches from a goroutine and
// reads the output. The error is the stream's status error, if any.
func exchange(ctx context.Context, t testing.TB, c flight.Client, cmd []byte, schema *arrow.Schema, batches []arrow.RecordBatch) (*exchangeResult, error) {
	t.Helper()
	stream, err := c.DoExchange(ctx)
	if err != nil {
		return nil, err
	}
	werr := make(chan error, 1)
	go func() {
		w := flight.NewRecordWriter(stream, ipc.WithSchema(schema))
		w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: cmd})
		var err error
		for _, b := range batches {
			if err = w.Write(b); err != nil {
				break
			}
		}
		err = errors.Join(err, w.Close(), stream.CloseSend())
		werr <- err
	}()
	res := &exchangeResult{}
	mr := &metaReader{s: stream}
	rdr, err := flight.NewRecordReader(mr)
	if err != nil {
		<-werr
		return nil, err
	}
	defer rdr.Release()
	res.schema = rdr.Schema()
	for rdr.Next() {
		rec := rdr.RecordBatch()
		rec.Retain()
		res.batches = append(res.batches, rec)
	}
	<-werr // write errors show up on the read side as the status
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		res.release()
		return nil, err
	}
	res.rawMeta = mr.meta
	if len(mr.meta) == 0 {
		res.release()
		t.Fatalf("exchange ended without a summary message")
	}
	if err := json.Unmarshal(mr.meta, &res.summary); err != nil {
		res.release()
		t.Fatalf("summary %q: %v", mr.meta, err)
	}
	return res, nil
}

// oneShot computes the features over rec in one go.
func oneShot(t testing.TB, rec arrow.RecordBatch, specs []ir.Spec) *compute.Result {
	t.Helper()
	tbl := array.NewTableFromRecords(rec.Schema(), []arrow.RecordBatch{rec})
	defer tbl.Release()
	res, err := compute.ComputeFeatures(context.Background(), specs, []compute.Frame{{Name: "trades", Table: tbl}}, compute.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// float64Bits flattens a float64 column, nulls as a marker.
func float64Bits(t testing.TB, chunks []arrow.Array) []uint64 {
	t.Helper()
	var out []uint64
	for _, c := range chunks {
		a := c.(*array.Float64)
		for i := range a.Len() {
			v := uint64(0xDEAD)
			if a.IsValid(i) {
				v = math.Float64bits(a.Value(i))
			}
			out = append(out, v)
		}
	}
	return out
}

// checkSame compares every feature column of an exchange with the
// one-shot result, bit for bit, and the row counts per batch.
func checkSame(t testing.TB, got *exchangeResult, in []arrow.RecordBatch, want *compute.Result) {
	t.Helper()
	if len(got.batches) != len(in) {
		t.Fatalf("got %d output batches for %d input batches", len(got.batches), len(in))
	}
	for i := range in {
		if got.batches[i].NumRows() != in[i].NumRows() {
			t.Fatalf("batch %d: %d rows out, %d in", i, got.batches[i].NumRows(), in[i].NumRows())
		}
	}
	if !got.schema.Equal(want.Table.Schema()) {
		t.Fatalf("schema:\n got %s\nwant %s", got.schema, want.Table.Schema())
	}
	for ci, f := range want.Table.Schema().Fields() {
		if f.Type.ID() != arrow.FLOAT64 {
			continue
		}
		var chunks []arrow.Array
		for _, b := range got.batches {
			chunks = append(chunks, b.Column(ci))
		}
		g := float64Bits(t, chunks)
		w := float64Bits(t, want.Table.Column(ci).Data().Chunks())
		if len(g) != len(w) {
			t.Fatalf("%s: %d values, want %d", f.Name, len(g), len(w))
		}
		for i := range w {
			if g[i] != w[i] {
				t.Fatalf("%s row %d: exchange %v, one-shot %v", f.Name, i, math.Float64frombits(g[i]), math.Float64frombits(w[i]))
			}
		}
	}
}

// waitGoroutines waits until the goroutine count is back to at most base.
func waitGoroutines(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines: %d, baseline %d\n%s", runtime.NumGoroutine(), base, buf[:n])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitAllocated waits until the checked allocator holds nothing.
func waitAllocated(t testing.TB, mem *memory.CheckedAllocator) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for mem.CurrentAlloc() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("allocator still holds %d bytes", mem.CurrentAlloc())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  bytes.Buffer
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
