package catalog

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/featuredag/fdag/internal/tableio"
)

// Column chunks encoded once for every feature. Each feature's file of a
// (write, day) holds the same timestamp, trade id, seq and symbol columns
// and the same status, processed time and null columns (slices of the
// same wide arrays, narrow.go): encoding and compressing them once per
// feature was most of a narrow write (the timestamp and trade-id pages'
// Snappy, the dictionary indices' RLE, levels and statistics of 13
// columns). So featureFile assembles its Parquet files itself from column
// chunks, each encoded by arrow-go's column writer into its own buffer,
// as arrow-go's buffered row group does, and placed in the file with its
// metadata shifted to where it lands. A chunk's identity is the sequence
// of array slices written to it (buffers, offset, length): a later file's
// chunk written from the same slices is not encoded again but gets the
// earlier chunk's bytes. The bytes are the same as encoding would make:
// a chunk's pages, statistics and dictionary depend only on the values
// written and the writer properties, which are the same for every file
// of a write.

// chunkBuffer is a column chunk's pages as arrow-go's page writer writes
// them (it asks where it is, Tell).
type chunkBuffer struct{ b []byte }

func (c *chunkBuffer) Write(p []byte) (int, error) { c.b = append(c.b, p...); return len(p), nil }
func (c *chunkBuffer) Tell() int64                 { return int64(len(c.b)) }

var chunkBuffers = sync.Pool{New: func() any { return &chunkBuffer{} }}

// chunkPager is arrow-go's page writer over a chunkBuffer that records
// what the chunk's metadata needs instead of finishing it: the chunk is
// placed in a file later (encodedChunk.place).
type chunkPager struct {
	file.PageWriter
	dictPages         int
	dictEnc, dataEnc  map[parquet.Encoding]int32
	hasDict, fallback bool
}

func (p *chunkPager) WriteDataPage(page file.DataPage) (int64, error) {
	n, err := p.PageWriter.WriteDataPage(page)
	if err == nil {
		p.dataEnc[parquet.Encoding(page.Encoding())]++
	}
	return n, err
}

func (p *chunkPager) WriteDictionaryPage(page *file.DictionaryPage) (int64, error) {
	n, err := p.PageWriter.WriteDictionaryPage(page)
	if err == nil {
		p.dictPages++
		p.dictEnc[parquet.Encoding(page.Encoding())]++
	}
	return n, err
}

func (p *chunkPager) Close(hasDict, fallback bool) error {
	p.hasDict, p.fallback = hasDict, fallback
	return nil
}

// pagerTotals are the serialized page writer's positions and sizes.
type pagerTotals interface {
	NumValues() int64
	DataPageoffset() int64
	TotalCompressedSize() int64
	TotalUncompressedSize() int64
}

// encodedChunk is a column chunk ready to be placed in a file: its pages
// and what its metadata needs, offsets relative to the pages' start.
type encodedChunk struct {
	buf               *chunkBuffer
	info              metadata.ChunkMetaInfo
	dictPage          bool
	hasDict, fallback bool
	enc               metadata.EncodingStats
	meta              *metadata.ColumnChunkMetaDataBuilder // the chunk's statistics
}

// place writes the chunk at pos of w and describes it in b, as arrow-go's
// buffered row group does: the pages, then the chunk's metadata.
func (c *encodedChunk) place(w io.Writer, pos int64, b *metadata.ColumnChunkMetaDataBuilder) (int64, error) {
	info := c.info
	info.DataPageOffset += pos
	info.DictPageOffset = 0
	if c.dictPage {
		info.DictPageOffset = c.info.DictPageOffset + pos
	}
	// read-only once encoded, so files may share it
	b.Contents().MetaData.Statistics = c.meta.Contents().MetaData.Statistics
	if err := b.Finish(info, c.hasDict, c.fallback, c.enc); err != nil {
		return 0, err
	}
	n, err := w.Write(c.buf.b)
	if err != nil {
		return int64(n), err
	}
	cw := &tableio.TellWriter{W: w}
	_, err = b.WriteTo(cw)
	return int64(n) + cw.N, err
}

