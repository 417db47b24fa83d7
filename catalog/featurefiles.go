package catalog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	pqschema "github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/featuredag/fdag/internal/tableio"
)

// fdag writes ft_features' data files itself. iceberg-go's writer
// (table.WriteRecords) computes every row's partition key, splits each
// batch per partition and dictionary-hashes every value of the six string
// columns, which within one (feature, day) file are constant (feature
// name, version, id, namespace, status) or nearly so (symbol): that was
// 60% of a narrow write's CPU (bench/README.md, "Writing Parquet"). Narrow
// batches come one feature at a time in time order (WideToNarrow), so a
// partition is a run of consecutive rows: the writer cuts each batch at
// the rows where the feature or the day changes, writes each run to its
// partition's file, and hands a column that is constant over a batch to
// Parquet as a one-entry dictionary with all-zero indices (no hashing; its
// statistics come from the dictionary). The column chunks of a batch are
// encoded concurrently, and a chunk of the same wide slices as a chunk of
// the previous feature's file (timestamp, trade id, seq, symbol, status,
// ...) is not encoded again but copied (narrowchunks.go). A finished file becomes an iceberg.DataFile from
// its footer (table.FileToDataFile: the same statistics and partition
// inference as iceberg-go's own writer), named and placed as iceberg-go
// names them (data/feature_name=X/timestamp_day=D/PART-TASK-UUID-COUNT
// .parquet), so RunOfFile and gc read the names as before.

// featurePartitioned reports whether tbl is partitioned as fdag creates
// ft_features, identity(feature_name) then day(timestamp): the layout
// featureFileWriter writes. Another spec (a table evolved by hand) goes
// through iceberg-go's writer.
func featurePartitioned(tbl *table.Table) bool {
	spec, sc := tbl.Spec(), tbl.Schema()
	var fields []iceberg.PartitionField
	for _, f := range spec.Fields() {
		fields = append(fields, f)
	}
	if len(fields) != 2 {
		return false
	}
	name, ok1 := sc.FindFieldByName("feature_name")
	ts, ok2 := sc.FindFieldByName(ColTimestamp)
	_, id := fields[0].Transform.(iceberg.IdentityTransform)
	_, day := fields[1].Transform.(iceberg.DayTransform)
	return ok1 && ok2 && id && day && fields[0].SourceID() == name.ID && fields[1].SourceID() == ts.ID
}

// featureFileWriter writes narrow batches (the table's Arrow schema) as
// one Parquet file per (feature, day) run.
type featureFileWriter struct {
	tbl      *table.Table
	describe iceberg.Properties // of FileToDataFile
	schema   *arrow.Schema
	fs       iceio.WriteFileIO
	props    *parquet.WriterProperties
	arrProps pqarrow.ArrowWriterProperties
	pqSchema *pqschema.Schema
	meta     metadata.KeyValueMetadata
	mem      memory.Allocator
	uuid     uuid.UUID
	workers  int
	// nameCol, tsCol: the partition source columns; valueCol: the
	// feature's values (never shared between files); isList: the list
	// columns (feature_value_array), written as nulls.
	nameCol, tsCol, valueCol int
	isList                   []bool
	// feature counts the features begun; chunks are the column chunks
	// files of the next feature may reuse (narrowchunks.go)
	feature int
	chunks  chunkCache
	share   bool          // reuse chunks (off only in tests, to compare)
	direct  bool          // write constant string chunks directly (constchunk.go; off only in tests)
	direct1 atomic.Int64  // chunks written so, for tests
	names   knownConstant // the feature names of the last batch

	open    map[featurePartition]*featureFile
	order   []featurePartition // open's keys, in order of opening
	closed  []*closedFile      // files finished, in order
	closing chan struct{}      // a slot per file closing in the background
	wg      sync.WaitGroup     // the closing goroutines
	files   int                // files opened, for names
	parts   map[featurePartition]int
	shared  sharedLevels
}

// featurePartition is one file's partition: a feature name and a day
// (days since the epoch, UTC).
type featurePartition struct {
	name string
	day  int32
}

const microsPerDay = 86_400_000_000

// dayRange is a partition's day as its first microsecond, to tell the
// times in it without dayOf's division per row.
type dayRange struct {
	day   int32
	start int64
	exact bool // start did not overflow (it does at the ends of int64)
}

func (p featurePartition) days() dayRange {
	start := int64(p.day) * microsPerDay
	return dayRange{p.day, start, start/microsPerDay == int64(p.day)}
}

func (r dayRange) holds(micros int64) bool {
	if !r.exact {
		return dayOf(micros) == r.day
	}
	d := micros - r.start // negative when it overflows
	return micros >= r.start && d >= 0 && d < microsPerDay
}

