package flightserver

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

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
