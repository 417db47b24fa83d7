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
