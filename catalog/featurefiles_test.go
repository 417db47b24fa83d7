package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/featuredag/fdag/internal/tableio"
)

// hardWide is a wide table with what narrow files must keep bit for bit:
// nulls, NaN, infinities and -0 among the values, tied timestamps, a
// one-row symbol, rows over three days, symbols interleaved in time order,
// and trade ids with a null.
func hardWide(t *testing.T, mem memory.Allocator) (arrow.Table, *arrow.Chunked) {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: ColEventTime, Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: ColSymbol, Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "f_a", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "f_b", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	ids := array.NewInt64Builder(mem)
	defer ids.Release()
	t0 := day0.Add(-time.Hour) // the day before day0, so three days
	specials := []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0, 1e-300, -1.5}
	for i := range 3000 {
		ts := t0.Add(time.Duration(i/3) * 90 * time.Second) // three rows per timestamp: ties
		sym := []string{"BTCUSDT", "ETHUSDT"}[i%2]
		if i == 1500 {
			sym = "ONE" // a one-row symbol
		}
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(ts.UnixMicro()))
		b.Field(1).(*array.StringBuilder).Append(sym)
		switch {
		case i%11 == 0:
			b.Field(2).AppendNull()
		case i%5 == 0:
			b.Field(2).(*array.Float64Builder).Append(specials[i%len(specials)])
		default:
			b.Field(2).(*array.Float64Builder).Append(float64(i) * 0.1)
		}
		b.Field(3).(*array.Float64Builder).Append(math.Float64frombits(0x7ff8000000000001 + uint64(i%3))) // NaN payloads
		if i == 7 {
			ids.AppendNull()
		} else {
			ids.Append(int64(1000 + i))
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	idArr := ids.NewArray()
	defer idArr.Release()
	return array.NewTableFromRecords(sc, []arrow.RecordBatch{rec}), arrow.NewChunked(arrow.PrimitiveTypes.Int64, []arrow.Array{idArr})
}

// hardSetup is hardWide over a checked allocator, released and checked
// for leaks when the test ends.
func hardSetup(t *testing.T) (*memory.CheckedAllocator, arrow.Table, *arrow.Chunked) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	wide, ids := hardWide(t, mem)
	t.Cleanup(func() {
		wide.Release()
		ids.Release()
	})
	return mem, wide, ids
}

// hardFeatures are hardWide's features, an error feature between them.
var hardFeatures = []FeatureInfo{
	{Name: "f_a", Version: "v1.0", ID: "id-a", Namespace: "signal"},
	{Name: "broken", Version: "v2", ID: "id-x", Namespace: "signal", Err: `unknown function "nope" at 1:1`},
	{Name: "f_b", Version: "v1.0", ID: "id-b", Namespace: "risk"},
}

