package catalog

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// The ingest rule for repeated trades (docs/warehouse.md, "Ingest"): a
// table whose definition has a Key (cdm_trade_enriched: symbol, trade_id)
// never receives a second row with the same key. Ingest skips every row
// whose (symbol, trade_id) the table already holds, or an earlier row of
// the same ingest held, and counts them (IngestStats.Duplicates), so
// re-ingesting a file, or two overlapping dumps, adds each trade once. A
// trade's id and time go together, so the ids already stored are read from
// the (symbol, day) partitions the new rows fall in, not the whole table.
//
// Rows with a null trade_id have no key: they are appended as they are
// (two trades of the same time, price and size are legitimate, so a row
// cannot be told from a repeat by its values) and counted apart
// (IngestStats.WithoutKey): a source without trade ids is not protected
// against being ingested twice, and the command line says so.
//
// Concurrent ingests: the check reads the snapshot the ingest started
// from; if another writer commits first, the commit re-reads the touched
// partitions and fails (ErrConcurrentIngest, nothing written) when that
// writer added any of the same trades; otherwise it commits on top.

// ErrConcurrentIngest is an ingest refused because a writer that committed
// during it added trades of the same keys. Nothing of the ingest was
// committed; running it again adds the rows that are still missing.
var ErrConcurrentIngest = fmt.Errorf("a concurrent ingest committed some of the same trades first")

// dayMicros is one UTC day in microseconds.
const dayMicros = int64(24 * time.Hour / time.Microsecond)

// dedupKey is one (symbol, UTC day) partition of the key table.
type dedupKey struct {
	symbol string
	day    int64 // days since the epoch
}

// dedup drops the rows of an ingest whose key is already present. It is
// built per ingest and grows with the ids of the partitions it touches.
type dedup struct {
	w       *Warehouse
	name    string
	base    *table.Table // the snapshot the stored ids are read from
	timeCol string
	idCol   string // the key's id column (Key[1])
	// ids are the known trade ids of each symbol
	ids    map[string]*keySet
	loaded map[dedupKey]bool

	duplicates, withoutKey int64
}

func newDedup(w *Warehouse, name string, tbl *table.Table, def TableDef) *dedup {
	if len(def.Key) == 0 {
		return nil
	}
	return &dedup{w: w, name: name, base: tbl, timeCol: def.TimeColumn, idCol: def.Key[1],
		ids: map[string]*keySet{}, loaded: map[dedupKey]bool{}}
}

// filter returns rec without the rows whose key is known, and records the
// keys of the rows it keeps. rec is a conformed batch (the table's schema);
// the caller releases both.
func (d *dedup) filter(ctx context.Context, rec arrow.RecordBatch, mem memory.Allocator) (arrow.RecordBatch, error) {
	sc := rec.Schema()
	sym := rec.Column(sc.FieldIndices(ColSymbol)[0]).(*array.String)
	ids := rec.Column(sc.FieldIndices(d.idCol)[0]).(*array.Int64)
	ts := rec.Column(sc.FieldIndices(d.timeCol)[0]).(*array.Timestamp)
	n := int(rec.NumRows())
	for i := 0; i < n; i++ { // load the stored ids of every partition first seen here
		if ids.IsNull(i) {
			continue
		}
		k := dedupKey{sym.Value(i), floorDiv(int64(ts.Value(i)), dayMicros)}
		if !d.loaded[k] {
			if err := d.load(ctx, d.base, k, nil); err != nil {
				return nil, err
			}
			d.loaded[k] = true
		}
	}
	keep := array.NewBooleanBuilder(mem)
	defer keep.Release()
	keep.Reserve(n)
	dropped := 0
	for i := 0; i < n; i++ {
		if ids.IsNull(i) {
			d.withoutKey++
			keep.UnsafeAppend(true)
			continue
		}
		m := d.symbolIDs(sym.Value(i))
		id := ids.Value(i)
		if m.has(id) {
			d.duplicates++
			dropped++
			keep.UnsafeAppend(false)
			continue
		}
		m.add(id)
		keep.UnsafeAppend(true)
	}
	if dropped == 0 {
		rec.Retain()
		return rec, nil
	}
	mask := keep.NewArray()
	defer mask.Release()
	out, err := compute.FilterRecordBatch(compute.WithAllocator(ctx, mem), rec, mask, compute.DefaultFilterOptions())
	if err != nil {
		return nil, fmt.Errorf("dropping duplicate trades: %w", err)
	}
	return out, nil
}

