package catalog

import (
	"runtime"
	"sync"
	"weak"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Narrow rows without per-row work. A feature's narrow rows over a run of
// consecutive wide rows are columns the wide table already has: symbol,
// timestamp (in microseconds), the feature's values, seq and trade_id are
// slices of wide columns, shared, not copied; feature_name, version, id,
// namespace, status and processed_time are constant and built once per
// feature; feature_value_json and feature_value_array are all null. The
// wide rows in [Start, End) are consecutive whenever the wide table is in
// time order, as compute's output of time-ordered input (every batch run)
// is. Building rows one by one through builders was most of the Go-side
// cost of a narrow write (BenchmarkWriteFeatures).

// rowRange is the wide rows [lo, hi).
type rowRange struct{ lo, hi int }

// minRunRows is the mean run length below which the rows are built one
// by one instead (a wide table far from time order would otherwise make
// batches of a few rows).
const minRunRows = 1024

// sliceable reports whether the selected rows come in runs long enough to
// slice, and the longest run.
func sliceable(ranges []rowRange) (ok bool, longest int) {
	total := 0
	for _, r := range ranges {
		total += r.hi - r.lo
		longest = max(longest, r.hi-r.lo)
	}
	return len(ranges) > 0 && total/len(ranges) >= minRunRows, longest
}

// selectedRanges returns the runs of consecutive rows whose (valid) time
// is in [lo, hi).
func selectedRanges(ts *array.Timestamp, toMicro func(int64) int64, lo, hi int64) []rowRange {
	var out []rowRange
	start := -1
	for i := 0; i < ts.Len(); i++ {
		t := toMicro(int64(ts.Value(i)))
		in := ts.IsValid(i) && t >= lo && t < hi
		switch {
		case in && start < 0:
			start = i
		case !in && start >= 0:
			out = append(out, rowRange{start, i})
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, rowRange{start, ts.Len()})
	}
	return out
}

// narrowColumns holds what the feature-independent narrow columns are cut
// from: whole wide-length arrays, in the narrow schema's types.
type narrowColumns struct {
	mem       memory.Allocator
	schema    *arrow.Schema
	symbol    arrow.Array // the wide symbol column
	timestamp arrow.Array // timestamp[us, UTC] over the wide rows
	seq       arrow.Array // int32
	tradeID   arrow.Array // int64; nil: all null
	processed arrow.Timestamp
	// common are the constant columns of every feature's rows (status,
	// processed time, the null columns), by narrow column index
	common map[int]arrow.Array
	last   map[int]arrow.Array // lastString's
}

// newNarrowColumns prepares the shared columns. It returns nil when the
// fast path does not apply (a null symbol, which the row path writes as "").
func newNarrowColumns(mem memory.Allocator, sym *array.String, ts *array.Timestamp, toMicro func(int64) int64,
	seqs []int32, ids *array.Int64, processed arrow.Timestamp) *narrowColumns {
	if sym.NullN() > 0 {
		return nil
	}
	schema := NarrowSchema()
	c := &narrowColumns{mem: mem, schema: schema, processed: processed}
	sym.Retain()
	c.symbol = sym
	tsType := schema.Field(4).Type
	if u := ts.DataType().(*arrow.TimestampType); u.Unit == arrow.Microsecond {
		// the same values: share the buffers under the narrow type
		d := ts.Data()
		nd := array.NewData(tsType, d.Len(), d.Buffers(), nil, d.NullN(), d.Offset())
		c.timestamp = array.MakeFromData(nd)
		nd.Release()
	} else {
		b := array.NewTimestampBuilder(mem, tsType.(*arrow.TimestampType))
		b.Reserve(ts.Len())
		for i := 0; i < ts.Len(); i++ {
			b.UnsafeAppend(arrow.Timestamp(toMicro(int64(ts.Value(i)))))
		}
		c.timestamp = b.NewArray()
		b.Release()
	}
	c.seq = int32Array(mem, seqs)
	if ids != nil {
		ids.Retain()
		c.tradeID = ids
	}
	return c
}

func (c *narrowColumns) release() {
	for _, a := range []arrow.Array{c.symbol, c.timestamp, c.seq, c.tradeID} {
		if a != nil {
			a.Release()
		}
	}
	c.releaseCommon()
}

// featureConstants are a feature's constant columns, n rows long, sliced
// for shorter batches.
type featureConstants struct {
	cols map[int]arrow.Array // by narrow column index
}

// Narrow column indexes (FeatureSchema order).
const (
	ncSymbol = iota
	ncName
	ncVersion
	ncID
	ncTimestamp
	ncNamespace
	ncValue
	ncJSON
	ncArray
	ncStatus
	ncProcessed
	ncSeq
	ncTradeID
	ncCount
)

func (c *narrowColumns) constants(f FeatureInfo, n int) featureConstants {
	fc := featureConstants{cols: map[int]arrow.Array{
		ncName:      constantString(c.mem, f.Name, n),
		ncVersion:   c.lastString(ncVersion, f.Version, n),
		ncID:        constantString(c.mem, f.ID, n),
		ncNamespace: c.lastString(ncNamespace, f.Namespace, n),
	}}
	// the columns that are the same for every feature, built once
	if c.common == nil || c.common[ncStatus].Len() < n {
		c.releaseCommon()
		c.common = map[int]arrow.Array{
			ncStatus:    constantString(c.mem, StatusSuccess, n),
			ncProcessed: constantTimestamp(c.mem, c.schema.Field(ncProcessed).Type, c.processed, n),
			ncJSON:      array.MakeArrayOfNull(c.mem, c.schema.Field(ncJSON).Type, n),
			ncArray:     array.MakeArrayOfNull(c.mem, c.schema.Field(ncArray).Type, n),
		}
		if c.tradeID == nil {
			c.common[ncTradeID] = array.MakeArrayOfNull(c.mem, c.schema.Field(ncTradeID).Type, n)
		}
	}
	for j, a := range c.common {
		fc.cols[j] = array.NewSlice(a, 0, int64(n))
	}
	return fc
}

// lastString is n copies of s for column j, the previous feature's array
// again when its value was s too (features share versions and namespaces).
func (c *narrowColumns) lastString(j int, s string, n int) arrow.Array {
	if c.last == nil {
		c.last = map[int]arrow.Array{}
	}
	if a := c.last[j]; a == nil || a.Len() < n || a.(*array.String).Value(0) != s {
		if a != nil {
			a.Release()
		}
		c.last[j] = constantString(c.mem, s, n)
	}
	return array.NewSlice(c.last[j], 0, int64(n))
}

func (c *narrowColumns) releaseCommon() {
	for _, m := range []map[int]arrow.Array{c.common, c.last} {
		for _, a := range m {
			a.Release()
		}
	}
	c.common, c.last = nil, nil
}

func (fc featureConstants) release() {
	for _, a := range fc.cols {
		a.Release()
	}
}

// batch returns the narrow rows of one feature (values: its wide column)
// over wide rows [lo, hi); hi - lo is at most the constants' length.
func (c *narrowColumns) batch(fc featureConstants, values arrow.Array, lo, hi int) arrow.RecordBatch {
	n := int64(hi - lo)
	cols := make([]arrow.Array, ncCount)
	for j := range cols {
		var src arrow.Array
		from, to := int64(lo), int64(hi)
		switch j {
		case ncSymbol:
			src = c.symbol
		case ncTimestamp:
			src = c.timestamp
		case ncValue:
			src = values
		case ncSeq:
			src = c.seq
		case ncTradeID:
			src = c.tradeID
		}
		if src == nil {
			src, from, to = fc.cols[j], 0, n
		}
		cols[j] = array.NewSlice(src, from, to)
	}
	rec := array.NewRecordBatch(c.schema, cols, n)
	for _, a := range cols {
		a.Release()
	}
	return rec
}

// constantString is n copies of s as a string array.
func constantString(mem memory.Allocator, s string, n int) arrow.Array {
	offsets := memory.NewResizableBuffer(mem)
	offsets.Resize((n + 1) * 4)
	off := arrow.Int32Traits.CastFromBytes(offsets.Bytes())
	data := memory.NewResizableBuffer(mem)
	data.Resize(n * len(s))
	b := data.Bytes()
	for i := range n + 1 {
		off[i] = int32(i * len(s))
	}
	// s, then the bytes so far doubled: a few large copies, not n small ones
	for k := copy(b, s); k < len(b); k *= 2 {
		copy(b[k:], b[:k])
	}
	d := array.NewData(arrow.BinaryTypes.String, n, []*memory.Buffer{nil, offsets, data}, nil, 0, 0)
	markConstant(offsets, data, s)
	offsets.Release()
	data.Release()
	defer d.Release()
	return array.MakeFromData(d)
}

// constantArrays are the arrays constantString made, by their data
// buffer (weakly: an entry goes when its buffer does), so the writer
// knows them as constant without comparing their bytes (knownConstant).
var constantArrays sync.Map // weak.Pointer[memory.Buffer] -> constantArray

type constantArray struct {
	offsets weak.Pointer[memory.Buffer]
	v       string
}

func markConstant(offsets, data *memory.Buffer, s string) {
	key := weak.Make(data)
	constantArrays.Store(key, constantArray{weak.Make(offsets), s})
	runtime.AddCleanup(data, func(k weak.Pointer[memory.Buffer]) { constantArrays.Delete(k) }, key)
}

// madeConstant is the value of an array of these buffers constantString
// made.
func madeConstant(offsets, data *memory.Buffer) (string, bool) {
	e, ok := constantArrays.Load(weak.Make(data))
	if !ok {
		return "", false
	}
	c := e.(constantArray)
	return c.v, c.offsets.Value() == offsets
}

// constantTimestamp is n copies of v.
func constantTimestamp(mem memory.Allocator, typ arrow.DataType, v arrow.Timestamp, n int) arrow.Array {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(n * 8)
	vals := arrow.TimestampTraits.CastFromBytes(buf.Bytes())
	for i := range vals {
		vals[i] = v
	}
	d := array.NewData(typ, n, []*memory.Buffer{nil, buf}, nil, 0, 0)
	buf.Release()
	defer d.Release()
	return array.MakeFromData(d)
}

// int32Array copies vs into an array of mem.
func int32Array(mem memory.Allocator, vs []int32) arrow.Array {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(len(vs) * 4)
	copy(arrow.Int32Traits.CastFromBytes(buf.Bytes()), vs)
	d := array.NewData(arrow.PrimitiveTypes.Int32, len(vs), []*memory.Buffer{nil, buf}, nil, 0, 0)
	buf.Release()
	defer d.Release()
	return array.MakeFromData(d)
}