// TestFeatureFilesEqualIcebergWriter: the files fdag writes itself
// (featurefiles.go) read back as the same rows, bit for bit, as the files
// of iceberg-go's writer, and are described by the same partitions,
// counts and bounds, in the same partition directories, named after the
// run: over the sliced path and the row-by-row path (batches mixing
// features, error rows with their JSON), small batches, a window cutting
// the first and last day.
func TestFeatureFilesEqualIcebergWriter(t *testing.T) {
	mem, wide, ids := hardSetup(t)
	ctx, feats := context.Background(), hardFeatures
	id := StagingID{Run: NewRunID(), Part: 3, Attempt: 1}
	for _, c := range []struct {
		name string
		opts NarrowOptions
	}{
		{"sliced", NarrowOptions{TradeIDs: ids}},
		{"window, small batches", NarrowOptions{Start: day0.Add(-30 * time.Minute), End: day0.Add(26 * time.Hour), BatchRows: 97, TradeIDs: ids}},
		{"row by row", NarrowOptions{BatchRows: 1000, rowByRow: true, Symbols: []string{"BTCUSDT", "ETHUSDT", "ONE"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Mem, c.opts.ProcessedTime = mem, time.Unix(1700000000, 123000)
			ours, theirs := openTemp(t, mem), openTemp(t, mem)
			mine, err := ours.StageFeatures(ctx, WideToNarrow(wide, feats, c.opts), id)
			if err != nil {
				t.Fatal(err)
			}
			tbl, err := theirs.Table(ctx, FeaturesTable)
			if err != nil {
				t.Fatal(err)
			}
			target, err := arrowSchema(tbl)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := id.uuid()
			ref, err := theirs.writeFiles(ctx, tbl, target, withTableSchema(WideToNarrow(wide, feats, c.opts), target), table.WithWriteUUID(u))
			if err != nil {
				t.Fatal(err)
			}
			compareDataFiles(t, mine.Files, ref, id.Run)
			t.Logf("%d files, %d rows; first %s", len(mine.Files), mine.Rows, mine.Files[0].FilePath())
			if _, err := ours.CommitFeatures(ctx, FeatureScope{}, mine); err != nil {
				t.Fatal(err)
			}
			if _, err := theirs.commit(ctx, tbl, nil, ref, nil); err != nil {
				t.Fatal(err)
			}
			got, want := storedRows(t, ours), storedRows(t, theirs)
			if len(got) == 0 || !slices.Equal(got, want) {
				t.Fatalf("%d rows read back, iceberg-go's writer %d; first difference:\n%s", len(got), len(want), firstDiff(got, want))
			}
		})
	}
}

// compareDataFiles checks that two writers' files of the same rows have
// the same descriptions, partition by partition.
func compareDataFiles(t *testing.T, got, want []iceberg.DataFile, run string) {
	t.Helper()
	byPart := func(files []iceberg.DataFile) map[string]iceberg.DataFile {
		m := map[string]iceberg.DataFile{}
		for _, f := range files {
			k := fmt.Sprint(f.Partition())
			if _, dup := m[k]; dup {
				t.Fatalf("two files of partition %s", k)
			}
			m[k] = f
		}
		return m
	}
	g, w := byPart(got), byPart(want)
	if len(g) != len(w) {
		t.Fatalf("%d files, iceberg-go wrote %d", len(g), len(w))
	}
	for k, wf := range w {
		gf, ok := g[k]
		if !ok {
			t.Fatalf("no file of partition %s", k)
		}
		if RunOfFile(gf.FilePath()) != run {
			t.Errorf("%s: RunOfFile = %q, want %q", gf.FilePath(), RunOfFile(gf.FilePath()), run)
		}
		// different warehouses: compare the paths below the table's data
		if a, b := below(gf.FilePath(), "/data/"), below(wf.FilePath(), "/data/"); path.Dir(a) != path.Dir(b) {
			t.Errorf("partition directory %s, iceberg-go's %s", path.Dir(a), path.Dir(b))
		}
		if gf.Count() != wf.Count() || gf.FileFormat() != wf.FileFormat() || gf.ContentType() != wf.ContentType() {
			t.Errorf("%s: %d rows %s %v, iceberg-go %d %s %v", k, gf.Count(), gf.FileFormat(), gf.ContentType(), wf.Count(), wf.FileFormat(), wf.ContentType())
		}
		for name, pair := range map[string][2]map[int]int64{
			"value counts": {gf.ValueCounts(), wf.ValueCounts()},
			"null counts":  {gf.NullValueCounts(), wf.NullValueCounts()},
			"NaN counts":   {gf.NaNValueCounts(), wf.NaNValueCounts()},
		} {
			if fmt.Sprint(pair[0]) != fmt.Sprint(pair[1]) {
				t.Errorf("%s: %s %v, iceberg-go %v", k, name, pair[0], pair[1])
			}
		}
		for name, pair := range map[string][2]map[int][]byte{
			"lower bounds": {gf.LowerBoundValues(), wf.LowerBoundValues()},
			"upper bounds": {gf.UpperBoundValues(), wf.UpperBoundValues()},
		} {
			if len(pair[0]) != len(pair[1]) {
				t.Errorf("%s: %s of %d columns, iceberg-go %d", k, name, len(pair[0]), len(pair[1]))
			}
			for id, v := range pair[1] {
				if !bytes.Equal(pair[0][id], v) {
					t.Errorf("%s: %s of field %d: %x, iceberg-go %x", k, name, id, pair[0][id], v)
				}
			}
		}
	}
}

func below(p, sep string) string {
	if i := strings.LastIndex(p, sep); i >= 0 {
		return p[i+len(sep):]
	}
	return p
}

// storedRows reads ft_features back as sorted row strings, floats by
// their bits.
func storedRows(t *testing.T, w *Warehouse) []string {
	t.Helper()
	tbl, err := w.ReadTable(context.Background(), FeaturesTable, TableQuery{})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	var out []string
	r := array.NewTableReader(tbl, 0)
	defer r.Release()
	for r.Next() {
		rec := r.RecordBatch()
		for i := range int(rec.NumRows()) {
			var sb strings.Builder
			for j, col := range rec.Columns() {
				sb.WriteString(rec.Schema().Field(j).Name + "=")
				switch {
				case col.IsNull(i):
					sb.WriteString("null")
				default:
					if f, ok := col.(*array.Float64); ok {
						fmt.Fprintf(&sb, "%016x", math.Float64bits(f.Value(i)))
					} else {
						sb.WriteString(col.ValueStr(i))
					}
				}
				sb.WriteByte(' ')
			}
			out = append(out, sb.String())
		}
	}
	slices.Sort(out)
	return out
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return "ours:    " + a[i] + "\niceberg: " + b[i]
		}
	}
	return "(one is a prefix of the other)"
}

