package tableio

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// plainChunk writes one column chunk of 8-byte values (DOUBLE, INT64) as
// PLAIN data pages (v1) without arrow-go's column writer, which copies
// every value three times (into its encoder, its page buffer and the
// chunk's in-memory sink) and keeps statistics in a pass of its own:
// together 10% of `fdag compute`'s CPU at 1M rows (bench/README.md). Here
// a page is built once: the values of the Arrow buffer copied after room
// for the definition levels (only the non-null values where the batch
// has nulls), their minimum and maximum taken in the same loop, the
// levels written in front from the validity bits (one RLE run without
// nulls, else one bit-packed run, which is the bitmap itself), and the
// page compressed from there. The statistics are arrow-go's own
// (metadata.Float64Statistics, Int64Statistics: their NaN, -0/+0 and
// all-null rules), the page headers and chunk metadata its page writer's,
// so the file is what arrow-go writes, page boundaries aside
// (TestPlainChunksEqualArrowGo).
type plainChunk struct {
	descr    *schema.Column
	props    *parquet.WriterProperties
	mem      memory.Allocator
	codecID  compress.Compression
	codec    compress.Codec // nil: uncompressed
	level    int
	float    bool // DOUBLE, else INT64
	nullable bool // definition levels 0/1
	pageRows int
	room     int // bytes before the values kept for the levels

	ccb        *metadata.ColumnChunkMetaDataBuilder
	pageStats  metadata.TypedStatistics
	chunkStats metadata.TypedStatistics
	chunkRows  int64

	// the page being filled
	buf          []byte // room, then the values
	valid        []byte // validity bits of its rows (nullable only)
	rows, nvals  int
	minF, maxF   float64
	minI, maxI   int64
	pages        []plainPage // compressed, of this row group
	sorted       bool        // signed sort order (statistics)
	maxStatsSize int
}

type plainPage struct {
	data, alloc  []byte // alloc: from mem, data within it
	rows         int32
	uncompressed int32
	stats        metadata.EncodedStatistics
}

// plainColumn reports whether the column of field f, stored as descr,
// can be written by plainChunk under props: DOUBLE or INT64 stored as
// the Arrow values are (no timestamp or date conversion), PLAIN, flat,
// statistics on, no dictionary, bloom filter, page index or encryption.
func plainColumn(f arrow.Field, descr *schema.Column, props *parquet.WriterProperties) bool {
	path := descr.Path()
	if descr.MaxRepetitionLevel() != 0 || descr.MaxDefinitionLevel() > 1 ||
		props.DataPageVersion() != parquet.DataPageV1 || props.FileEncryptionProperties() != nil ||
		props.DictionaryEnabledFor(path) || props.EncodingFor(path) != parquet.Encodings.Plain ||
		!props.StatisticsEnabledFor(path) || props.PageIndexEnabledFor(path) || props.BloomFilterEnabledFor(path) {
		return false
	}
	switch f.Type.ID() {
	case arrow.FLOAT64:
		return descr.PhysicalType() == parquet.Types.Double
	case arrow.INT64:
		return descr.PhysicalType() == parquet.Types.Int64 && descr.SortOrder() == schema.SortSIGNED
	case arrow.TIMESTAMP:
		// pqarrow stores seconds as milliseconds (and may coerce other
		// units): only a unit stored as it is qualifies.
		ts, ok := descr.LogicalType().(*schema.TimestampLogicalType)
		if !ok || descr.PhysicalType() != parquet.Types.Int64 || descr.SortOrder() != schema.SortSIGNED {
			return false
		}
		want := map[arrow.TimeUnit]schema.TimeUnitType{arrow.Millisecond: schema.TimeUnitMillis,
			arrow.Microsecond: schema.TimeUnitMicros, arrow.Nanosecond: schema.TimeUnitNanos}
		u, ok := want[f.Type.(*arrow.TimestampType).Unit]
		return ok && ts.TimeUnit() == u
	}
	return false
}

