package tableio

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const tradesCSV = `symbol,event_time,price,size,is_buy,trade_id,note
BTC,2024-01-02T03:04:05.123Z,65000.5,0.1,true,1,a
BTC,2024-01-02 03:04:05.123456,,NaN,false,2,"x, ""y"""
ETH,2024-01-02T03:04:06Z,3000,inf,,3,
ETH,2024-01-02T04:04:06+01:00,-inf,2,True,,z
`

func TestReadCSVInfersTypes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	path := writeFile(t, "trades.csv", tradesCSV)

	tbl, err := Read(context.Background(), path, mem, ReadOptions{BatchRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()

	want := []string{"utf8", "timestamp[us, tz=UTC]", "float64", "float64", "bool", "int64", "utf8"}
	for j, f := range tbl.Schema().Fields() {
		if f.Type.String() != want[j] {
			t.Errorf("column %q: type %s, want %s", f.Name, f.Type, want[j])
		}
	}
	if tbl.NumRows() != 4 {
		t.Fatalf("rows = %d, want 4", tbl.NumRows())
	}
	if n := len(tbl.Column(0).Data().Chunks()); n != 2 {
		t.Errorf("chunks = %d, want 2 batches of at most 3 rows", n)
	}

	times := columnValues(tbl, 1)
	wantTimes := []any{int64(1704164645123000), int64(1704164645123456), int64(1704164646000000), int64(1704164646000000)}
	for i := range wantTimes {
		if times[i] != wantTimes[i] {
			t.Errorf("event_time[%d] = %v, want %v", i, times[i], wantTimes[i])
		}
	}
	price := columnValues(tbl, 2)
	if price[0] != 65000.5 || price[1] != nil || price[2] != 3000.0 || !math.IsInf(price[3].(float64), -1) {
		t.Errorf("price = %v", price)
	}
	size := columnValues(tbl, 3)
	if !math.IsNaN(size[1].(float64)) || !math.IsInf(size[2].(float64), 1) {
		t.Errorf("size = %v", size)
	}
	if got := columnValues(tbl, 4); got[2] != nil || got[3] != true {
		t.Errorf("is_buy = %v", got)
	}
	if got := columnValues(tbl, 5); got[3] != nil {
		t.Errorf("trade_id = %v", got)
	}
	if got := columnValues(tbl, 6); got[1] != `x, "y"` || got[2] != nil {
		t.Errorf("note = %q", got)
	}
}

func TestReadCSVNanosecondTimestamps(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	path := writeFile(t, "t.csv", "ts\n2024-01-02T03:04:05.5Z\n2024-01-02T03:04:05.123456789Z\n")
	tbl, err := Read(context.Background(), path, mem, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	if got := tbl.Schema().Field(0).Type.String(); got != "timestamp[ns, tz=UTC]" {
		t.Fatalf("type = %s", got)
	}
	if got := columnValues(tbl, 0); got[1] != int64(1704164645123456789) {
		t.Errorf("values = %v", got)
	}
}

func TestReadIntegerTimeColumn(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	csvPath := writeFile(t, "t.csv", "timestamp,price\n1582329602111,1\n1582329602111,2\n")
	opts := ReadOptions{TimeColumn: "timestamp", TimeUnit: "ms"}
	tbl, err := Read(context.Background(), csvPath, mem, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	if got := tbl.Schema().Field(0).Type.String(); got != "timestamp[ms, tz=UTC]" {
		t.Fatalf("csv: type = %s", got)
	}

	// Parquet: the same conversion applies to an int64 column read back.
	plain, err := Read(context.Background(), csvPath, mem, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Release()
	pqPath := filepath.Join(t.TempDir(), "t.parquet")
	if err := Write(context.Background(), pqPath, plain, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	back, err := Read(context.Background(), pqPath, mem, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Release()
	if got := back.Schema().Field(0).Type.String(); got != "timestamp[ms, tz=UTC]" {
		t.Fatalf("parquet: type = %s", got)
	}
	if got := columnValues(back, 0); got[1] != int64(1582329602111) {
		t.Errorf("values = %v", got)
	}
	// The same range check on Parquet's int64 column.
	_, err = Read(context.Background(), pqPath, mem, ReadOptions{TimeColumn: "timestamp", TimeUnit: "s"})
	if err == nil || !strings.Contains(err.Error(), "the values look like milliseconds: --time-unit ms gives 2020-02-22T00:00:02.111Z") {
		t.Errorf("ms read as s: %v", err)
	}

	_, err = Read(context.Background(), csvPath, mem, ReadOptions{TimeColumn: "price", TimeUnit: "fortnight"})
	if err == nil || !strings.Contains(err.Error(), "unknown time unit") {
		t.Errorf("err = %v", err)
	}
	_, err = Read(context.Background(), csvPath, mem, ReadOptions{TimeColumn: "nope", TimeUnit: "ms"})
	if err == nil || !strings.Contains(err.Error(), `time column "nope" not found`) {
		t.Errorf("err = %v", err)
	}
}

func TestReadCSVErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	cases := []struct {
		name, text string
		opts       ReadOptions
		want       string
	}{
		{"empty", "", ReadOptions{}, "trades.csv: empty file: a header line is required"},
		{"field count", "a,b\n1,2\n3\n", ReadOptions{}, "trades.csv:3: expected 2 fields as in the header, got 1"},
		{"bad quote", "a,b\n1,\"2\n3,x\"y\n", ReadOptions{}, "trades.csv:3:"},
		{"parse after inference", "a,price\n1,2.5\n2,3\n" + strings.Repeat("3,4\n", 13) + "4,abc\n",
			ReadOptions{InferRows: 2}, `trades.csv:17: column "price": cannot parse "abc" as float64`},
		{"milliseconds read as seconds", "ts,x\n1704164645123,1\n1704168245000,2\n", ReadOptions{TimeColumn: "ts", TimeUnit: "s"},
			`trades.csv: time column "ts" read with time unit s spans 55972-10-29 to 55972-12-10, outside the years 1678-2262 a timestamp holds; ` +
				`the values look like milliseconds: --time-unit ms gives 2024-01-02T03:04:05.123Z to 2024-01-02T04:04:05Z`},
		{"nanoseconds read as microseconds", "ts,x\n1704164645123456789,1\n", ReadOptions{TimeColumn: "ts", TimeUnit: "us"},
			`time column "ts" read with time unit us spans`},
		{"float time column", "ts,x\n1.5,1\n", ReadOptions{TimeColumn: "ts", TimeUnit: "ms"},
			`trades.csv:2: column "ts": cannot parse "1.5" as an integer time in ms (--time-unit)`},
		{"text in time column", "ts,x\n1,1\n2,1\nnotatime,2\n", ReadOptions{TimeColumn: "ts", TimeUnit: "ms"},
			`trades.csv:4: column "ts": cannot parse "notatime" as an integer time in ms (--time-unit)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "trades.csv", c.text)
			tbl, err := Read(ctx, path, mem, c.opts)
			if err == nil {
				tbl.Release()
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %q, want it to contain %q", err, c.want)
			}
		})
	}
	if _, err := Read(ctx, "x.txt", mem, ReadOptions{}); err == nil || !strings.Contains(err.Error(), "unknown file format") {
		t.Errorf("err = %v", err)
	}
}

func TestInferenceWidens(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	path := writeFile(t, "w.csv", "a,b,c,d,e\n1,true,1,,2024-01-02T00:00:00Z\n2.5,1,x,,oops\n")
	tbl, err := Read(context.Background(), path, mem, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	want := []string{"float64", "utf8", "utf8", "utf8", "utf8"}
	for j, f := range tbl.Schema().Fields() {
		if f.Type.String() != want[j] {
			t.Errorf("column %q: %s, want %s", f.Name, f.Type, want[j])
		}
	}
}

func TestWriteCSVFormats(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "event_time", Type: arrow.FixedWidthTypes.Timestamp_us, Nullable: true},
		{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	ts := b.Field(0).(*array.TimestampBuilder)
	ts.AppendValues([]arrow.Timestamp{1704164645123000, 1704164645123456, 1704164645000000, 0, -1}, nil)
	b.Field(1).(*array.Float64Builder).AppendValues([]float64{0.1, math.NaN(), math.Inf(1), math.Inf(-1), 1e21}, nil)
	sb := b.Field(2).(*array.StringBuilder)
	sb.Append("a,b")
	sb.AppendNull()
	sb.Append("")
	sb.Append(`say "hi"`)
	sb.Append("plain")
	rec := b.NewRecordBatch()
	defer rec.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
	defer tbl.Release()

	path := filepath.Join(t.TempDir(), "out.csv")
	if err := Write(context.Background(), path, tbl, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := `event_time,x,s
2024-01-02T03:04:05.123Z,0.1,"a,b"
2024-01-02T03:04:05.123456Z,NaN,
2024-01-02T03:04:05Z,inf,""
1970-01-01T00:00:00Z,-inf,"say ""hi"""
1969-12-31T23:59:59.999999Z,1e+21,plain
`
	if got := readText(t, path); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRoundTrips(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	src := writeFile(t, "trades.csv", tradesCSV)
	orig, err := Read(ctx, src, mem, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Release()

	meta := arrow.NewMetadata([]string{"fdag.features"}, []string{`[{"name":"f","status":"success"}]`})
	withMeta := array.NewTable(arrow.NewSchema(orig.Schema().Fields(), &meta), tableColumns(orig), orig.NumRows())
	defer withMeta.Release()

	dir := t.TempDir()
	for _, name := range []string{"a.parquet", "b.pq", "c.csv"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := Write(ctx, path, withMeta, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
				t.Errorf("output file mode %v (err %v), want -rw-r--r-- (was 0600 from CreateTemp)", st.Mode().Perm(), err)
			}
			back, err := Read(ctx, path, mem, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer back.Release()
			if !strings.HasSuffix(name, ".csv") {
				if v, ok := back.Schema().Metadata().GetValue("fdag.features"); !ok || !strings.Contains(v, `"status":"success"`) {
					t.Errorf("metadata lost: %v", back.Schema().Metadata())
				}
			}
			for j := range orig.NumCols() {
				want, got := fmt.Sprint(columnValues(orig, int(j))), fmt.Sprint(columnValues(back, int(j)))
				if want != got || !arrow.TypeEqual(orig.Schema().Field(int(j)).Type, back.Schema().Field(int(j)).Type) {
					t.Errorf("column %d: got %s %s, want %s %s", j, back.Schema().Field(int(j)).Type, got, orig.Schema().Field(int(j)).Type, want)
				}
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// BenchmarkReadCSV reads a 100K-row trades file; run with -benchtime to
// extrapolate to 10M rows.
func BenchmarkReadCSV(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("symbol,event_time,price,size,trade_id\n")
	for i := range 100_000 {
		sb.WriteString("BTCUSDT,2024-01-02T03:04:05.123Z,65000.5,0.123,")
		sb.WriteString(strings.Repeat("1", 1+i%9))
		sb.WriteString("\n")
	}
	path := filepath.Join(b.TempDir(), "bench.csv")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(sb.Len()))
	for b.Loop() {
		tbl, err := Read(context.Background(), path, memory.DefaultAllocator, ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		tbl.Release()
	}
}

// columnValues returns column j as Go values (nil for null); timestamps as
// int64.
func columnValues(tbl arrow.Table, j int) []any {
	var out []any
	for _, c := range tbl.Column(j).Data().Chunks() {
		for i := 0; i < c.Len(); i++ {
			if c.IsNull(i) {
				out = append(out, nil)
				continue
			}
			switch a := c.(type) {
			case *array.Float64:
				out = append(out, a.Value(i))
			case *array.Int64:
				out = append(out, a.Value(i))
			case *array.Timestamp:
				out = append(out, int64(a.Value(i)))
			case *array.Boolean:
				out = append(out, a.Value(i))
			case *array.String:
				out = append(out, a.Value(i))
			}
		}
	}
	return out
}

// TestColumns: the column names of a CSV header and a Parquet schema.
func TestColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	csvPath := writeFile(t, "t.csv", "\ufeffevent_time,px\n2024-01-02T00:00:00Z,1\n")
	tbl, err := Read(context.Background(), csvPath, mem, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	pqPath := filepath.Join(t.TempDir(), "t.parquet")
	if err := Write(context.Background(), pqPath, tbl, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{csvPath, pqPath} {
		got, err := Columns(p)
		if err != nil || strings.Join(got, ",") != "event_time,px" {
			t.Errorf("%s: %v %v", p, got, err)
		}
	}
}
