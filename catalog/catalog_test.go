package catalog

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/ir"
)

var day0 = time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)

// openTemp opens an embedded warehouse in a fresh project directory.
func openTemp(t *testing.T, mem memory.Allocator) *Warehouse {
	t.Helper()
	w, err := Open(context.Background(), t.TempDir(), Config{}, Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// tableSource yields the batches of tbl.
func tableSource(name string, tbl arrow.Table) Source {
	return Source{Name: name, Batches: func(yield func(arrow.RecordBatch, error) bool) {
		r := array.NewTableReader(tbl, 1<<14)
		defer r.Release()
		for r.Next() {
			if !yield(r.RecordBatch(), nil) {
				return
			}
		}
	}}
}

// trade is one row of cdm_trade_enriched, for building small inputs.
type trade struct {
	sym string
	t   time.Time
	px  float64
	id  int64
}

func tradesTable(mem memory.Allocator, rows []trade) arrow.Table {
	b := array.NewRecordBuilder(mem, demodata.Schema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.StringBuilder).Append(r.sym)
		b.Field(1).(*array.StringBuilder).Append("binance")
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(r.t.UnixMicro()))
		b.Field(3).(*array.Float64Builder).Append(r.px)
		b.Field(4).(*array.Float64Builder).Append(1)
		b.Field(5).(*array.StringBuilder).Append("buy")
		b.Field(6).(*array.Int64Builder).Append(r.id)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewTableFromRecords(demodata.Schema, []arrow.RecordBatch{rec})
}

func TestEmbeddedDefaultCreatedOnFirstUse(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenProject(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, p := range []string{".fdag/catalog.db", ".fdag/warehouse"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	tables, err := w.ListTables(context.Background())
	if err != nil || len(tables) != 0 {
		t.Fatalf("ListTables = %v, %v; want none", tables, err)
	}
	if _, err := w.LoadTable(context.Background(), TradesTable); !errors.Is(err, ErrNoTable) {
		t.Fatalf("LoadTable of a missing table: %v, want ErrNoTable", err)
	}
}

func TestLoadConfig(t *testing.T) {
	t.Setenv("FDAG_TEST_SECRET", "s3cr3t")
	cases := []struct {
		name, yaml string
		want       Config
		wantErr    bool
	}{
		{"no file", "", Config{}, false},
		{"no catalog key", "features: []\n", Config{}, false},
		{"s3", "catalog:\n  warehouse: s3://bucket/wh\n  s3:\n    endpoint: http://127.0.0.1:1\n    secret_access_key: ${FDAG_TEST_SECRET}\n",
			Config{Warehouse: "s3://bucket/wh", S3: S3Config{Endpoint: "http://127.0.0.1:1", SecretAccessKey: "s3cr3t"}}, false},
		{"rest", "catalog:\n  type: rest\n  uri: http://127.0.0.1:8181\n  properties:\n    token: abc\n",
			Config{Type: "rest", URI: "http://127.0.0.1:8181", Properties: map[string]string{"token": "abc"}}, false},
		{"typo", "catalog:\n  warehous: /tmp/x\n", Config{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.yaml != "" {
				if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(c.yaml), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := LoadConfig(dir)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, c.wantErr)
			}
			if err == nil && !configEqual(got, c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func configEqual(a, b Config) bool {
	return reflect.DeepEqual(a, b)
}

func TestRESTConfigFailsWithItsURI(t *testing.T) {
	_, err := Open(context.Background(), t.TempDir(), Config{Type: TypeREST, URI: "http://127.0.0.1:1"}, Options{})
	if err == nil {
		t.Fatal("opening a REST catalog on a closed port succeeded")
	}
	if got := err.Error(); !contains(got, "rest catalog http://127.0.0.1:1") {
		t.Fatalf("error %q does not name the catalog", got)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestIngestAndReadSourcePrunes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	w := openTemp(t, mem)
	// 4 symbols over ~3 days
	gen := demodata.Generate(demodata.Config{Rows: 20000, Seed: 7, MeanGap: 12 * time.Second}, mem)
	defer gen.Release()
	st, err := w.Ingest(ctx, TradesTable, tableSource("demo", gen))
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != gen.NumRows() {
		t.Fatalf("ingested %d rows, want %d", st.Rows, gen.NumRows())
	}
	if st.Files < 4*3 {
		t.Errorf("%d files: want one per (symbol, day), at least 12", st.Files)
	}

	start, end := day0.Add(30*time.Hour), day0.Add(40*time.Hour)
	syms, err := w.Symbols(ctx, TradesTable, start, end)
	if err != nil || !slices.Equal(syms, demodata.DefaultSymbols) {
		t.Fatalf("Symbols = %v, %v; want %v", syms, err, demodata.DefaultSymbols)
	}
	if syms, err := w.Symbols(ctx, TradesTable, day0.Add(-48*time.Hour), day0); err != nil || len(syms) != 0 {
		t.Fatalf("Symbols before the data = %v, %v; want none", syms, err)
	}
	cases := []struct {
		name    string
		symbols []string
		lb      ir.Lookback
	}{
		{"one symbol no warmup", []string{"ETHUSDT"}, ir.Lookback{}},
		{"two symbols rows", []string{"BTCUSDT", "XRPUSDT"}, ir.Lookback{Rows: 100}},
		{"duration", []string{"SOLUSDT"}, ir.Lookback{Dur: int64(2 * time.Hour)}},
		{"all symbols rows+duration", nil, ir.Lookback{Rows: 10, Dur: int64(time.Hour)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, err := w.ReadSource(ctx, SourceRequest{Symbols: c.symbols, Start: start, End: end,
				Columns: []string{"trade_price"}, Lookback: c.lb})
			if err != nil {
				t.Fatal(err)
			}
			defer data.Release()
			got := rowsOf(t, data.Table)
			want := expectRows(t, gen, c.symbols, start, end, c.lb)
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("row %d = %+v, want %+v", i, got[i], want[i])
				}
				if data.Warmup[i] != got[i].t.Before(start) {
					t.Fatalf("row %d: warmup %v at %v", i, data.Warmup[i], got[i].t)
				}
			}
			if names := fieldNamesOf(data.Table.Schema()); !slices.Equal(names, []string{"symbol", "event_time", "trade_price", "trade_id"}) {
				t.Errorf("projection %v", names)
			}
		})
	}
}

func fieldNamesOf(s *arrow.Schema) []string {
	var out []string
	for _, f := range s.Fields() {
		out = append(out, f.Name)
	}
	return out
}

func rowsOf(t *testing.T, tbl arrow.Table) []trade {
	t.Helper()
	rdr := array.NewTableReader(tbl, 0)
	defer rdr.Release()
	col := func(rec arrow.RecordBatch, name string) arrow.Array {
		return rec.Column(rec.Schema().FieldIndices(name)[0])
	}
	var out []trade
	for rdr.Next() {
		rec := rdr.RecordBatch()
		s, ts := col(rec, "symbol").(*array.String), col(rec, "event_time").(*array.Timestamp)
		px, id := col(rec, "trade_price").(*array.Float64), col(rec, "trade_id").(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, trade{s.Value(i), time.UnixMicro(int64(ts.Value(i))).UTC(), px.Value(i), id.Value(i)})
		}
	}
	return out
}

// expectRows computes the expected read from the generated table directly:
// rows of the symbols in [start, end) plus, per symbol, the rows in
// [start-Dur, start) and the Rows rows before that.
func expectRows(t *testing.T, gen arrow.Table, symbols []string, start, end time.Time, lb ir.Lookback) []trade {
	all := rowsOf(t, gen)
	bySym := map[string][]trade{}
	for _, r := range all {
		if len(symbols) == 0 || slices.Contains(symbols, r.sym) {
			bySym[r.sym] = append(bySym[r.sym], r)
		}
	}
	var out []trade
	syms := make([]string, 0, len(bySym))
	for s := range bySym {
		syms = append(syms, s)
	}
	slices.Sort(syms)
	for _, s := range syms {
		rows := bySym[s]
		slices.SortStableFunc(rows, func(a, b trade) int {
			if c := a.t.Compare(b.t); c != 0 {
				return c
			}
			return int(a.id - b.id)
		})
		from := start.Add(-time.Duration(lb.Dur))
		if lb.Rows > 0 {
			var before []trade
			for _, r := range rows {
				if r.t.Before(from) {
					before = append(before, r)
				}
			}
			if k := len(before) - lb.Rows; k >= 0 {
				from = before[k].t
			} else if len(before) > 0 {
				from = before[0].t
			}
		}
		if lb.IsZero() {
			from = start
		}
		for _, r := range rows {
			if !r.t.Before(from) && r.t.Before(end) {
				out = append(out, r)
			}
		}
	}
	return out
}

func TestRowWarmupAcrossQuietDays(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	w := openTemp(t, mem)
	var rows []trade
	id := int64(0)
	// 30 trades on day 0, nothing for 9 days, 5 trades on day 10.
	for i := range 30 {
		id++
		rows = append(rows, trade{"BTCUSDT", day0.Add(time.Duration(i) * time.Minute), 100 + float64(i), id})
	}
	start := day0.Add(10 * 24 * time.Hour)
	for i := range 5 {
		id++
		rows = append(rows, trade{"BTCUSDT", start.Add(time.Duration(i) * time.Second), 200 + float64(i), id})
	}
	tbl := tradesTable(mem, rows)
	defer tbl.Release()
	if _, err := w.Ingest(ctx, TradesTable, tableSource("quiet", tbl)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ rows, want int }{{10, 10}, {30, 30}, {100, 30}} {
		data, err := w.ReadSource(ctx, SourceRequest{Symbols: []string{"BTCUSDT"}, Start: start, End: start.Add(time.Hour),
			Lookback: ir.Lookback{Rows: c.rows}})
		if err != nil {
			t.Fatal(err)
		}
		if data.WarmupRows != int64(c.want) || data.Table.NumRows() != int64(c.want+5) {
			t.Errorf("lookback %d rows: %d warmup rows of %d, want %d of %d", c.rows, data.WarmupRows, data.Table.NumRows(), c.want, c.want+5)
		}
		data.Release()
	}
}

func TestIngestFailureWritesNothing(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	w := openTemp(t, mem)
	good := tradesTable(mem, []trade{{"BTCUSDT", day0, 1, 1}, {"BTCUSDT", day0.Add(time.Second), 2, 2}})
	defer good.Release()
	// second source: a batch with a null symbol at row 1
	b := array.NewRecordBuilder(mem, demodata.Schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"ETHUSDT", ""}, []bool{true, false})
	b.Field(2).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1, 2}, nil)
	for i := 1; i < 7; i++ {
		if i != 2 {
			b.Field(i).AppendNulls(2)
		}
	}
	bad := b.NewRecordBatch()
	defer bad.Release()
	badSrc := Source{Name: "bad.csv", Batches: func(yield func(arrow.RecordBatch, error) bool) { yield(bad, nil) }}
	_, err := w.Ingest(ctx, TradesTable, tableSource("good.csv", good), badSrc)
	var re *RowError
	if !errors.As(err, &re) || re.Row != 1 || re.Column != "symbol" || !contains(err.Error(), "bad.csv") {
		t.Fatalf("err = %v; want a RowError at row 1, column symbol, naming bad.csv", err)
	}
	if files := parquetFiles(t, w.Config().localWarehouseDir()); len(files) != 0 {
		t.Fatalf("uncommitted files left behind: %v", files)
	}
	// issue 8: a failed first write creates no table either (so no rows)
	if exists, err := w.cat.CheckTableExists(ctx, w.ident(TradesTable)); err != nil || exists {
		t.Fatalf("table exists after a failed first ingest (%v)", err)
	}
	// once the table exists, a failed ingest commits no row of it
	if _, err := w.Ingest(ctx, TradesTable, tableSource("good.csv", good)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Ingest(ctx, TradesTable, tableSource("good.csv", good), badSrc); err == nil {
		t.Fatal("the bad source was accepted")
	}
	tbl, err := w.ReadTable(ctx, TradesTable, TableQuery{})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	if tbl.NumRows() != 2 {
		t.Fatalf("%d rows after a good and a failed ingest, want 2", tbl.NumRows())
	}
	// the good source alone does write files: the check above can fail
	if files := parquetFiles(t, w.Config().localWarehouseDir()); len(files) == 0 {
		t.Fatal("no data files found after a good ingest: the leftover check looks in the wrong place")
	}
}

func parquetFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".parquet" {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