func newPlainChunk(f arrow.Field, descr *schema.Column, props *parquet.WriterProperties) (*plainChunk, error) {
	path := descr.Path()
	c := &plainChunk{descr: descr, props: props, mem: props.Allocator(), codecID: props.CompressionFor(path),
		level: props.CompressionLevelFor(path), float: f.Type.ID() == arrow.FLOAT64,
		nullable: descr.MaxDefinitionLevel() == 1, pageRows: max(int(props.DataPageSize()/8), 1),
		sorted: descr.SortOrder() == schema.SortSIGNED, maxStatsSize: int(props.MaxStatsSizeFor(path))}
	if c.codecID != compress.Codecs.Uncompressed {
		codec, err := compress.GetCodec(c.codecID)
		if err != nil {
			return nil, err
		}
		c.codec = codec
	}
	if c.nullable {
		// the levels' length, an RLE or bit-packed run header (a varint of
		// at most 5 bytes) and the bits of a page
		c.room = 4 + binary.MaxVarintLen32 + int(bitutil.BytesForBits(int64(c.pageRows)))
		c.valid = make([]byte, bitutil.BytesForBits(int64(c.pageRows)))
	}
	c.pageStats = metadata.NewStatistics(descr, c.mem)
	c.resetPage()
	return c, nil
}

// start begins the column chunk of a new row group.
func (c *plainChunk) start(ccb *metadata.ColumnChunkMetaDataBuilder) {
	c.ccb = ccb
	// new, as arrow-go's column writer has: a Reset one has no null count
	// until it is incremented, which Merge does not do
	c.chunkStats = metadata.NewStatistics(c.descr, c.mem)
	c.chunkRows = 0
}

func (c *plainChunk) resetPage() {
	c.rows, c.nvals = 0, 0
	c.minF, c.maxF = math.Inf(1), math.Inf(-1)
	c.minI, c.maxI = math.MaxInt64, math.MinInt64
}

// write appends the values of arr (a FLOAT64, INT64 or TIMESTAMP array),
// compressing each page as it fills.
func (c *plainChunk) write(arr arrow.Array) error {
	if !c.nullable && arr.NullN() > 0 {
		return fmt.Errorf("%d nulls in a column that is not nullable", arr.NullN())
	}
	for off, n := 0, arr.Len(); off < n; {
		take := min(n-off, c.pageRows-c.rows)
		c.append(arr, off, take)
		off += take
		if c.rows == c.pageRows {
			if err := c.flushPage(); err != nil {
				return err
			}
		}
	}
	return nil
}

// append adds rows [off, off+n) of arr to the page, which has room.
func (c *plainChunk) append(arr arrow.Array, off, n int) {
	if c.buf == nil {
		c.buf = make([]byte, c.room+8*c.pageRows)
	}
	data := arr.Data()
	base := data.Offset() + off
	raw := data.Buffers()[1].Bytes()
	var validity []byte
	if arr.NullN() > 0 {
		validity = data.Buffers()[0].Bytes()
		if bitutil.CountSetBits(validity, base, n) == n {
			validity = nil
		}
	}
	dst := c.buf[c.room+8*c.nvals:]
	if validity == nil {
		copy(dst, raw[8*base:8*(base+n)])
		if c.float {
			c.minF, c.maxF = minMax(arrow.Float64Traits.CastFromBytes(dst[:8*n]), c.minF, c.maxF)
		} else {
			c.minI, c.maxI = minMax(arrow.Int64Traits.CastFromBytes(dst[:8*n]), c.minI, c.maxI)
		}
		if c.nullable {
			bitutil.SetBitsTo(c.valid, int64(c.rows), int64(n), true)
		}
		c.rows += n
		c.nvals += n
		return
	}
	k := 0
	for i := range n {
		if bitutil.BitIsSet(validity, base+i) {
			copy(dst[8*k:8*k+8], raw[8*(base+i):8*(base+i)+8])
			k++
		}
	}
	if c.float {
		c.minF, c.maxF = minMax(arrow.Float64Traits.CastFromBytes(dst[:8*k]), c.minF, c.maxF)
	} else {
		c.minI, c.maxI = minMax(arrow.Int64Traits.CastFromBytes(dst[:8*k]), c.minI, c.maxI)
	}
	bitutil.CopyBitmap(validity, base, n, c.valid, c.rows)
	c.rows += n
	c.nvals += k
}

