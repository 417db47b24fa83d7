package catalog

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
)

// tiedTrades has runs of trades sharing a timestamp, as real fills do
// (one taker order sweeping several makers in the same millisecond).
func tiedTrades() []trade {
	var rows []trade
	id := int64(1000)
	for _, sym := range []string{"ETHUSDT", "BTCUSDT"} {
		for i := range 20 {
			at := day0.Add(time.Duration(i/4) * time.Second) // 4 trades per second, same timestamp
			rows = append(rows, trade{sym, at, 100 + float64(i%7), id})
			id++
		}
	}
	return rows
}

// writeTied ingests tiedTrades and writes ft_features for specs, carrying
// the trade ids as a batch run does.
func writeTied(t *testing.T, w *Warehouse, mem memory.Allocator, specs []ir.Spec) *compute.Result {
	t.Helper()
	ctx := context.Background()
	src := tradesTable(mem, tiedTrades())
	defer src.Release()
	if _, err := w.Ingest(ctx, TradesTable, tableSource("tied", src)); err != nil {
		t.Fatal(err)
	}
	data, err := w.ReadSource(ctx, SourceRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer data.Release()
	res, err := compute.ComputeFeatures(ctx, specs, []compute.Frame{{Name: TradesTable, Table: data.Table}}, compute.Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	plan := ir.Compile(specs, ir.Options{SourceColumns: []string{"symbol", "event_time", "trade_price", "trade_size", "trade_id"}})
	feats := FeatureInfos(plan, res.Statuses)
	scope := FeatureScope{}
	for _, f := range feats {
		scope.Features = append(scope.Features, FeatureKey{f.Name, f.Version})
	}
	ids := data.Table.Column(data.Table.Schema().FieldIndices(ColTradeID)[0]).Data()
	if _, err := w.WriteFeatures(ctx, scope, WideToNarrow(res.Table, feats, NarrowOptions{Mem: mem, TradeIDs: ids})); err != nil {
		res.Release()
		t.Fatal(err)
	}
	return res
}

type narrowRow struct {
	sym, feat string
	ts        int64
	seq       int32
	seqNull   bool
	id        int64
	idNull    bool
	val       float64
}

func narrowRows(t *testing.T, tbl arrow.Table) []narrowRow {
	t.Helper()
	var out []narrowRow
	r := array.NewTableReader(tbl, 0)
	defer r.Release()
	for r.Next() {
		rec := r.RecordBatch()
		col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
		sym, feat, ts := col(ColSymbol).(*array.String), col("feature_name").(*array.String), col(ColTimestamp).(*array.Timestamp)
		seq, id, val := col(ColSeq).(*array.Int32), col(ColTradeID).(*array.Int64), col("feature_value_numeric").(*array.Float64)
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, narrowRow{sym.Value(i), feat.Value(i), int64(ts.Value(i)), seq.Value(i), seq.IsNull(i),
				id.Value(i), id.IsNull(i), val.Value(i)})
		}
	}
	return out
}

