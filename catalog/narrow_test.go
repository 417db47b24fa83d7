package catalog

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/ir"
)

// TestNarrowSlicesEqualRows: the sliced narrow rows (narrow.go) are the
// rows the row-by-row path builds, column for column, in the same order:
// with and without trade ids, microsecond and millisecond time columns, a
// failed feature among the others, a window cutting the warmup and the end,
// batches smaller than the runs, and a wide table out of time order (seq
// counted by the general path of tieOrdinals).
func TestNarrowSlicesEqualRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	gen := demodata.Generate(demodata.Config{Rows: 6000, Seed: 5, MeanGap: 2 * time.Second}, mem)
	defer gen.Release()
	specs := testSpecs // includes one that fails to compile
	res, err := compute.ComputeFeatures(context.Background(), specs, []compute.Frame{{Name: "t", Table: gen}}, compute.Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	feats := FeatureInfos(ir.Compile(specs, ir.Options{SourceColumns: fieldNamesOf(gen.Schema())}), res.Statuses)
	ids := gen.Column(gen.Schema().FieldIndices(ColTradeID)[0]).Data()
	t0 := int64(gen.Column(gen.Schema().FieldIndices(ColEventTime)[0]).Data().Chunk(0).(*array.Timestamp).Value(0))
	start := time.UnixMicro(t0).Add(time.Hour)
	end := start.Add(time.Hour)
	ms := withMillisecondTime(t, res.Table, mem)
	defer ms.Release()
	reversed := reverseRows(t, res.Table, mem)
	defer reversed.Release()
	for _, c := range []struct {
		name string
		wide arrow.Table
		opts NarrowOptions
	}{
		{"whole", res.Table, NarrowOptions{}},
		{"window, trade ids, small batches", res.Table, NarrowOptions{Start: start, End: end, TradeIDs: ids, BatchRows: 500}},
		{"millisecond time", ms, NarrowOptions{Start: start, TradeIDs: ids}},
		{"out of time order", reversed, NarrowOptions{End: end}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Mem, c.opts.ProcessedTime = mem, time.Unix(1700000000, 0)
			fast := collectNarrow(t, WideToNarrow(c.wide, feats, c.opts), mem)
			defer fast.Release()
			if !sharesValues(fast, c.wide) {
				t.Fatal("the values were not sliced from the wide table")
			}
			c.opts.rowByRow = true
			slow := collectNarrow(t, WideToNarrow(c.wide, feats, c.opts), mem)
			defer slow.Release()
			if fast.NumRows() != slow.NumRows() || fast.NumRows() == 0 {
				t.Fatalf("%d sliced rows, %d built rows", fast.NumRows(), slow.NumRows())
			}
			for j := range int(slow.NumCols()) {
				a, b := concatColumn(t, fast, j, mem), concatColumn(t, slow, j, mem)
				if !array.Equal(a, b) {
					t.Errorf("column %s differs", slow.Schema().Field(j).Name)
				}
				a.Release()
				b.Release()
			}
		})
	}
}

