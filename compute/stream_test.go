package compute

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/ir"
)

// TestStreamEqualsOneShot feeds the same rows in random batch sizes and
// checks every value against the one-shot computation.
func TestStreamEqualsOneShot(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rows := genTrades(11, 4000)
	tbl := tradeTable(t, mem, rows, 1<<20)
	defer tbl.Release()
	want := compute(t, tbl, allBuiltins, Options{Mem: mem})
	defer want.Release()

	r := rand.New(rand.NewPCG(5, 5))
	for trial := range 3 {
		s, err := NewStream(allBuiltins, tbl.Schema(), Options{Mem: mem})
		if err != nil {
			t.Fatal(err)
		}
		// The same schema, statuses included, as the one-shot output:
		// a file written from either is the same file.
		if !s.Schema().Equal(want.Table.Schema()) || !s.Schema().Metadata().Equal(want.Table.Schema().Metadata()) {
			t.Fatalf("stream schema\n%v\none-shot schema\n%v", s.Schema(), want.Table.Schema())
		}
		got := map[string][]uint64{}
		for lo := 0; lo < len(rows); {
			hi := min(len(rows), lo+1+r.IntN(700))
			// A batch never ends inside a tie group of a symbol that
			// continues in the next batch with the same time: that is
			// fine for the stream (ties keep arrival order), so no care
			// is needed here.
			in := tradeTable(t, mem, rows[lo:hi], 1<<20)
			rec := tableRecord(t, in)
			out, err := s.Process(context.Background(), rec)
			rec.Release()
			in.Release()
			if err != nil {
				t.Fatalf("trial %d batch [%d,%d): %v", trial, lo, hi, err)
			}
			for _, spec := range allBuiltins {
				a := out.Column(out.Schema().FieldIndices(spec.Name)[0]).(*array.Float64)
				for i := range a.Len() {
					v := uint64(0xDEAD)
					if a.IsValid(i) {
						v = math.Float64bits(a.Value(i))
					}
					got[spec.Name] = append(got[spec.Name], v)
				}
			}
			out.Release()
			lo = hi
		}
		for _, spec := range allBuiltins {
			w := column(t, want, spec.Name)
			for i := range w {
				if got[spec.Name][i] != w[i] {
					t.Fatalf("trial %d %s row %d: stream %v, one-shot %v", trial, spec.Name, i,
						math.Float64frombits(got[spec.Name][i]), math.Float64frombits(w[i]))
				}
			}
		}
	}
}

func tableRecord(t testing.TB, tbl arrow.Table) arrow.RecordBatch {
	t.Helper()
	tr := array.NewTableReader(tbl, tbl.NumRows()+1)
	defer tr.Release()
	if !tr.Next() {
		t.Fatal("empty table")
	}
	rec := tr.RecordBatch()
	rec.Retain()
	return rec
}

func TestStreamRejectsTimeGoingBack(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rows := genTrades(12, 300)
	tbl := tradeTable(t, mem, rows[200:], 1<<20)
	defer tbl.Release()
	early := tradeTable(t, mem, rows[:100], 1<<20)
	defer early.Release()
	s, err := NewStream([]ir.Spec{{Name: "m", Formula: "rolling_mean(close, 3)"}}, tbl.Schema(), Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range []arrow.Table{tbl, early} {
		rec := tableRecord(t, in)
		out, err := s.Process(context.Background(), rec)
		rec.Release()
		if i == 0 {
			if err != nil {
				t.Fatal(err)
			}
			out.Release()
			continue
		}
		var ooo *OutOfOrderError
		if !errors.As(err, &ooo) {
			t.Fatalf("err = %v, want OutOfOrderError", err)
		}
	}
}

// timedBatch is a batch of (symbol, event_time in ms, trade_price) rows;
// a negative time is null.
func timedBatch(t *testing.T, mem memory.Allocator, syms []string, ms []int64) arrow.RecordBatch {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "event_time", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "symbol", Type: arrow.BinaryTypes.String},
		{Name: "trade_price", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i, m := range ms {
		if m < 0 {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(m))
		}
		b.Field(1).(*array.StringBuilder).Append(syms[i])
		b.Field(2).(*array.Float64Builder).Append(float64(i + 1))
	}
	return b.NewRecordBatch()
}

// TestStreamInputErrorsNameTheUsersRow: rows going back in time and a null
// time are reported at the row of the whole input (not of the batch) with
// times in ISO 8601, not raw nanoseconds (issue 10 item 5).
func TestStreamInputErrorsNameTheUsersRow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	specs := []ir.Spec{{Name: "m", Formula: "rolling_mean(close, 2)"}}
	tests := []struct {
		name   string
		second []int64
		want   string
	}{
		{"back in time", []int64{7000, 9000, 1500},
			`rows of symbol A arrive out of time order: row 5 (counting from 0 over the whole input; in batch 2) at 1970-01-01T00:00:01.5Z is before 1970-01-01T00:00:06Z, seen in an earlier batch; send each symbol's rows in time order`},
		{"null time", []int64{7000, -1, 8000},
			`time column "event_time" is null at row 4 (counting from 0; 1 null in its batch); every row needs a time`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := timedBatch(t, mem, []string{"A", "B", "A"}, []int64{5000, 5500, 6000})
			defer first.Release()
			s, err := NewStream(specs, first.Schema(), Options{Mem: mem})
			if err != nil {
				t.Fatal(err)
			}
			out, err := s.Process(context.Background(), first)
			if err != nil {
				t.Fatal(err)
			}
			out.Release()
			second := timedBatch(t, mem, []string{"B", "A", "A"}, tt.second)
			defer second.Release()
			_, err = s.Process(context.Background(), second)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got  %v\nwant %s", err, tt.want)
			}
			var ie *InputError
			var ooo *OutOfOrderError
			if !errors.As(err, &ie) && !errors.As(err, &ooo) {
				t.Errorf("%T is not an input error", err)
			}
			// The rejected batch left the stream as it was: the same batch,
			// fixed, is accepted as the second one.
			fixed := timedBatch(t, mem, []string{"B", "A", "A"}, []int64{7000, 7500, 8000})
			defer fixed.Release()
			out, err = s.Process(context.Background(), fixed)
			if err != nil {
				t.Fatal(err)
			}
			out.Release()
		})
	}
}

// TestIntegerTimeSaysHowToConvert: a duration window over an int64 time
// column (epoch milliseconds, the usual case) says how to make it a
// timestamp (issue 10 item 6).
func TestIntegerTimeSaysHowToConvert(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "event_time", Type: arrow.PrimitiveTypes.Int64},
		{Name: "trade_price", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	_, err := NewStream([]ir.Spec{{Name: "m", Formula: "rolling_mean(close, '1s')"}}, schema, Options{})
	var nf *NoFeaturesError
	if !errors.As(err, &nf) {
		t.Fatalf("err = %v", err)
	}
	want := `m: rolling_mean('1s'): duration windows need "event_time" to be a timestamp, it is int64: integers order the rows but carry no unit; ` +
		`convert them (pandas: pd.to_datetime(df["event_time"], unit="ms", utc=True); fdag compute and fdag ingest: --time-unit ms)`
	if got := nf.Statuses[0].Error; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