// sliceID identifies the values of an array slice: its buffers (and its
// children's), offset and length. The buffers are retained while the
// identity is kept, so their addresses are not reused.
type sliceID struct {
	bufs           []*memory.Buffer
	offset, length int
}

func identOf(a arrow.Array) sliceID {
	d := a.Data()
	id := sliceID{offset: d.Offset(), length: d.Len()}
	var add func(arrow.ArrayData)
	add = func(d arrow.ArrayData) {
		id.bufs = append(id.bufs, d.Buffers()...)
		for _, c := range d.Children() {
			add(c)
		}
	}
	add(d)
	return id
}

func (s sliceID) equal(o sliceID) bool {
	return s.offset == o.offset && s.length == o.length && slices.Equal(s.bufs, o.bufs)
}

func (s sliceID) retain() sliceID {
	for _, b := range s.bufs {
		if b != nil {
			b.Retain()
		}
	}
	return s
}

func (s sliceID) release() {
	for _, b := range s.bufs {
		if b != nil {
			b.Release()
		}
	}
}

// sharedChunk is a column chunk other files may reuse: the slices it was
// written from and, once its file's row group closed, its encoding.
type sharedChunk struct {
	col   int
	ident []sliceID // final once sealed
	// sealed: no slice is added any more (its row group took its last
	// batch); only a sealed chunk is matched
	sealed bool
	used   int // the last feature (featureFileWriter.feature) it served
	done   chan struct{}
	once   sync.Once
	chunk  *encodedChunk
	err    error
}

func (s *sharedChunk) resolve(c *encodedChunk, err error) {
	s.once.Do(func() {
		s.chunk, s.err = c, err
		close(s.done)
	})
}

// chunkCache holds the shareable chunks the last chunkFeatures features
// used: features come one after the other over the same wide rows, so a
// feature's files reuse the chunks of the feature before (or the one
// before that, past an error feature's rows), and a chunk none of them
// used is dropped (its bytes go with the last file using it). In a run of
// features the same chunks serve all of them: the cache holds about one
// feature's shared chunks, encoded.
type chunkCache struct {
	mu     sync.Mutex
	chunks []*sharedChunk
	hits   int // chunks reused, for tests
}

// lookup returns the sealed chunk of column col whose first slice is id.
func (c *chunkCache) lookup(col int, id sliceID, feature int) *sharedChunk {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.chunks {
		if s.col == col && s.sealed && len(s.ident) > 0 && s.ident[0].equal(id) {
			s.used = feature
			return s
		}
	}
	return nil
}

// chunkFeatures is how many features' chunks the cache keeps.
const chunkFeatures = 3

func (c *chunkCache) add(col, feature int) *sharedChunk {
	s := &sharedChunk{col: col, used: feature, done: make(chan struct{})}
	c.mu.Lock()
	c.chunks = append(c.chunks, s)
	c.mu.Unlock()
	return s
}

func (c *chunkCache) seal(s *sharedChunk) {
	c.mu.Lock()
	s.sealed = true
	c.mu.Unlock()
}

func (c *chunkCache) hit() {
	c.mu.Lock()
	c.hits++
	c.mu.Unlock()
}

// drop forgets the chunks last used before feature since.
func (c *chunkCache) drop(since int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.chunks = slices.DeleteFunc(c.chunks, func(s *sharedChunk) bool {
		if s.used >= since {
			return false
		}
		for _, id := range s.ident {
			id.release()
		}
		return true
	})
}

// chunkWriter writes one column chunk of a row group: either it follows
// a shared chunk (its batches are the same slices, deferred, not
// encoded) or it encodes its batches with arrow-go's column writer.
type chunkWriter struct {
	j, rowGroup int
	cw          file.ColumnChunkWriter // nil until the chunk is encoded
	pager       *chunkPager
	sink        *chunkBuffer
	meta        *metadata.ColumnChunkMetaDataBuilder
	actx        context.Context
	dict        chunkDictionary
	konst       knownConstant
	scratch     []int32
	follow      *sharedChunk  // the chunk this one has followed so far
	deferred    []arrow.Array // retained, written only if it stops following
	store       *sharedChunk  // this chunk, for files to come
	konstChunk  constantChunk // its batches while one value (constchunk.go)
}