func (d *dedup) symbolIDs(symbol string) *keySet {
	m := d.ids[symbol]
	if m == nil {
		m = &keySet{}
		d.ids[symbol] = m
	}
	return m
}

// keySet is one symbol's known trade ids: those stored (sorted) and those
// this ingest adds. Exchange files list trades in id order, so the added
// ids are kept as an ascending slice (append, binary search) and only
// turn into a map when an id comes out of order: a map insert per row
// cost about as much as the rest of an ingest (BenchmarkDedupFilter).
type keySet struct {
	stored   []int64
	added    []int64            // ascending, while addedMap is nil
	addedMap map[int64]struct{} // every added id, once they came out of order
}

func (k *keySet) has(id int64) bool {
	if _, ok := slices.BinarySearch(k.stored, id); ok {
		return true
	}
	return k.hasAdded(id)
}

func (k *keySet) hasAdded(id int64) bool {
	if k.addedMap != nil {
		_, ok := k.addedMap[id]
		return ok
	}
	_, ok := slices.BinarySearch(k.added, id)
	return ok
}

func (k *keySet) add(id int64) {
	switch {
	case k.addedMap != nil:
		k.addedMap[id] = struct{}{}
	case len(k.added) == 0 || id > k.added[len(k.added)-1]:
		k.added = append(k.added, id)
	default:
		k.addedMap = make(map[int64]struct{}, 2*len(k.added)+1)
		for _, a := range k.added {
			k.addedMap[a] = struct{}{}
		}
		k.addedMap[id] = struct{}{}
		k.added = nil
	}
}

// load reads the trade ids of partition k of tbl. With clash nil it
// records them as stored; otherwise it calls clash for each id this ingest
// added (the recheck against a newer snapshot).
func (d *dedup) load(ctx context.Context, tbl *table.Table, k dedupKey, clash func(id int64)) error {
	if tbl.CurrentSnapshot() == nil {
		return nil
	}
	day := k.day * dayMicros
	filter := iceberg.NewAnd(iceberg.EqualTo(iceberg.Reference(ColSymbol), k.symbol),
		iceberg.NewAnd(iceberg.GreaterThanEqual(iceberg.Reference(d.timeCol), iceberg.Timestamp(day)),
			iceberg.LessThan(iceberg.Reference(d.timeCol), iceberg.Timestamp(day+dayMicros))))
	_, recs, err := tbl.Scan(table.WithRowFilter(filter), table.WithSelectedFields(d.idCol)).ToArrowRecords(ctx)
	if err != nil {
		return fmt.Errorf("reading the trade ids stored for %s on %s: %w", k.symbol, time.UnixMicro(day).UTC().Format(time.DateOnly), err)
	}
	m := d.symbolIDs(k.symbol)
	for rec, err := range recs {
		if err != nil {
			return fmt.Errorf("reading the trade ids stored for %s: %w", k.symbol, err)
		}
		col := rec.Column(0).(*array.Int64)
		for i := 0; i < col.Len(); i++ {
			if col.IsNull(i) {
				continue
			}
			id := col.Value(i)
			if clash == nil {
				m.stored = append(m.stored, id)
			} else if m.hasAdded(id) {
				clash(id)
			}
		}
		rec.Release()
	}
	if clash == nil {
		slices.Sort(m.stored)
	}
	return nil
}

// recheck is the commit's check on the table as it is now: when another
// writer committed since the ingest read its ids, no trade this ingest
// adds may have arrived with that commit.
func (d *dedup) recheck(ctx context.Context, cur *table.Table) error {
	if currentSnapshotID(cur) == currentSnapshotID(d.base) {
		return nil
	}
	var clashes int64
	var first dedupKey
	for k := range d.loaded {
		if err := d.load(ctx, cur, k, func(int64) {
			if clashes == 0 {
				first = k
			}
			clashes++
		}); err != nil {
			return err
		}
	}
	if clashes > 0 {
		return fmt.Errorf("%s: %w (%d trades, e.g. %s on %s); nothing was written, run the ingest again to add the rest",
			d.name, ErrConcurrentIngest, clashes, first.symbol, time.UnixMicro(first.day*dayMicros).UTC().Format(time.DateOnly))
	}
	d.base = cur
	return nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