func dayOf(micros int64) int32 {
	d := micros / microsPerDay
	if micros%microsPerDay < 0 {
		d--
	}
	return int32(d)
}

func newFeatureFileWriter(ctx context.Context, tbl *table.Table, schema *arrow.Schema, id uuid.UUID, mem memory.Allocator) (*featureFileWriter, error) {
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	wfs, ok := fsys.(iceio.WriteFileIO)
	if !ok {
		return nil, fmt.Errorf("the file system of %s cannot write", tbl.Location())
	}
	// The Parquet writer's own buffers (pages, column-chunk sinks) come
	// from a recycler: each file allocates the same ones, and fresh Go
	// memory is zeroed (10% of BenchmarkWriteFeatures).
	props, err := parquetWriteProperties(tbl.Properties(), tableio.NewRecycler())
	if err != nil {
		return nil, err
	}
	arrProps := pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem), pqarrow.WithStoreSchema())
	pqs, err := pqarrow.ToParquet(schema, props, arrProps)
	if err != nil {
		return nil, fmt.Errorf("parquet schema: %w", err)
	}
	meta := make(metadata.KeyValueMetadata, 0, schema.Metadata().Len()+1)
	for i, k := range schema.Metadata().Keys() {
		meta.Append(k, schema.Metadata().Values()[i])
	}
	// As pqarrow.WithStoreSchema: the table's Arrow schema, whose list
	// element is already named "element" as in the Parquet schema.
	meta.Append("ARROW:schema", base64.StdEncoding.EncodeToString(flight.SerializeSchema(schema, mem)))
	// The files' statistics as the table's properties ask, with fdag's
	// full bounds for the delete's columns on a table created before
	// featureWriteProperties had them (unless the table says otherwise).
	describe := maps.Clone(tbl.Properties())
	for k, v := range featureWriteProperties {
		if _, set := describe[k]; !set && strings.HasPrefix(k, metricsModeKey) {
			describe[k] = v
		}
	}
	fw := &featureFileWriter{tbl: tbl, describe: describe, schema: schema, fs: wfs, props: props, arrProps: arrProps,
		pqSchema: pqs, meta: meta, mem: mem, uuid: id, workers: runtime.GOMAXPROCS(0),
		nameCol: -1, tsCol: -1, valueCol: -1, share: true, direct: true, isList: make([]bool, schema.NumFields()),
		open: map[featurePartition]*featureFile{}, parts: map[featurePartition]int{}, closing: make(chan struct{}, runtime.GOMAXPROCS(0))}
	for j, f := range schema.Fields() {
		switch f.Name {
		case "feature_name":
			fw.nameCol = j
		case ColTimestamp:
			fw.tsCol = j
		case "feature_value_numeric":
			fw.valueCol = j
		}
		switch f.Type.ID() {
		case arrow.LIST:
			fw.isList[j] = true
		case arrow.STRUCT, arrow.MAP, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST:
			return nil, fmt.Errorf("column %s: %s is not written by the narrow writer", f.Name, f.Type)
		}
	}
	if fw.nameCol < 0 || fw.tsCol < 0 {
		return nil, fmt.Errorf("table %s lacks feature_name or %s", FeaturesTable, ColTimestamp)
	}
	return fw, nil
}

// parquetWriteProperties are the Parquet writer properties iceberg-go
// derives from a table's properties (write.parquet.*: codec and level,
// row group, page and dictionary sizes, page version, dictionary per
// column), so a file fdag writes is encoded as iceberg-go's would be.
func parquetWriteProperties(p iceberg.Properties, mem memory.Allocator) (*parquet.WriterProperties, error) {
	codecs := map[string]compress.Compression{
		"snappy": compress.Codecs.Snappy, "zstd": compress.Codecs.Zstd, "uncompressed": compress.Codecs.Uncompressed,
		"gzip": compress.Codecs.Gzip, "brotli": compress.Codecs.Brotli, "lz4": compress.Codecs.Lz4, "lz4raw": compress.Codecs.Lz4Raw,
	}
	name := p.Get(table.ParquetCompressionKey, table.ParquetCompressionDefault)
	codec, ok := codecs[name]
	if !ok {
		return nil, fmt.Errorf("table property %s=%q: unknown codec", table.ParquetCompressionKey, name)
	}
	version := parquet.DataPageV2
	if p.Get(table.ParquetPageVersionKey, table.ParquetPageVersionDefault) == "1" {
		version = parquet.DataPageV1
	}
	opts := []parquet.WriterProperty{
		parquet.WithAllocator(mem),
		parquet.WithMaxRowGroupLength(int64(p.GetInt(table.ParquetRowGroupLimitKey, table.ParquetRowGroupLimitDefault))),
		parquet.WithDataPageSize(int64(p.GetInt(table.ParquetPageSizeBytesKey, table.ParquetPageSizeBytesDefault))),
		parquet.WithDataPageVersion(version),
		parquet.WithBatchSize(int64(p.GetInt(table.ParquetPageRowLimitKey, table.ParquetPageRowLimitDefault))),
		parquet.WithDictionaryPageSizeLimit(int64(p.GetInt(table.ParquetDictSizeBytesKey, table.ParquetDictSizeBytesDefault))),
		parquet.WithCompression(codec),
		parquet.WithCompressionLevel(p.GetInt(table.ParquetCompressionLevelKey, table.ParquetCompressionLevelDefault)),
		parquet.WithDictionaryDefault(!strings.EqualFold(p.Get("parquet.enable.dictionary", "true"), "false")),
	}
	const perColumn = "write.parquet.dict-encoding-enabled.column."
	for k, v := range p {
		if col, ok := strings.CutPrefix(k, perColumn); ok && col != "" {
			opts = append(opts, parquet.WithDictionaryFor(col, strings.EqualFold(v, "true")))
		}
	}
	return parquet.NewWriterProperties(opts...), nil
}