// admit decides for a batch of the chunk: true when it is deferred (the
// chunk still follows a shared chunk's slices); false when the caller
// writes it (write).
func (c *chunkWriter) admit(fw *featureFileWriter, arr arrow.Array) bool {
	if !fw.share {
		return false
	}
	id := identOf(arr)
	if c.cw == nil && c.follow == nil && c.store == nil {
		if s := fw.chunks.lookup(c.j, id, fw.feature); s != nil {
			c.follow = s
		} else if c.j != fw.valueCol {
			// every column but the feature's values may be shared
			c.store = fw.chunks.add(c.j, fw.feature)
		}
	}
	if c.follow != nil {
		if k := len(c.deferred); k < len(c.follow.ident) && c.follow.ident[k].equal(id) {
			arr.Retain()
			c.deferred = append(c.deferred, arr)
			return true
		}
		c.follow = nil // another slice: encode what was deferred, then arr
	}
	if c.store != nil {
		c.store.ident = append(c.store.ident, id.retain())
	}
	return false
}

// open starts the chunk's column writer.
func (c *chunkWriter) open(fw *featureFileWriter, ctx context.Context) error {
	if err := c.openPager(fw); err != nil {
		return err
	}
	c.cw = file.NewColumnChunkWriter(c.meta, c.pager, fw.props)
	c.actx = pqarrow.NewArrowWriteContext(ctx, &fw.arrProps)
	return nil
}

// openPager starts the chunk's metadata and page writer.
func (c *chunkWriter) openPager(fw *featureFileWriter) error {
	descr := fw.pqSchema.Column(c.j)
	c.meta = metadata.NewColumnChunkMetaDataBuilder(fw.props, descr)
	c.sink = chunkBuffers.Get().(*chunkBuffer)
	c.sink.b = c.sink.b[:0]
	path := descr.Path()
	pw, err := file.NewPageWriter(c.sink, fw.props.CompressionFor(path), fw.props.CompressionLevelFor(path), c.meta,
		int16(c.rowGroup), int16(c.j), fw.props.Allocator(), false, nil, nil)
	if err != nil {
		return err
	}
	c.pager = &chunkPager{PageWriter: pw, dictEnc: map[parquet.Encoding]int32{}, dataEnc: map[parquet.Encoding]int32{}}
	return nil
}

// write encodes arr, after the batches deferred so far.
func (c *chunkWriter) write(fw *featureFileWriter, ctx context.Context, arr arrow.Array, ones, zeros []int16) error {
	for len(c.deferred) > 0 {
		d := c.deferred[0]
		c.deferred = c.deferred[1:]
		lo, z := fw.shared.levels(d.Len())
		err := c.put(fw, ctx, d, lo, z)
		d.Release()
		if err != nil {
			return err
		}
	}
	if arr == nil {
		return nil
	}
	return c.put(fw, ctx, arr, ones, zeros)
}

// put writes arr to the chunk: kept as part of a constant chunk while it
// is one (constchunk.go), else encoded by the column writer, after the
// constant batches so far.
func (c *chunkWriter) put(fw *featureFileWriter, ctx context.Context, arr arrow.Array, ones, zeros []int16) error {
	if c.cw == nil {
		if c.takeConstant(fw, arr) {
			return nil
		}
		if err := c.open(fw, ctx); err != nil {
			return err
		}
		for _, a := range c.dropConstant() {
			lo, z := fw.shared.levels(a.Len())
			err := c.writeColumn(fw, a, lo, z)
			a.Release()
			if err != nil {
				return err
			}
		}
	}
	return c.writeColumn(fw, arr, ones, zeros)
}

// finish returns the chunk's encoding: the shared chunk's when this one
// followed all of it, else its own (the deferred batches written first).
// shared: the encoding serves other files too (followed or stored).
func (c *chunkWriter) finish(fw *featureFileWriter, ctx context.Context) (enc *encodedChunk, shared bool, err error) {
	if s := c.follow; s != nil && len(c.deferred) == len(s.ident) {
		<-s.done
		if s.err == nil {
			c.releaseDeferred()
			fw.chunks.hit()
			return s.chunk, true, nil
		}
		// its file failed: encode this one's own batches
	}
	enc, err = c.encode(fw, ctx)
	if c.store != nil {
		c.store.resolve(enc, err)
	}
	return enc, c.store != nil, err
}

