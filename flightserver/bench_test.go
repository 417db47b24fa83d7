package flightserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/internal/cputime"
	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/ir"
)

// benchRows is the input size of the exchange benchmarks:
// FDAG_BENCH_ROWS (default 1,000,000; the figure is for 10,000,000).
func benchRows(b *testing.B) int {
	n := 1_000_000
	if s := os.Getenv("FDAG_BENCH_ROWS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("FDAG_BENCH_ROWS=%q: want a positive integer", s)
		}
		n = v
	}
	return n
}

// demoBatches generates the demo trades in 128K-row batches (the batch size
// DEPENDENCIES.md found best for Flight) and their Arrow byte size.
func demoBatches(b *testing.B, rows int) ([]arrow.RecordBatch, int64) {
	rdr := demodata.NewReader(demodata.Config{Rows: rows, Seed: 1, BatchRows: 128 << 10}, memory.DefaultAllocator)
	defer rdr.Release()
	var recs []arrow.RecordBatch
	var size int64
	for rdr.Next() {
		rec := rdr.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
		for _, col := range rec.Columns() {
			for _, buf := range col.Data().Buffers() {
				if buf != nil {
					size += int64(buf.Len())
				}
			}
		}
	}
	return recs, size
}

// BenchmarkExchange streams the demo trades through DoExchange from a Go
// client over loopback: "echo" sends them back unchanged (the transport
// alone), "features" computes the 24-feature demo set. Both report rows/s
// and MB/s of input; their ratio is the cost of computing over the cost of
// moving the data.
//
//	FDAG_BENCH_ROWS=10000000 go test ./flightserver -run '^$' -bench Exchange -benchtime 3x
func BenchmarkExchange(b *testing.B) {
	rows := benchRows(b)
	specs, err := ir.LoadSpecs("../testdata/features/demo.yaml")
	if err != nil {
		b.Fatal(err)
	}
	recs, size := demoBatches(b, rows)
	defer releaseAll(recs)
	ts := startServer(b, Config{})
	c := newClient(b, ts.addr())
	for _, mode := range []struct {
		name string
		cmd  any
	}{
		{"echo", map[string]any{"echo": true}},
		{"features", map[string]any{"features": specs}},
	} {
		b.Run(fmt.Sprintf("%s/rows=%d", mode.name, rows), func(b *testing.B) {
			cmd := cmdJSON(b, mode.cmd)
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				res, err := exchange(context.Background(), b, c, cmd, recs[0].Schema(), recs)
				if err != nil {
					b.Fatal(err)
				}
				if res.summary.RowsOut != int64(rows) {
					b.Fatalf("rows out %d, want %d", res.summary.RowsOut, rows)
				}
				res.release()
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// countingAllocator counts the bytes allocated through it.
type countingAllocator struct {
	memory.Allocator
	bytes atomic.Int64
}

func (c *countingAllocator) Allocate(n int) []byte {
	c.bytes.Add(int64(n))
	return c.Allocator.Allocate(n)
}

func (c *countingAllocator) Reallocate(n int, b []byte) []byte {
	c.bytes.Add(int64(n))
	return c.Allocator.Reallocate(n, b)
}

// BenchmarkDecodeInput measures what the server allocates to turn received
// Flight messages into record batches for compute: the "arrow-bytes/op"
// metric stays 0 because the arrays point into the message bodies (zero
// copy after the wire; only small Go headers are allocated, see allocs/op
// and B/op), whatever the batch size.
func BenchmarkDecodeInput(b *testing.B) {
	recs, size := demoBatches(b, 1<<20)
	defer releaseAll(recs)
	msgs := &fakeExchange{}
	msgs.add(b, recs[0].Schema(), recs)
	all := msgs.msgs
	mem := &countingAllocator{Allocator: memory.DefaultAllocator}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		msgs.msgs = all
		in := &inputStream{stream: msgs}
		rdr, err := flight.NewRecordReader(in, ipc.WithAllocator(mem))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rdr.Next() {
			n += int(rdr.RecordBatch().NumRows())
		}
		rdr.Release()
		if n != 1<<20 {
			b.Fatalf("decoded %d rows, want %d", n, 1<<20)
		}
	}
	b.ReportMetric(float64(mem.bytes.Load())/float64(b.N), "arrow-bytes/op")
}

// BenchmarkDoGet fetches the 24-feature demo set computed from the
// warehouse (warmup included) for one symbol-day, and for 4 symbols x 1 day
// through GetFlightInfo's endpoints fetched in parallel. rows/s counts the
// output rows. FDAG_BENCH_ROWS sets the trades of the day over 4 symbols
// (default 1,000,000).
func BenchmarkDoGet(b *testing.B) {
	rows := benchRows(b)
	specs, err := ir.LoadSpecs("../testdata/features/demo.yaml")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	wh, err := catalog.Open(ctx, b.TempDir(), catalog.Config{}, catalog.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer wh.Close()
	// Two days of trades: the fetched day's warmup comes from the first.
	rdr := demodata.NewReader(demodata.Config{Rows: 2 * rows, Seed: 1, MeanGap: 2 * 86400 * time.Second / time.Duration(2*rows), Start: day0}, memory.DefaultAllocator)
	src := catalog.Source{Name: "demo", Batches: func(yield func(arrow.RecordBatch, error) bool) {
		for rdr.Next() {
			if !yield(rdr.RecordBatch(), nil) {
				return
			}
		}
	}}
	if _, err := wh.Ingest(ctx, catalog.TradesTable, src); err != nil {
		b.Fatal(err)
	}
	rdr.Release()
	ts := startServerWith(b, Config{}, Options{Warehouse: wh})
	c := newClient(b, ts.addr())
	fetch := func(b *testing.B, ticket []byte) int64 {
		stream, err := c.DoGet(ctx, &flight.Ticket{Ticket: ticket})
		if err != nil {
			b.Fatal(err)
		}
		r, err := flight.NewRecordReader(stream)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Release()
		var n int64
		for r.Next() {
			n += r.RecordBatch().NumRows()
		}
		if err := r.Err(); err != nil && !errors.Is(err, io.EOF) {
			b.Fatal(err)
		}
		return n
	}
	day := map[string]any{"features": specs, "start": "2024-01-03", "end": "2024-01-04"}
	b.Run("one-symbol-day", func(b *testing.B) {
		one := map[string]any{"symbols": []string{"BTCUSDT"}}
		for k, v := range day {
			one[k] = v
		}
		tkt := cmdJSON(b, one)
		var n int64
		for b.Loop() {
			n += fetch(b, tkt)
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("4-symbols-parallel", func(b *testing.B) {
		var n atomic.Int64
		for b.Loop() {
			info, err := c.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: cmdJSON(b, day)})
			if err != nil {
				b.Fatal(err)
			}
			var wg sync.WaitGroup
			for _, ep := range info.Endpoint {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n.Add(fetch(b, ep.Ticket.Ticket))
				}()
			}
			wg.Wait()
		}
		b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkStreamBatchRows computes the demo set as DoExchange does
// (compute.Stream, one Process per received batch) for batches of
// several sizes, and reports CPU seconds per run beside wall time: the
// per-batch cost of the engine decides how many rows a client should send
// per message (clients/python's DEFAULT_CHUNK_ROWS).
//
//	FDAG_BENCH_ROWS=10000000 go test ./flightserver -run '^$' -bench StreamBatchRows -benchtime 2x
func BenchmarkStreamBatchRows(b *testing.B) {
	rows := benchRows(b)
	specs, err := ir.LoadSpecs("../testdata/features/demo.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, per := range []int{64 << 10, 256 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("batch=%d", per), func(b *testing.B) {
			rdr := demodata.NewReader(demodata.Config{Rows: rows, Seed: 1, BatchRows: per}, memory.DefaultAllocator)
			var recs []arrow.RecordBatch
			for rdr.Next() {
				rec := rdr.RecordBatch()
				rec.Retain()
				recs = append(recs, rec)
			}
			rdr.Release()
			defer releaseAll(recs)
			cpu0 := cputime.Process()
			for b.Loop() {
				cs, err := compute.NewStream(specs, recs[0].Schema(), compute.Options{})
				if err != nil {
					b.Fatal(err)
				}
				for _, rec := range recs {
					out, err := cs.Process(context.Background(), rec)
					if err != nil {
						b.Fatal(err)
					}
					out.Release()
				}
			}
			b.ReportMetric((cputime.Process()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