// write appends rec's rows to their partitions' files. Files of an
// earlier feature are finished when a new feature begins (the batches
// come feature by feature), so a write holds one feature's days open.
func (fw *featureFileWriter) write(ctx context.Context, rec arrow.RecordBatch) error {
	names, ok := rec.Column(fw.nameCol).(*array.String)
	if !ok {
		return fmt.Errorf("feature_name is %s, want string", rec.Column(fw.nameCol).DataType())
	}
	times, ok := rec.Column(fw.tsCol).(*array.Timestamp)
	if !ok {
		return fmt.Errorf("%s is %s, want timestamp", ColTimestamp, rec.Column(fw.tsCol).DataType())
	}
	if names.NullN() > 0 || times.NullN() > 0 {
		return fmt.Errorf("a narrow row without feature_name or %s", ColTimestamp)
	}
	n := int(rec.NumRows())
	// a batch of one feature (the usual one: its name column is one of
	// WideToNarrow's constants) is cut at days only
	_, oneName := fw.names.of(names)
	ts := times.Values()
	for lo := 0; lo < n; {
		key := featurePartition{names.Value(lo), dayOf(int64(ts[lo]))}
		day := key.days()
		hi := lo + 1
		for hi < n && (oneName || names.Value(hi) == key.name) && day.holds(int64(ts[hi])) {
			hi++
		}
		f, err := fw.file(ctx, key)
		if err != nil {
			return err
		}
		part := rec
		if lo > 0 || hi < n {
			part = rec.NewSlice(int64(lo), int64(hi))
		}
		err = f.write(fw, part)
		if part != rec {
			part.Release()
		}
		if err != nil {
			return fmt.Errorf("file %s: %w", f.path, err)
		}
		lo = hi
	}
	return nil
}

// file returns the open file of key, finishing the files of other
// features first.
func (fw *featureFileWriter) file(ctx context.Context, key featurePartition) (*featureFile, error) {
	if f := fw.open[key]; f != nil {
		return f, nil
	}
	if len(fw.order) > 0 && fw.order[0].name != key.name {
		fw.finish(ctx)
		fw.feature++
		// the next feature reuses the chunks of the ones just finished
		// (an error feature's rows, between two others, share none)
		fw.chunks.drop(fw.feature - chunkFeatures)
	}
	part, ok := fw.parts[key]
	if !ok {
		part = len(fw.parts)
		fw.parts[key] = part
	}
	spec := fw.tbl.Spec()
	dir := spec.PartitionToPath(partitionRecord{key.name, iceberg.Date(key.day)}, fw.tbl.Schema())
	loc, err := dataLocation(fw.tbl, dir)
	if err != nil {
		return nil, err
	}
	// iceberg-go's data file name: PARTITION-TASK-UUID-COUNT.parquet
	path := loc.NewDataLocation(fmt.Sprintf("%05d-%d-%s-%05d.parquet", part, fw.files, fw.uuid, 0))
	fw.files++
	sink, err := fw.fs.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	// Buffered: the row group's close writes each column chunk's pages
	// and metadata separately.
	buf := sinkBuffers.Get().(*bufio.Writer)
	buf.Reset(sink)
	f := &featureFile{path: path, sink: sink, buf: buf, ctx: ctx,
		fmb: metadata.NewFileMetadataBuilder(fw.pqSchema, fw.props, fw.meta)}
	if _, err := buf.Write(parquetMagic); err != nil {
		f.close(fw)
		fw.fs.Remove(path)
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	f.pos = int64(len(parquetMagic))
	fw.open[key] = f
	fw.order = append(fw.order, key)
	return f, nil
}

// dataLocation is where iceberg-go puts the data files of partition path
// dir: the table's data directory under dir, through the table's
// location provider (which may add a hash prefix for object stores).
func dataLocation(tbl *table.Table, dir string) (table.LocationProvider, error) {
	props := iceberg.Properties{}
	for k, v := range tbl.Properties() {
		props[k] = v
	}
	root := strings.TrimSuffix(tbl.Location(), "/")
	props[table.WriteDataPathKey] = root + "/data/" + dir
	return table.LoadLocationProvider(tbl.Location(), props)
}

// sinkBuffers are the files' write buffers.
var sinkBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 1<<20) }}