func (c *chunkWriter) encode(fw *featureFileWriter, ctx context.Context) (*encodedChunk, error) {
	if err := c.write(fw, ctx, nil, nil, nil); err != nil {
		return nil, err
	}
	if c.cw == nil && len(c.konstChunk.arrs) > 0 {
		return c.encodeConstant(fw)
	}
	if c.cw == nil { // no batch: an empty chunk
		if err := c.open(fw, ctx); err != nil {
			return nil, err
		}
	}
	err := c.cw.Close()
	c.dict.release()
	if err != nil {
		return nil, err
	}
	return c.encoded(), nil
}

// encoded is the chunk's pages and metadata, its page writer closed.
func (c *chunkWriter) encoded() *encodedChunk {
	t := c.pager.PageWriter.(pagerTotals)
	enc := &encodedChunk{buf: c.sink, dictPage: c.pager.dictPages > 0, hasDict: c.pager.hasDict, fallback: c.pager.fallback,
		enc: metadata.EncodingStats{DictEncodingStats: c.pager.dictEnc, DataEncodingStats: c.pager.dataEnc}, meta: c.meta,
		info: metadata.ChunkMetaInfo{NumValues: t.NumValues(), IndexPageOffset: -1, DataPageOffset: t.DataPageoffset(),
			CompressedSize: t.TotalCompressedSize(), UncompressedSize: t.TotalUncompressedSize()}}
	c.sink = nil
	return enc
}

func (c *chunkWriter) releaseDeferred() {
	for _, d := range c.deferred {
		d.Release()
	}
	c.deferred = nil
}

// release drops what the chunk holds; a shared chunk it was to be is
// resolved with err (files waiting for it encode their own).
func (c *chunkWriter) release(err error) {
	c.releaseDeferred()
	c.releaseConstant()
	c.konst.release()
	c.dict.release()
	if c.store != nil {
		if err == nil {
			err = errors.New("column chunk not written")
		}
		c.store.resolve(nil, err)
	}
	if c.sink != nil {
		chunkBuffers.Put(c.sink)
		c.sink = nil
	}
}

// rowGroup is a file's row group being written.
type rowGroup struct {
	ordinal int
	rows    int64
	cols    []*chunkWriter
}

// close encodes what the row group's chunks still need and places them in
// the file, with the row group's metadata.
func (rg *rowGroup) close(fw *featureFileWriter, f *featureFile) error {
	var err error
	defer func() {
		for _, c := range rg.cols {
			c.release(err)
		}
	}()
	chunks := make([]*encodedChunk, len(rg.cols))
	shared := make([]bool, len(rg.cols))
	for j, c := range rg.cols {
		if chunks[j], shared[j], err = c.finish(fw, f.ctx); err != nil {
			return err
		}
	}
	rgb := f.fmb.AppendRowGroup()
	for j, ch := range chunks {
		var n int64
		n, err = ch.place(f.buf, f.pos, rgb.NextColumnChunk())
		f.pos += n
		if err != nil {
			return err
		}
		if !shared[j] { // its buffer serves the next chunk
			chunkBuffers.Put(ch.buf)
		}
	}
	rgb.SetNumRows(int(rg.rows))
	err = rgb.Finish(0, int16(rg.ordinal))
	return err
}

// parquetMagic starts and ends a Parquet file.
var parquetMagic = []byte("PAR1")

// writeFooter ends a file: its metadata, the metadata's length, the magic.
func writeFooter(w io.Writer, fmb *metadata.FileMetaDataBuilder) error {
	md, err := fmb.Finish()
	if err != nil {
		return err
	}
	n, err := md.WriteTo(w, nil)
	if err != nil {
		return err
	}
	if err := binary.Write(w, binary.LittleEndian, uint32(n)); err != nil {
		return err
	}
	_, err = w.Write(parquetMagic)
	return err
}
