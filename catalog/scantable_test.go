package catalog

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/internal/demodata"
)

// scanRows ranges over ScanTable and returns its rows (the trade columns)
// and the number of batches.
func scanRows(t *testing.T, w *Warehouse, q TableQuery, opts StreamOptions) ([]trade, *arrow.Schema, error) {
	t.Helper()
	schema, seq, err := w.ScanTable(context.Background(), TradesTable, q, opts)
	if err != nil {
		return nil, nil, err
	}
	var out []trade
	for rec, err := range seq {
		if err != nil {
			return out, schema, err
		}
		if !rec.Schema().Equal(schema) {
			t.Fatalf("batch schema %s, stream schema %s", rec.Schema(), schema)
		}
		tbl := array.NewTableFromRecords(rec.Schema(), []arrow.RecordBatch{rec})
		if schema.HasField(ColEventTime) {
			out = append(out, rowsOf(t, tbl)...)
		} else {
			ids := tbl.Column(tbl.Schema().FieldIndices(ColTradeID)[0]).Data().Chunk(0).(*array.Int64)
			for i := range ids.Len() {
				out = append(out, trade{id: ids.Value(i)})
			}
		}
		tbl.Release()
	}
	return out, schema, nil
}

// timeOrder is a table read's order of trades: time, symbol, trade id.
func timeOrder(rows []trade) []trade {
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b trade) int {
		return cmp.Or(a.t.Compare(b.t), cmp.Compare(a.sym, b.sym), cmp.Compare(a.id, b.id))
	})
	return rows
}

// A table ticket's rows stream in time order across files that overlap
// (several appends, one reversed, ties), with a limit keeping the first
// rows of that order, and the time column ordering the rows when it is
// not selected.
func TestScanTableStreamsInTimeOrder(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	w := openTemp(t, mem)
	want := timeOrder(overlappingTrades(t, w, mem))

	got, _, err := scanRows(t, w, TableQuery{}, StreamOptions{BatchRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("streamed %d rows, want %d in time order (first difference at %d)", len(got), len(want), firstTradeDiff(got, want))
	}

	got, _, err = scanRows(t, w, TableQuery{Limit: 2500}, StreamOptions{BatchRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want[:2500]) {
		t.Fatalf("limit 2500: %d rows, not the first 2500 in time order", len(got))
	}

	got, schema, err := scanRows(t, w, TableQuery{Columns: []string{ColSymbol, ColTradeID}}, StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if schema.NumFields() != 2 || schema.HasField(ColEventTime) {
		t.Fatalf("schema %s, want symbol and trade_id only", schema)
	}
	for i := range want {
		if got[i].id != want[i].id {
			t.Fatalf("without event_time selected, row %d is trade %d, want %d (time order)", i, got[i].id, want[i].id)
		}
	}

	// ReadTable is the same rows as one table.
	tbl, err := w.ReadTable(context.Background(), TradesTable, TableQuery{})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	if read := rowsOf(t, tbl); !slices.Equal(read, want) {
		t.Fatalf("ReadTable: %d rows, not ScanTable's", len(read))
	}
}

func firstTradeDiff(a, b []trade) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// peakAllocator records the most bytes outstanding at once.
type peakAllocator struct {
	memory.Allocator
	mu        sync.Mutex
	cur, peak int64
	sizes     map[*byte]int
}

func newPeakAllocator(a memory.Allocator) *peakAllocator {
	return &peakAllocator{Allocator: a, sizes: map[*byte]int{}}
}

func (p *peakAllocator) add(b []byte, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(b) > 0 {
		p.sizes[&b[0]] = n
	}
	p.cur += int64(n)
	p.peak = max(p.peak, p.cur)
}

func (p *peakAllocator) remove(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(b) > 0 {
		p.cur -= int64(p.sizes[&b[0]])
		delete(p.sizes, &b[0])
	}
}

func (p *peakAllocator) Allocate(n int) []byte {
	b := p.Allocator.Allocate(n)
	p.add(b, n)
	return b
}

func (p *peakAllocator) Reallocate(n int, old []byte) []byte {
	p.remove(old)
	b := p.Allocator.Reallocate(n, old)
	p.add(b, n)
	return b
}

func (p *peakAllocator) Free(b []byte) {
	p.remove(b)
	p.Allocator.Free(b)
}

func (p *peakAllocator) resetPeak() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.peak = p.cur
}

// A table read holds a group or two of files (here a day), not the whole
// selection: over 16 days its peak is a small part of the rows it sends,
// and a group past MaxBufferBytes ends it with a BufferLimitError naming
// the table.
func TestScanTableMemoryIsAGroupNotTheTable(t *testing.T) {
	checked := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer checked.AssertSize(t, 0)
	mem := newPeakAllocator(checked)
	w := openTemp(t, mem)
	gen := demodata.Generate(demodata.Config{Rows: 40000, Seed: 5, MeanGap: 40 * time.Second}, mem)
	all := rowsOf(t, gen)
	gen.Release()
	for i, part := range [][]trade{all[:len(all)/2], all[len(all)/2:]} {
		tbl := tradesTable(mem, part)
		_, err := w.Ingest(context.Background(), TradesTable, tableSource("part", tbl))
		tbl.Release()
		if err != nil {
			t.Fatalf("ingest %d: %v", i, err)
		}
	}
	days := all[len(all)-1].t.Sub(all[0].t).Hours() / 24
	if days < 12 {
		t.Fatalf("the data spans %.1f days, want 12 or more", days)
	}

	mem.resetPeak()
	base := mem.peak
	schema, seq, err := w.ScanTable(context.Background(), TradesTable, TableQuery{}, StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var sent, rows int64
	for rec, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		sent += recordBytes(rec)
		rows += rec.NumRows()
	}
	if rows != int64(len(all)) {
		t.Fatalf("streamed %d rows, want %d", rows, len(all))
	}
	if held := mem.peak - base; held > sent/4 {
		t.Errorf("peak %d bytes held while streaming %d bytes over %.0f days: more than a quarter, as if the table were read whole", held, sent, days)
	}
	if schema.NumFields() == 0 {
		t.Fatal("no schema")
	}

	_, _, err = scanRows(t, w, TableQuery{}, StreamOptions{MaxBufferBytes: 4 << 10})
	var be *BufferLimitError
	if !errors.As(err, &be) || be.Table != TradesTable || be.Symbol != "" || be.Limit != 4<<10 {
		t.Fatalf("err = %v, want a BufferLimitError for table %s", err, TradesTable)
	}
	if msg := be.Error(); !strings.HasPrefix(msg, "table "+TradesTable+": ") {
		t.Errorf("message %q", msg)
	}
}
