package catalog

import (
	"bytes"
	"encoding/binary"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	pqschema "github.com/apache/arrow-go/v18/parquet/schema"
)

// Constant string column chunks written without arrow-go's column writer.
// A feature's name and id (and version, namespace, status) are one value
// in every row of its files. Through the column writer each batch cost n
// dictionary indices copied into the encoder and RLE-encoded at the
// close, and n definition levels (0.22 of the demo run's 3.6 CPU-s, the
// last pages' encoding more). The chunk arrow-go makes of them is known
// in advance: a dictionary page of the one value (PLAIN) and, as indices
// written through WriteDictIndices add nothing to the raw size by which
// a dictionary chunk's pages are cut, one data page (v2) whose definition
// levels are one RLE run of n 1s and whose values are the bit width (1)
// and one RLE run of n 0s, with the statistics fdag's writeDictionary
// gives it (min = max = the value). So such a chunk is written here from
// the value and the row count; TestFeatureFilesShareChunks checks the
// bytes equal arrow-go's.

// constantChunkable reports whether column j's chunks may be written as
// constants under fw's properties: a flat string column, dictionary on,
// v2 data pages, no cost fallback to PLAIN (compressed), statistics on,
// no bloom filter, page index or encryption.
func (fw *featureFileWriter) constantChunkable(j int) bool {
	descr := fw.pqSchema.Column(j)
	path := descr.Path()
	p := fw.props
	return fw.direct && !fw.isList[j] && fw.schema.Field(j).Type.ID() == arrow.STRING &&
		descr.PhysicalType() == parquet.Types.ByteArray && descr.MaxRepetitionLevel() == 0 && descr.MaxDefinitionLevel() <= 1 &&
		p.DictionaryEnabledFor(path) && p.DataPageVersion() == parquet.DataPageV2 && !p.DictionaryCostFallbackEnabledFor(path) &&
		p.StatisticsEnabledFor(path) && descr.SortOrder() != pqschema.SortUNKNOWN && !p.PageIndexEnabledFor(path) &&
		!p.BloomFilterEnabledFor(path) && p.FileEncryptionProperties() == nil && p.DataPageSize() > 0
}

// constantChunk is a chunk's batches while they are all one value.
type constantChunk struct {
	ok   int8 // 0 unknown, 1 chunkable, -1 not
	v    string
	rows int64
	arrs []arrow.Array // retained: written through arrow-go if a batch is not v
}

// take keeps arr in the constant chunk when it is the chunk's value (or
// the first batch, constant) and the value's dictionary fits.
func (c *chunkWriter) takeConstant(fw *featureFileWriter, arr arrow.Array) bool {
	k := &c.konstChunk
	if k.ok == 0 {
		k.ok = -1
		if fw.constantChunkable(c.j) {
			k.ok = 1
		}
	}
	a, isString := arr.(*array.String)
	if k.ok < 0 || !isString || a.Len() == 0 {
		return false
	}
	v, constant := c.konst.of(a)
	if !constant || len(k.arrs) > 0 && v != k.v || int64(4+len(v)) >= fw.props.DictionaryPageSizeLimit() {
		return false
	}
	if len(k.arrs) == 0 {
		k.v = strings.Clone(v)
	}
	arr.Retain()
	k.arrs = append(k.arrs, arr)
	k.rows += int64(a.Len())
	return true
}

// dropConstant ends the constant chunk: its batches are written the
// usual way from now on (returned, retained).
func (c *chunkWriter) dropConstant() []arrow.Array {
	arrs := c.konstChunk.arrs
	c.konstChunk = constantChunk{ok: -1}
	return arrs
}

func (c *chunkWriter) releaseConstant() {
	for _, a := range c.konstChunk.arrs {
		a.Release()
	}
	c.konstChunk.arrs = nil
}

// rleRun appends one RLE run of n copies of v (bit width at most 8).
func rleRun(b []byte, n int64, v byte) []byte {
	return append(binary.AppendUvarint(b, uint64(n)<<1), v)
}

// encodeConstant writes the constant chunk's pages as arrow-go's column
// writer would (a dictionary page, one data page v2).
func (c *chunkWriter) encodeConstant(fw *featureFileWriter) (*encodedChunk, error) {
	k := &c.konstChunk
	defer c.releaseConstant()
	if err := c.openPager(fw); err != nil {
		return nil, err
	}
	descr := fw.pqSchema.Column(c.j)
	path := descr.Path()
	mem := fw.props.Allocator()

	// statistics as writeDictionary takes them: the values counted, min
	// and max from the dictionary entry
	entry := stringArray(fw.mem, []string{k.v})
	defer entry.Release()
	pageStats := metadata.NewStatistics(descr, mem)
	pageStats.IncNumValues(k.rows)
	if err := pageStats.UpdateFromArrow(entry, false); err != nil {
		return nil, err
	}
	encode := func(st metadata.TypedStatistics) (metadata.EncodedStatistics, error) {
		enc, err := st.Encode()
		enc.ApplyStatSizeLimits(int(fw.props.MaxStatsSizeFor(path)))
		enc.Signed = descr.SortOrder() == pqschema.SortSIGNED
		return enc, err
	}
	pageEnc, err := encode(pageStats)
	if err != nil {
		return nil, err
	}
	chunkStats := metadata.NewStatistics(descr, mem)
	chunkStats.Merge(pageStats)
	chunkEnc, err := encode(chunkStats)
	if err != nil {
		return nil, err
	}

	// the dictionary page: the value PLAIN (its length, its bytes)
	dict := memory.NewResizableBuffer(mem)
	dict.Resize(4 + len(k.v))
	binary.LittleEndian.PutUint32(dict.Bytes(), uint32(len(k.v)))
	copy(dict.Bytes()[4:], k.v)
	dp := file.NewDictionaryPage(dict, 1, fw.props.DictionaryPageEncoding())
	_, err = c.pager.WriteDictionaryPage(dp)
	dict.Release()
	if err != nil {
		return nil, err
	}

	// the data page: levels (uncompressed in v2), then the values
	values := rleRun([]byte{1}, k.rows, 0)
	var page []byte
	if descr.MaxDefinitionLevel() > 0 {
		page = rleRun(page, k.rows, 1)
	}
	levels := len(page)
	if c.pager.HasCompressor() {
		page = append(page, c.pager.Compress(&bytes.Buffer{}, values)...)
	} else {
		page = append(page, values...)
	}
	data := file.NewDataPageV2WithConfig(memory.NewBufferBytes(page), int32(pageEnc.NullCount), int32(k.rows), int32(levels), 0,
		c.pager.HasCompressor(), file.DataPageConfig{Num: int32(k.rows), Encoding: fw.props.DictionaryIndexEncoding(),
			UncompressedSize: int32(levels + len(values)), Stats: pageEnc})
	_, err = c.pager.WriteDataPage(data)
	data.Release()
	if err != nil {
		return nil, err
	}
	if chunkEnc.IsSet() {
		c.meta.SetStats(chunkEnc)
	}
	if err := c.pager.Close(true, false); err != nil {
		return nil, err
	}
	fw.direct1.Add(1)
	return c.encoded(), nil
}