// Real trades share timestamps, so (symbol, feature_name, timestamp) is
// not a key of ft_features; (symbol, feature_name, timestamp, seq) is, seq
// counts the tied rows in input (trade id) order, the trade id names the
// source row, and a read returns the rows in time order.
func TestNarrowRowIdentityOnTies(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	w := openTemp(t, mem)
	specs := []ir.Spec{{Name: "px", Formula: "close"}, {Name: "ret_1", Formula: "log(close) - log(lag(close, 1))"}}
	res := writeTied(t, w, mem, specs)
	res.Release()

	stored, err := w.ReadFeatures(ctx, nil, nil, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer stored.Release()
	rows := narrowRows(t, stored)
	if len(rows) != 2*40 {
		t.Fatalf("%d narrow rows, want 80", len(rows))
	}
	// the source row of each (symbol, time, seq)
	bySeq := map[string]trade{}
	seen := map[string]int{}
	for _, tr := range tiedTrades() {
		k := fmt.Sprintf("%s/%d", tr.sym, tr.t.UnixMicro())
		bySeq[fmt.Sprintf("%s/%d", k, seen[k])] = tr
		seen[k]++
	}
	keys := map[string]bool{}
	for i, r := range rows {
		if r.seqNull || r.idNull {
			t.Fatalf("row %d: seq or trade_id null: %+v", i, r)
		}
		k := fmt.Sprintf("%s/%s/%d/%d", r.feat, r.sym, r.ts, r.seq)
		if keys[k] {
			t.Fatalf("duplicate key %s", k)
		}
		keys[k] = true
		src, ok := bySeq[fmt.Sprintf("%s/%d/%d", r.sym, r.ts, r.seq)]
		if !ok || src.id != r.id {
			t.Fatalf("row %+v: source row %+v (found %v)", r, src, ok)
		}
		if r.feat == "px" && r.val != src.px {
			t.Fatalf("row %+v: px %v, source price %v", r, r.val, src.px)
		}
		if i > 0 {
			p := rows[i-1]
			if p.ts > r.ts || (p.ts == r.ts && p.sym > r.sym) || (p.ts == r.ts && p.sym == r.sym && p.seq > r.seq) {
				t.Fatalf("rows %d, %d out of time order: %+v then %+v", i-1, i, p, r)
			}
		}
	}
}

// legacyFeatureSchema is ft_features as created before seq and trade_id.
var legacyFeatureSchema = iceberg.NewSchema(0, FeatureSchema.Fields()[:11]...)

// createOldFeaturesTable creates ft_features as an older fdag did: with
// schema, ft_features' partitioning and only the properties props.
func createOldFeaturesTable(t *testing.T, w *Warehouse, schema *iceberg.Schema, props iceberg.Properties) *table.Table {
	t.Helper()
	spec, err := KnownTables[FeaturesTable].spec()
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := w.cat.CreateTable(context.Background(), w.ident(FeaturesTable), schema,
		icecat.WithPartitionSpec(&spec), icecat.WithProperties(props))
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// A ft_features table created before seq and trade_id existed gains them on
// the next write; its old rows read back with null seq and trade_id.
func TestOldFeaturesTableEvolves(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	w := openTemp(t, mem)
	tbl := createOldFeaturesTable(t, w, legacyFeatureSchema, nil)
	// one row written by the old writer
	old := array.NewRecordBuilder(mem, mustArrowSchema(legacyFeatureSchema))
	defer old.Release()
	for i, f := range old.Fields() {
		switch b := f.(type) {
		case *array.StringBuilder:
			b.Append([]string{"BTCUSDT", "old", "v1.0", "id", "", "signal", "", "", "", "", "success"}[i])
		case *array.TimestampBuilder:
			b.Append(arrow.Timestamp(day0.Add(-time.Hour).UnixMicro()))
		case *array.Float64Builder:
			b.Append(42)
		default:
			b.AppendNull()
		}
	}
	rec := old.NewRecordBatch()
	defer rec.Release()
	oldTbl := array.NewTableFromRecords(rec.Schema(), []arrow.RecordBatch{rec})
	defer oldTbl.Release()
	tx := tbl.NewTransaction()
	if err := tx.AppendTable(ctx, oldTbl, 100, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	res := writeTied(t, w, mem, []ir.Spec{{Name: "px", Formula: "close"}})
	res.Release()
	stored, err := w.ReadFeatures(ctx, nil, nil, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer stored.Release()
	rows := narrowRows(t, stored)
	if len(rows) != 41 {
		t.Fatalf("%d rows, want the old one and 40 new", len(rows))
	}
	if r := rows[0]; r.feat != "old" || !r.seqNull || !r.idNull || r.val != 42 {
		t.Errorf("old row (first in time) reads as %+v, want null seq and trade_id", r)
	}
	for _, r := range rows[1:] {
		if r.seqNull || r.idNull {
			t.Fatalf("new row without identity: %+v", r)
		}
	}
}