// minMax folds vs into the running minimum and maximum. NaN compares
// false, so it is skipped, as arrow-go's statistics skip it; which zero
// wins a tie does not matter (SetMinMax writes -0 as a minimum and +0 as
// a maximum).
func minMax[T float64 | int64](vs []T, lo, hi T) (T, T) {
	for _, v := range vs {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

// flushPage ends the page: levels in front of the values, statistics,
// compression.
func (c *plainChunk) flushPage() error {
	if c.rows == 0 {
		return nil
	}
	start := c.room
	if c.nullable {
		// RLE/bit-packed hybrid, bit width 1: without nulls one RLE run of
		// rows 1s (its value in one byte), else one bit-packed run of the
		// validity bits, LSB first, in groups of 8 (the last padded with 0s)
		header, body := uint64(c.rows)<<1, 1
		if c.nvals < c.rows {
			groups := bitutil.BytesForBits(int64(c.rows))
			if rem := c.rows % 8; rem != 0 {
				c.valid[groups-1] &= byte(1)<<rem - 1
			}
			header, body = uint64(groups)<<1|1, int(groups)
		}
		n := uvarintLen(header) + body
		start -= 4 + n
		binary.LittleEndian.PutUint32(c.buf[start:], uint32(n))
		h := binary.PutUvarint(c.buf[start+4:], header)
		if c.nvals < c.rows {
			copy(c.buf[start+4+h:c.room], c.valid)
		} else {
			c.buf[start+4+h] = 1
		}
	}
	page := c.buf[start : c.room+8*c.nvals]

	c.pageStats.IncNulls(int64(c.rows - c.nvals))
	c.pageStats.IncNumValues(int64(c.nvals))
	if c.nvals > 0 {
		switch st := c.pageStats.(type) {
		case *metadata.Float64Statistics:
			st.SetMinMax(c.minF, c.maxF)
		case *metadata.Int64Statistics:
			st.SetMinMax(c.minI, c.maxI)
		}
	}
	stats, err := c.encodedStats(c.pageStats)
	if err != nil {
		return err
	}
	c.chunkStats.Merge(c.pageStats)
	c.pageStats.Reset()

	var alloc, data []byte
	if c.codec != nil {
		alloc = c.mem.Allocate(int(c.codec.CompressBound(int64(len(page)))))
		data = c.codec.EncodeLevel(alloc, page, c.level)
	} else {
		alloc = c.mem.Allocate(len(page))
		data = alloc
		copy(data, page)
	}
	c.pages = append(c.pages, plainPage{data: data, alloc: alloc, rows: int32(c.rows), uncompressed: int32(len(page)), stats: stats})
	c.chunkRows += int64(c.rows)
	c.resetPage()
	return nil
}

func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}

func (c *plainChunk) encodedStats(st metadata.TypedStatistics) (metadata.EncodedStatistics, error) {
	enc, err := st.Encode()
	if err != nil {
		return enc, err
	}
	enc.ApplyStatSizeLimits(c.maxStatsSize)
	enc.Signed = c.sorted
	return enc, nil
}

// writeTo writes the chunk's pages and its metadata to sink (at the
// chunk's place in the file), as arrow-go's page writer does.
func (c *plainChunk) writeTo(sink interface {
	Write([]byte) (int, error)
	Tell() int64
}, rowGroup, column int16) error {
	defer c.release()
	pager, err := file.NewPageWriter(sink, c.codecID, c.level, c.ccb, rowGroup, column, c.mem, false, nil, nil)
	if err != nil {
		return err
	}
	for _, p := range c.pages {
		dp := file.NewDataPageV1WithStats(memory.NewBufferBytes(p.data), p.rows, parquet.Encodings.Plain,
			parquet.Encodings.RLE, parquet.Encodings.RLE, p.uncompressed, p.stats)
		_, err := pager.WriteDataPage(dp)
		dp.Release()
		if err != nil {
			return err
		}
	}
	stats, err := c.encodedStats(c.chunkStats)
	if err != nil {
		return err
	}
	if c.chunkRows > 0 && stats.IsSet() {
		c.ccb.SetStats(stats)
	}
	return pager.Close(false, false)
}

// release frees the row group's pages.
func (c *plainChunk) release() {
	for _, p := range c.pages {
		c.mem.Free(p.alloc)
	}
	clear(c.pages)
	c.pages = c.pages[:0]
}