func collectNarrow(t *testing.T, batches func(func(arrow.RecordBatch, error) bool), mem memory.Allocator) arrow.Table {
	t.Helper()
	var recs []arrow.RecordBatch
	for rec, err := range batches {
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	tbl := array.NewTableFromRecords(NarrowSchema(), recs)
	for _, r := range recs {
		r.Release()
	}
	return tbl
}

func concatColumn(t *testing.T, tbl arrow.Table, j int, mem memory.Allocator) arrow.Array {
	t.Helper()
	a, err := array.Concatenate(tbl.Column(j).Data().Chunks(), mem)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// withMillisecondTime is wide with its time column in milliseconds.
func withMillisecondTime(t *testing.T, wide arrow.Table, mem memory.Allocator) arrow.Table {
	t.Helper()
	return mapColumn(t, wide, 0, mem, func(a arrow.Array) arrow.Array {
		ts := a.(*array.Timestamp)
		b := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"})
		defer b.Release()
		for i := 0; i < ts.Len(); i++ {
			b.Append(ts.Value(i) / 1000)
		}
		return b.NewArray()
	})
}

// reverseRows is wide upside down.
func reverseRows(t *testing.T, wide arrow.Table, mem memory.Allocator) arrow.Table {
	t.Helper()
	var out arrow.Table
	for j := range int(wide.NumCols()) {
		next := mapColumn(t, orDefault(out, wide), j, mem, func(a arrow.Array) arrow.Array {
			b := array.NewBuilder(mem, a.DataType())
			defer b.Release()
			for i := a.Len() - 1; i >= 0; i-- {
				if err := b.AppendValueFromString(a.ValueStr(i)); err != nil {
					t.Fatal(err)
				}
			}
			return b.NewArray()
		})
		if out != nil {
			out.Release()
		}
		out = next
	}
	return out
}

func orDefault(a, b arrow.Table) arrow.Table {
	if a != nil {
		return a
	}
	return b
}

// mapColumn returns tbl with column j replaced by f of its (one-chunk)
// data.
func mapColumn(t *testing.T, tbl arrow.Table, j int, mem memory.Allocator, f func(arrow.Array) arrow.Array) arrow.Table {
	t.Helper()
	a := concatColumn(t, tbl, j, mem)
	defer a.Release()
	na := f(a)
	defer na.Release()
	fields := tbl.Schema().Fields()
	fields[j].Type = na.DataType()
	cols := make([]arrow.Array, tbl.NumCols())
	for k := range cols {
		if k == j {
			cols[k] = na
			continue
		}
		cols[k] = concatColumn(t, tbl, k, mem)
		defer cols[k].Release()
	}
	sc := arrow.NewSchema(fields, nil)
	rec := array.NewRecordBatch(sc, cols, tbl.NumRows())
	defer rec.Release()
	return array.NewTableFromRecords(sc, []arrow.RecordBatch{rec})
}

// sharesValues reports whether narrow's first value chunk points into one
// of wide's columns (the sliced path).
func sharesValues(narrow, wide arrow.Table) bool {
	v := narrow.Column(ncValue).Data()
	for _, ch := range v.Chunks() {
		if ch.Len() == 0 {
			continue
		}
		p := ch.Data().Buffers()[1].Buf()
		for j := range int(wide.NumCols()) {
			for _, wc := range wide.Column(j).Data().Chunks() {
				if bs := wc.Data().Buffers(); len(bs) > 1 && bs[1] != nil && len(bs[1].Buf()) > 0 && &bs[1].Buf()[0] == &p[0] {
					return true
				}
			}
		}
		return false
	}
	return false
}

// TestFeaturesTableWriteProperties: a new ft_features gets the write
// settings of featureWriteProperties, and its data files use them.
func TestFeaturesTableWriteProperties(t *testing.T) {
	ctx := context.Background()
	w := openTemp(t, memory.DefaultAllocator)
	tbl, err := w.Table(ctx, FeaturesTable)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range featureWriteProperties {
		if got := tbl.Properties()[k]; got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// TestMadeConstant: the writer knows constantString's arrays (and their
// slices) as constant without reading them, and an array of other
// buffers only by its values.
func TestMadeConstant(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	a := constantString(mem, "rolling_mean_20", 1000)
	defer a.Release()
	bufs := a.Data().Buffers()
	if v, ok := madeConstant(bufs[1], bufs[2]); !ok || v != "rolling_mean_20" {
		t.Fatalf("madeConstant = %q, %v", v, ok)
	}
	if _, ok := madeConstant(memory.NewBufferBytes(make([]byte, 1001*4)), bufs[2]); ok {
		t.Fatal("the data under other offsets is known as constant")
	}
	for _, c := range []struct {
		vals []string
		want bool
	}{{[]string{"x", "x", "x"}, true}, {[]string{"x", "y"}, false}, {[]string{"ab", "a", "b"}, false}} {
		b := stringArray(mem, c.vals)
		var k knownConstant
		if v, ok := k.of(b.(*array.String)); ok != c.want || ok && v != c.vals[0] {
			t.Errorf("%q: %q, %v", c.vals, v, ok)
		}
		k.release()
		b.Release()
	}
	s := array.NewSlice(a, 10, 20)
	defer s.Release()
	var k knownConstant
	defer k.release()
	if v, ok := k.of(s.(*array.String)); !ok || v != "rolling_mean_20" {
		t.Fatalf("slice: %q, %v", v, ok)
	}
}