// TestFeatureFilesFailureLeavesNothing: a write that fails part way (a
// batch error after files were written, or a cancelled context) returns
// the error and removes every file it wrote.
func TestFeatureFilesFailureLeavesNothing(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	wide, ids := hardWide(t, mem)
	defer wide.Release()
	defer ids.Release()
	feats := []FeatureInfo{{Name: "f_a", Version: "v1.0"}, {Name: "f_b", Version: "v1.0"}}
	boom := errors.New("boom")
	for _, c := range []struct {
		name   string
		cancel bool
	}{{"batch error", false}, {"cancelled", true}} {
		t.Run(c.name, func(t *testing.T) {
			w := openTemp(t, mem)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			n := 0
			batches := func(yield func(arrow.RecordBatch, error) bool) {
				for rec, err := range WideToNarrow(wide, feats, NarrowOptions{Mem: mem, BatchRows: 500, TradeIDs: ids}) {
					if n++; n == 9 {
						if c.cancel {
							cancel()
						} else {
							rec.Release()
							yield(nil, boom)
							return
						}
					}
					if !yield(rec, err) {
						return
					}
				}
			}
			_, err := w.StageFeatures(ctx, batches)
			if want := boom; !c.cancel && !errors.Is(err, want) || c.cancel && !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v", err)
			}
			if files := parquetFiles(t, w.Config().localWarehouseDir()); len(files) != 0 {
				t.Fatalf("files left behind: %v", files)
			}
		})
	}
}

// TestFeatureFilesShareChunks: the column chunks a feature's files take
// from the previous feature's files (narrowchunks.go) make files equal
// byte for byte to those written with every chunk encoded, over row
// groups cut by the row-group limit too, and the reuse happens.
func TestFeatureFilesShareChunks(t *testing.T) {
	mem, wide, ids := hardSetup(t)
	ctx, feats := context.Background(), hardFeatures
	for _, c := range []struct {
		name     string
		opts     NarrowOptions
		rowGroup int
	}{
		{"sliced", NarrowOptions{TradeIDs: ids}, 0},
		{"small batches, small row groups", NarrowOptions{BatchRows: 97, TradeIDs: ids, Start: day0.Add(-30 * time.Minute)}, 300},
		{"row by row", NarrowOptions{BatchRows: 1000, rowByRow: true}, 0},
		// row groups of 3 to 9 rows: RLE runs shorter than 8 (constchunk.go)
		{"batches of 3", NarrowOptions{BatchRows: 3, TradeIDs: ids}, 7},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Mem, c.opts.ProcessedTime = mem, time.Unix(1700000000, 123000)
			write := func(share bool) (map[string][]byte, int) {
				w := openTemp(t, mem)
				tbl, err := w.Table(ctx, FeaturesTable)
				if err != nil {
					t.Fatal(err)
				}
				target, err := arrowSchema(tbl)
				if err != nil {
					t.Fatal(err)
				}
				fw, err := newFeatureFileWriter(ctx, tbl, target, uuid.New(), mem)
				if err != nil {
					t.Fatal(err)
				}
				// off: every chunk encoded by arrow-go's column writer
				fw.share, fw.direct = share, share
				if c.rowGroup > 0 {
					props := maps.Clone(tbl.Properties())
					props[table.ParquetRowGroupLimitKey] = fmt.Sprint(c.rowGroup)
					if fw.props, err = parquetWriteProperties(props, tableio.NewRecycler()); err != nil {
						t.Fatal(err)
					}
				}
				for rec, err := range withTableSchema(WideToNarrow(wide, feats, c.opts), target) {
					if err == nil {
						err = fw.write(ctx, rec)
						rec.Release()
					}
					if err != nil {
						fw.abort(ctx)
						t.Fatal(err)
					}
				}
				files, err := fw.dataFiles(ctx)
				if err != nil {
					t.Fatal(err)
				}
				out := map[string][]byte{}
				for _, f := range files {
					b, err := os.ReadFile(strings.TrimPrefix(f.FilePath(), "file://"))
					if err != nil {
						t.Fatal(err)
					}
					out[fmt.Sprint(f.Partition())] = b
				}
				if share && fw.direct1.Load() == 0 {
					t.Error("no constant chunk written directly")
				}
				if !share && fw.direct1.Load() != 0 {
					t.Error("constant chunks written directly with direct off")
				}
				return out, fw.chunks.hits
			}
			shared, hits := write(true)
			plain, none := write(false)
			if len(shared) != len(plain) || len(shared) == 0 {
				t.Fatalf("%d files, %d without sharing", len(shared), len(plain))
			}
			for k, b := range plain {
				sameChunks(t, k, shared[k], b)
			}
			// f_b's files take all but the value, name, id and namespace
			// chunks from f_a's (symbol, timestamp, the null columns,
			// status, processed time, seq, trade id; their version is
			// another array after the error feature's)
			want := 0
			for k := range plain {
				if strings.Contains(k, "f_b") && !c.opts.rowByRow {
					want += 8 * max(1, 1000/max(c.rowGroup, 1000))
				}
			}
			if none != 0 || hits < want {
				t.Errorf("%d chunks reused (want at least %d), %d without sharing", hits, want, none)
			}
			t.Logf("%d files, %d chunks reused", len(plain), hits)
		})
	}
}