// partitionRecord is a partition tuple as iceberg.StructLike.
type partitionRecord []any

func (r partitionRecord) Size() int        { return len(r) }
func (r partitionRecord) Get(i int) any    { return r[i] }
func (r partitionRecord) Set(i int, v any) { r[i] = v }

// finish closes the open files in the background, at most fw.workers at
// a time: a file's pages are encoded and compressed when its row group
// closes (a dictionary chunk's pages wait for the dictionary), so closing
// one feature's files overlaps writing the next feature. Each closed file
// is described from its footer (table.FileToDataFile) by the same
// goroutine.
func (fw *featureFileWriter) finish(ctx context.Context) {
	for _, key := range fw.order {
		f := fw.open[key]
		delete(fw.open, key)
		f.seal(fw)
		c := &closedFile{path: f.path, key: key}
		fw.closed = append(fw.closed, c)
		fw.closing <- struct{}{}
		fw.wg.Go(func() {
			defer func() { <-fw.closing }()
			if c.err = f.close(fw); c.err != nil {
				return
			}
			c.file, c.err = table.FileToDataFile(ctx, fw.fs, c.path, fw.tbl.Schema(), fw.tbl.Spec(), 0, fw.describe)
			if c.err == nil {
				c.err = fw.checkPartition(c.file, c.key)
			}
		})
	}
	fw.order = fw.order[:0]
}

// checkPartition verifies the partition FileToDataFile inferred from the
// file's bounds (a table whose metrics mode for feature_name or timestamp
// keeps no bounds would leave it null).
func (fw *featureFileWriter) checkPartition(df iceberg.DataFile, key featurePartition) error {
	var ids []int
	spec := fw.tbl.Spec()
	for _, f := range spec.Fields() {
		ids = append(ids, f.FieldID)
	}
	got := df.Partition()
	name, _ := got[ids[0]].(string)
	var day int64 = math.MinInt64
	switch d := got[ids[1]].(type) {
	case iceberg.Date:
		day = int64(d)
	case int32:
		day = int64(d)
	}
	if name != key.name || day != int64(key.day) {
		return fmt.Errorf("partition %v inferred from the file's bounds, want feature_name=%s, day %d (does the table keep bounds of feature_name and %s?)",
			got, key.name, key.day, ColTimestamp)
	}
	return nil
}

// release drops what the writer retained of the batches.
func (fw *featureFileWriter) release() {
	fw.shared.release()
	fw.names.release()
	fw.chunks.drop(math.MaxInt)
}

// closedFile is a file finish closed: its description or the error.
type closedFile struct {
	key  featurePartition
	path string
	file iceberg.DataFile
	err  error
}

// abort closes and removes every file written so far.
func (fw *featureFileWriter) abort(ctx context.Context) {
	fw.finish(context.WithoutCancel(ctx))
	fw.wg.Wait()
	for _, c := range fw.closed {
		fw.fs.Remove(c.path)
	}
	fw.closed = nil
	fw.release()
}

// dataFiles finishes the files and returns their descriptions for a
// commit.
func (fw *featureFileWriter) dataFiles(ctx context.Context) ([]iceberg.DataFile, error) {
	fw.finish(ctx)
	fw.wg.Wait()
	fw.release()
	out := make([]iceberg.DataFile, 0, len(fw.closed))
	var errs []error
	for _, c := range fw.closed {
		if c.err != nil {
			errs = append(errs, fmt.Errorf("file %s: %w", c.path, c.err))
		}
		out = append(out, c.file)
	}
	return out, errors.Join(errs...)
}

// featureFile is one data file being written: one row group at a time,
// its columns written concurrently, assembled from column chunks
// (narrowchunks.go).
type featureFile struct {
	path   string
	sink   io.WriteCloser
	buf    *bufio.Writer // over sink
	pos    int64         // bytes written to buf
	ctx    context.Context
	fmb    *metadata.FileMetaDataBuilder
	rg     *rowGroup // the current one
	groups int       // row groups begun
}

// write appends rec to the current row group, starting a new one first
// when it holds the table's row-group limit (so a row group may pass the
// limit by less than one batch). Its columns are written concurrently,
// fw.workers at a time; a column that follows a chunk of an earlier
// file is not written at all.
func (f *featureFile) write(fw *featureFileWriter, rec arrow.RecordBatch) error {
	if f.rg != nil && f.rg.rows >= fw.props.MaxRowGroupLength() {
		f.seal(fw)
		if err := f.closeRowGroup(fw); err != nil {
			return err
		}
	}
	if f.rg == nil {
		f.rg = &rowGroup{ordinal: f.groups, cols: make([]*chunkWriter, len(fw.isList))}
		for j := range f.rg.cols {
			f.rg.cols[j] = &chunkWriter{j: j, rowGroup: f.groups}
		}
		f.groups++
	}
	ones, zeros := fw.shared.levels(int(rec.NumRows()))
	var g errgroup.Group
	g.SetLimit(fw.workers)
	for j, col := range rec.Columns() {
		c := f.rg.cols[j]
		if c.admit(fw, col) {
			continue
		}
		g.Go(func() error {
			if err := c.write(fw, f.ctx, col, ones, zeros); err != nil {
				return fmt.Errorf("column %s: %w", fw.schema.Field(j).Name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	f.rg.rows += rec.NumRows()
	return nil
}

// seal ends the slices of the current row group's shared chunks: from
// now on files may follow them.
func (f *featureFile) seal(fw *featureFileWriter) {
	if f.rg == nil {
		return
	}
	for _, c := range f.rg.cols {
		if c.store != nil {
			fw.chunks.seal(c.store)
		}
	}
}

func (c *chunkWriter) writeColumn(fw *featureFileWriter, arr arrow.Array, ones, zeros []int16) error {
	j, cw := c.j, c.cw
	n := arr.Len()
	if fw.isList[j] {
		// fdag has no vector features yet: the list column is all null,
		// written as levels only (definition 0: a null list).
		if arr.NullN() != n {
			return errors.New("list values are not written by the narrow writer (every row must be null)")
		}
		leaf, ok := cw.(*file.Float64ColumnChunkWriter)
		if !ok {
			return fmt.Errorf("list of %T is not written by the narrow writer", cw)
		}
		_, err := leaf.WriteBatch(nil, zeros, zeros)
		return err
	}
	var def []int16
	switch nulls := arr.NullN(); {
	case nulls == 0:
		def = ones
	case nulls == n:
		def = zeros
	default:
		def = make([]int16, n)
		for i := range def {
			if arr.IsValid(i) {
				def[i] = 1
			}
		}
	}
	if !fw.schema.Field(j).Nullable {
		def = nil
	}
	if done, err := c.writeDictionary(fw, arr, def); done || err != nil {
		return err
	}
	return pqarrow.WriteArrowToColumn(c.actx, cw, arr, def, nil, fw.schema.Field(j).Nullable)
}

// maxChunkDictionary is the most entries a column chunk's dictionary
// gets from its first batch (the distinct symbols of a multi-symbol
// write; one for the constant columns).
const maxChunkDictionary = 256

// chunkDictionary is a column chunk's dictionary as fdag put it: its
// values (string or int64) and as an Arrow array.
type chunkDictionary struct {
	strs  []string
	ints  []int64
	arr   arrow.Array
	int32 bool // ints are of an int32 column
	dense bool // the chunk is written without it from now on
}

// writeDictionary writes a column without hashing its values when they
// take few distinct values (the symbol; the feature's constant name,
// version, id, namespace, status, processed time): the first batch of a
// column chunk fixes the chunk's dictionary, each batch is written as
// indices into it (WriteDictIndices), and its statistics come from the
// dictionary entries it uses. pqarrow's own dictionary-array path would
// hash every index again for the statistics. false: write arr as it is
// (nulls, too many values, a value the chunk's dictionary lacks,
// dictionary encoding off or fallen back to plain).
func (c *chunkWriter) writeDictionary(fw *featureFileWriter, arr arrow.Array, def []int16) (bool, error) {
	d, cw := &c.dict, c.cw
	n := arr.Len()
	enc, ok := cw.CurrentEncoder().(tableio.DictionaryEncoder)
	if d.dense || !ok || n == 0 || arr.NullN() > 0 ||
		(enc.Encoding() != parquet.Encodings.PlainDict && enc.Encoding() != parquet.Encodings.RLEDict) {
		d.dense = true
		return false, nil
	}
	first := d.arr == nil
	if first && enc.NumEntries() > 0 {
		d.dense = true
		return false, nil
	}
	if cap(c.scratch) < n {
		c.scratch = make([]int32, n)
	}
	idx := c.scratch[:n]
	var used []int32 // dictionary entries referenced, in order of first use
	switch a := arr.(type) {
	case *array.String:
		if v, constant := c.konst.of(a); constant && (first || len(d.strs) > 0 && d.strs[0] == v) {
			if first {
				d.strs = []string{strings.Clone(v)}
			}
			idx, used = fw.shared.zeroIndices(n), []int32{0}
		} else if memo, dict, hit := fw.shared.memo.indices(a); hit && (first || isPrefix(d.strs, dict)) {
			if first {
				d.strs = slices.Clone(dict)
			}
			idx, used = memo, usedEntries(memo, len(d.strs))
			ok = used != nil
		} else {
			used, ok = dictIndices(a.Value, strings.Clone, &d.strs, first, idx)
		}
	case *array.Timestamp:
		if vs := a.Values(); allEqual(vs) && (first || len(d.ints) > 0 && d.ints[0] == int64(vs[0])) {
			// processed_time: one value in every row
			if first {
				d.ints = []int64{int64(vs[0])}
			}
			idx, used = fw.shared.zeroIndices(n), []int32{0}
			break
		}
		used, ok = dictIndices(func(i int) int64 { return int64(a.Value(i)) }, same, &d.ints, first, idx)
	case *array.Int32:
		used, ok = dictIndices(func(i int) int64 { return int64(a.Value(i)) }, same, &d.ints, first, idx)
		d.int32 = true
	default:
		return false, nil
	}
	if !ok {
		d.dense = true
		return false, nil
	}
	if first {
		if len(d.strs) > 0 {
			d.arr = stringArray(fw.mem, d.strs)
		} else {
			d.arr = intArray(fw.mem, d.ints, d.int32)
		}
		if err := tableio.PutDictionary(enc, d.arr); err != nil {
			return false, err
		}
	}
	if stats := cw.PageStatistics(); stats != nil {
		ref := d.arr
		if len(used) < d.arr.Len() {
			ref = takeEntries(fw.mem, d, used)
			defer ref.Release()
		}
		stats.IncNumValues(int64(n))
		if err := stats.UpdateFromArrow(ref, false); err != nil {
			return false, err
		}
	}
	buf := memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(idx))
	data := array.NewData(arrow.PrimitiveTypes.Int32, n, []*memory.Buffer{nil, buf}, nil, 0, 0)
	indices := array.MakeFromData(data)
	data.Release()
	defer indices.Release()
	return true, cw.WriteDictIndices(indices, def, nil)
}

// dictIndices fills idx with the entry in dict of each value(i), adding
// new values (through keep) when first, up to maxChunkDictionary; false
// when a value is not in dict. It returns the entries used, in order of
// first use. A run of equal values costs one comparison a value.
func dictIndices[T comparable](value func(int) T, keep func(T) T, dict *[]T, first bool, idx []int32) ([]int32, bool) {
	var used []int32
	var prev T
	cur := int32(-1)
	for i := range idx {
		v := value(i)
		if cur < 0 || v != prev {
			if cur = int32(slices.Index(*dict, v)); cur < 0 {
				if !first || len(*dict) == maxChunkDictionary {
					return nil, false
				}
				cur = int32(len(*dict))
				*dict = append(*dict, keep(v))
			}
			if !slices.Contains(used, cur) {
				used = append(used, cur)
			}
			prev = v
		}
		idx[i] = cur
	}
	return used, true
}

func same[T any](v T) T { return v }

// allEqual reports whether vs holds one value (at least once).
func allEqual[T comparable](vs []T) bool {
	if len(vs) == 0 {
		return false
	}
	for _, v := range vs[1:] {
		if v != vs[0] {
			return false
		}
	}
	return true
}

// constantValue reports whether every value of a is the same valid
// string, v, without comparing value by value: the values are all of one
// length L and the data bytes repeat with period L (one memory compare
// of the data shifted by L). Every narrow batch's name, version, id,
// namespace and status are such columns.
func constantValue(a *array.String) (v string, ok bool) {
	n := a.Len()
	if n == 0 || a.NullN() > 0 {
		return "", false
	}
	offs := a.ValueOffsets() // n+1, from the array's offset
	l := offs[1] - offs[0]
	for i := 1; i < n; i++ {
		if offs[i+1]-offs[i] != l {
			return "", false
		}
	}
	data := a.ValueBytes() // from offs[0] to offs[n]
	if l > 0 && !bytes.Equal(data[l:], data[:len(data)-int(l)]) {
		return "", false
	}
	return a.Value(0), true
}

// knownConstant remembers the last constant string array a column had: a
// feature's constant columns are slices of one array, so after the first
// batch the check is a comparison of buffers.
type knownConstant struct {
	offsets, data *memory.Buffer // retained
	lo, hi        int            // the values checked
	v             string
}

// of is constantValue(a), from memory when a is a slice of the values
// checked last.
func (k *knownConstant) of(a *array.String) (string, bool) {
	d := a.Data()
	bufs := d.Buffers()
	if len(bufs) < 3 || bufs[1] == nil || bufs[2] == nil {
		return constantValue(a)
	}
	lo, hi := d.Offset(), d.Offset()+d.Len()
	if k.offsets == bufs[1] && k.data == bufs[2] && lo >= k.lo && hi <= k.hi && a.NullN() == 0 {
		return k.v, true
	}
	// made by constantString (narrow.go): known without reading it
	v, ok := madeConstant(bufs[1], bufs[2])
	if ok = ok && a.Len() > 0 && a.NullN() == 0; !ok {
		v, ok = constantValue(a)
	}
	if ok {
		k.release()
		bufs[1].Retain()
		bufs[2].Retain()
		*k = knownConstant{offsets: bufs[1], data: bufs[2], lo: lo, hi: hi, v: strings.Clone(v)}
	}
	return v, ok
}

func (k *knownConstant) release() {
	if k.offsets != nil {
		k.offsets.Release()
		k.data.Release()
	}
	*k = knownConstant{}
}

// isPrefix reports whether a is a prefix of b.
func isPrefix(a, b []string) bool { return len(a) <= len(b) && slices.Equal(a, b[:len(a)]) }

// usedEntries lists the entries idx uses, in order of first use; nil when
// one is not below n.
func usedEntries(idx []int32, n int) []int32 {
	seen := make([]bool, n)
	var used []int32
	prev := int32(-1)
	for _, k := range idx {
		if k == prev {
			continue
		}
		if int(k) >= n {
			return nil
		}
		if !seen[k] {
			seen[k] = true
			used = append(used, k)
		}
		prev = k
	}
	return used
}

// takeEntries is the dictionary entries used, for statistics.
func takeEntries(mem memory.Allocator, d *chunkDictionary, used []int32) arrow.Array {
	if len(d.strs) > 0 {
		vs := make([]string, len(used))
		for i, k := range used {
			vs[i] = d.strs[k]
		}
		return stringArray(mem, vs)
	}
	vs := make([]int64, len(used))
	for i, k := range used {
		vs[i] = d.ints[k]
	}
	return intArray(mem, vs, d.int32)
}

func stringArray(mem memory.Allocator, vs []string) arrow.Array {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.AppendValues(vs, nil)
	return b.NewArray()
}

// intArray is vs as int64, or int32 when narrow.
func intArray(mem memory.Allocator, vs []int64, narrow bool) arrow.Array {
	if narrow {
		b := array.NewInt32Builder(mem)
		defer b.Release()
		for _, v := range vs {
			b.Append(int32(v))
		}
		return b.NewArray()
	}
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(vs, nil)
	return b.NewArray()
}

func (d *chunkDictionary) release() {
	if d.arr != nil {
		d.arr.Release()
	}
	*d = chunkDictionary{}
}

func (f *featureFile) closeRowGroup(fw *featureFileWriter) error {
	if f.rg == nil {
		return nil
	}
	err := f.rg.close(fw, f)
	f.rg = nil
	return err
}

// close ends the file: its last row group, the footer, the sink.
func (f *featureFile) close(fw *featureFileWriter) error {
	err := f.closeRowGroup(fw)
	if err == nil {
		err = writeFooter(f.buf, f.fmb)
	}
	if cerr := f.buf.Flush(); err == nil {
		err = cerr
	}
	f.buf.Reset(nil)
	sinkBuffers.Put(f.buf)
	if cerr := f.sink.Close(); err == nil {
		err = cerr
	}
	return err
}

// sharedLevels are the all-one and all-zero definition levels the
// batches' columns share (read-only once made, grown to the longest
// batch), and the memo of string arrays' dictionary indices.
type sharedLevels struct {
	mu          sync.Mutex
	ones, zeros []int16
	zeros32     []int32
	memo        indexMemo
}

func (s *sharedLevels) levels(n int) (ones, zeros []int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ones) < n {
		s.ones, s.zeros = make([]int16, n), make([]int16, n)
		for i := range s.ones {
			s.ones[i] = 1
		}
	}
	return s.ones[:n], s.zeros[:n]
}

// zeroIndices is n dictionary indices 0 (read-only).
func (s *sharedLevels) zeroIndices(n int) []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.zeros32) < n {
		s.zeros32 = make([]int32, n)
	}
	return s.zeros32[:n]
}

func (s *sharedLevels) release() { s.memo.release() }

// indexMemo remembers the dictionary indices of string arrays by their
// buffers. The narrow batches of a write are slices of a few arrays (the
// wide symbol column, shared by every feature; each feature's constant
// name, version, id, namespace and status), so each array is scanned
// once, not once per batch and feature (dictIndices was 16% of
// BenchmarkWriteFeatures). An entry covers the values [lo, hi) of its
// array and grows when the next slice follows it.
type indexMemo struct {
	mu      sync.Mutex
	entries map[*memory.Buffer]*memoEntry // by offsets buffer
	order   []*memory.Buffer              // oldest first
}

type memoEntry struct {
	offsets, data *memory.Buffer // retained: the key stays this array's
	lo, hi        int
	dict          []string // in order of first appearance
	idx           []int32  // idx[i-lo]: the entry of value i
}

// maxMemoArrays bounds the memo: a write holds a few arrays at a time.
const maxMemoArrays = 32

// indices returns the dictionary indices of a's values and the
// dictionary they index (read-only views, valid while the memo lives);
// false when a has nulls or more than maxChunkDictionary distinct values.
func (m *indexMemo) indices(a *array.String) ([]int32, []string, bool) {
	d := a.Data()
	bufs := d.Buffers()
	if a.NullN() > 0 || len(bufs) < 3 || bufs[1] == nil || bufs[2] == nil {
		return nil, nil, false
	}
	lo, hi := d.Offset(), d.Offset()+d.Len()
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[bufs[1]]
	if e != nil && e.data != bufs[2] {
		m.drop(bufs[1])
		e = nil
	}
	switch {
	case e != nil && lo >= e.lo && hi <= e.hi:
	case e != nil && lo <= e.hi && lo >= e.lo: // the next slice: extend
		if !e.extend(a, e.hi-lo, hi) {
			return nil, nil, false
		}
	default:
		if e == nil {
			if m.entries == nil {
				m.entries = map[*memory.Buffer]*memoEntry{}
			}
			if len(m.order) == maxMemoArrays {
				m.drop(m.order[0])
			}
			bufs[1].Retain()
			bufs[2].Retain()
			e = &memoEntry{offsets: bufs[1], data: bufs[2]}
			m.entries[bufs[1]] = e
			m.order = append(m.order, bufs[1])
		}
		e.lo, e.hi, e.dict, e.idx = lo, lo, nil, e.idx[:0]
		if !e.extend(a, 0, hi) {
			return nil, nil, false
		}
	}
	return e.idx[lo-e.lo : hi-e.lo], e.dict, true
}

// extend indexes a's values from its position from (e.hi, relative to
// a's offset) up to the array position hi.
func (e *memoEntry) extend(a *array.String, from, hi int) bool {
	if from < 0 {
		return false
	}
	for i := from; e.hi < hi; i++ {
		v := a.Value(i)
		k := int32(-1)
		if n := len(e.idx); n > 0 && e.dict[e.idx[n-1]] == v {
			k = e.idx[n-1]
		} else if k = int32(slices.Index(e.dict, v)); k < 0 {
			if len(e.dict) == maxChunkDictionary {
				e.hi = e.lo // unusable: start again next time
				e.idx = e.idx[:0]
				return false
			}
			k = int32(len(e.dict))
			e.dict = append(e.dict, strings.Clone(v))
		}
		e.idx = append(e.idx, k)
		e.hi++
	}
	return true
}

func (m *indexMemo) drop(key *memory.Buffer) {
	e := m.entries[key]
	delete(m.entries, key)
	m.order = slices.DeleteFunc(m.order, func(b *memory.Buffer) bool { return b == key })
	e.offsets.Release()
	e.data.Release()
}

func (m *indexMemo) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.order) > 0 {
		m.drop(m.order[0])
	}
}

// stageFeatureFiles writes batches with featureFileWriter; on error every
// file it wrote is removed. The batches are released.
func (w *Warehouse) stageFeatureFiles(ctx context.Context, tbl *table.Table, target *arrow.Schema, batches iter.Seq2[arrow.RecordBatch, error], id uuid.UUID) ([]iceberg.DataFile, error) {
	fw, err := newFeatureFileWriter(ctx, tbl, target, id, w.mem)
	if err != nil {
		return nil, err
	}
	for rec, err := range batches {
		if err == nil {
			err = ctx.Err()
		}
		if err == nil {
			err = fw.write(ctx, rec)
		}
		if rec != nil {
			rec.Release()
		}
		if err != nil {
			fw.abort(ctx)
			return nil, err
		}
	}
	files, err := fw.dataFiles(ctx)
	if err != nil {
		fw.abort(ctx)
		return nil, err
	}
	return files, nil
}