// sameChunks checks that two Parquet files hold the same column chunks,
// byte for byte, but for a dictionary that may hold more entries than
// the chunk uses (the symbol's, taken from the indices of the whole wide
// column seen so far): there the values read must be equal.
func sameChunks(t *testing.T, name string, got, want []byte) {
	t.Helper()
	open := func(b []byte) *file.Reader {
		r, err := file.NewParquetReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	g, w := open(got), open(want)
	if g.NumRowGroups() != w.NumRowGroups() || g.NumRows() != w.NumRows() {
		t.Fatalf("%s: %d row groups, %d rows; every chunk encoded: %d, %d", name, g.NumRowGroups(), g.NumRows(), w.NumRowGroups(), w.NumRows())
	}
	chunk := func(b []byte, c *metadata.ColumnChunkMetaData) []byte {
		lo := c.DataPageOffset()
		if c.HasDictionaryPage() {
			lo = c.DictionaryPageOffset()
		}
		return b[lo : lo+c.TotalCompressedSize()]
	}
	for i := range g.NumRowGroups() {
		gm, wm := g.MetaData().RowGroup(i), w.MetaData().RowGroup(i)
		for j := range gm.NumColumns() {
			gc, _ := gm.ColumnChunk(j)
			wc, _ := wm.ColumnChunk(j)
			if bytes.Equal(chunk(got, gc), chunk(want, wc)) && chunkMeta(t, gc) == chunkMeta(t, wc) {
				continue
			}
			path := gc.PathInSchema().String()
			if path != ColSymbol {
				t.Errorf("%s: row group %d, column %s: %d bytes, %d when every chunk is encoded", name, i, path, gc.TotalCompressedSize(), wc.TotalCompressedSize())
				continue
			}
			read := func(r *file.Reader) arrow.Table {
				fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
				if err != nil {
					t.Fatal(err)
				}
				tbl, err := fr.ReadTable(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				return tbl
			}
			a, b := read(g), read(w)
			k := a.Schema().FieldIndices(ColSymbol)[0]
			equal := array.ChunkedEqual(a.Column(k).Data(), b.Column(k).Data())
			a.Release()
			b.Release()
			if !equal {
				t.Errorf("%s: column %s reads differently", name, path)
			}
		}
	}
}

// chunkMeta is what a column chunk's metadata says of it.
func chunkMeta(t *testing.T, c *metadata.ColumnChunkMetaData) string {
	t.Helper()
	s := fmt.Sprint(c.NumValues(), c.Encodings(), c.EncodingStats(), c.TotalCompressedSize(), c.TotalUncompressedSize(), c.HasDictionaryPage())
	if ok, _ := c.StatsSet(); ok {
		st, err := c.Statistics()
		if err != nil {
			t.Fatal(err)
		}
		enc, err := st.Encode()
		if err != nil {
			t.Fatal(err)
		}
		s += fmt.Sprintf(" %q %q %v %v", enc.Min, enc.Max, enc.NullCount, enc.HasNullCount)
	}
	return s
}

// TestDayRange: dayRange.holds agrees with dayOf over day boundaries, negative times
// and the ends of int64, where the difference overflows.
func TestDayRange(t *testing.T) {
	vals := []int64{math.MinInt64, math.MinInt64 + 1, -microsPerDay - 1, -microsPerDay, -1, 0, 1,
		microsPerDay - 1, microsPerDay, 19723*microsPerDay + 5, math.MaxInt64 - microsPerDay, math.MaxInt64 - 1, math.MaxInt64}
	for _, a := range vals {
		r := featurePartition{day: dayOf(a)}.days()
		for _, b := range vals {
			if got, want := r.holds(b), dayOf(b) == dayOf(a); got != want {
				t.Errorf("day of %d holds %d: %v, want %v", a, b, got, want)
			}
		}
	}
}
