package catalog

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"

	"github.com/featuredag/fdag/internal/demodata"
)

// syncBuffer is a log sink shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// writers returns a function opening one more Warehouse on the project dir
// (a writer process of its own) and the log they all write to.
func writers(t *testing.T, dir string, mem memory.Allocator) (func() *Warehouse, *syncBuffer) {
	logs := &syncBuffer{}
	return func() *Warehouse {
		w, err := Open(context.Background(), dir, Config{}, Options{Mem: mem, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		return w
	}, logs
}

// Issue 8: two `fdag ingest` at once failed one of them ("branch main has
// changed") in 3 of 3 rounds. Writers are separate processes, each with its
// own catalog connection: here each goroutine opens its own Warehouse on
// the same project directory. Every append must land, and nothing may be
// left behind or warned about.
func TestConcurrentIngestsAllLand(t *testing.T) {
	for _, nw := range []int{2, 4} {
		t.Run(fmt.Sprint(nw), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			ctx := context.Background()
			open, logs := writers(t, t.TempDir(), mem)
			first := open()
			seed := tradesTable(mem, []trade{{"SEED", day0, 1, 1}})
			if _, err := first.Ingest(ctx, TradesTable, tableSource("seed", seed)); err != nil {
				t.Fatal(err)
			}
			seed.Release()
			const rounds = 3
			var wg sync.WaitGroup
			errs := make(chan error, nw*rounds)
			for wi := range nw {
				w := open()
				wg.Add(1)
				go func() {
					defer wg.Done()
					for r := range rounds {
						sym := fmt.Sprintf("S%d", wi)
						tb := tradesTable(mem, []trade{{sym, day0.Add(time.Duration(r) * time.Second), float64(r), int64(100*wi + r)}})
						_, err := w.Ingest(ctx, TradesTable, tableSource(fmt.Sprintf("w%d-r%d", wi, r), tb))
						tb.Release()
						if err != nil {
							errs <- fmt.Errorf("writer %d round %d: %w", wi, r, err)
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			tbl, err := first.ReadTable(ctx, TradesTable, TableQuery{})
			if err != nil {
				t.Fatal(err)
			}
			defer tbl.Release()
			if got, want := tbl.NumRows(), int64(1+nw*rounds); got != want {
				t.Errorf("%d rows, want %d", got, want)
			}
			live, err := liveFilesOf(ctx, first, TradesTable)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range parquetFiles(t, first.Config().localWarehouseDir()) {
				if !live[f] {
					t.Errorf("data file left behind: %s", f)
				}
			}
			if bytes.Contains([]byte(logs.String()), []byte("level=WARN")) {
				t.Errorf("warnings logged:\n%s", logs.String())
			}
		})
	}
}

// liveFilesOf lists, as local paths, the data files of table name that
// any snapshot of its history references: a file a replace deleted is still
// the table's until its snapshot expires; only a file no snapshot knows is
// left behind.
func liveFilesOf(ctx context.Context, w *Warehouse, name string) (map[string]bool, error) {
	tbl, err := w.Table(ctx, name)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, snap := range tbl.Metadata().Snapshots() {
		tasks, err := tbl.Scan(table.WithSnapshotID(snap.SnapshotID)).PlanFiles(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range tasks {
			out[filepath.FromSlash(strings.TrimPrefix(t.File.FilePath(), "file://"))] = true
		}
	}
	return out, nil
}

// Concurrent feature writes are replaces: writers of the same scope leave
// one copy of it (the last writer wins), writers of other scopes keep
// theirs, and a delete that rewrote a partly matching file in an attempt
// that conflicted leaves no file behind.
func TestConcurrentFeatureWrites(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	open, logs := writers(t, t.TempDir(), mem)
	first := open()
	gen := demodata.Generate(demodata.Config{Rows: 6000, Seed: 3, MeanGap: 20 * time.Second}, mem)
	defer gen.Release()
	if _, err := first.Ingest(ctx, TradesTable, tableSource("demo", gen)); err != nil {
		t.Fatal(err)
	}
	// One write first so that later deletes have files to rewrite.
	start, end := day0.Add(20*time.Hour), day0.Add(30*time.Hour)
	both := []string{"BTCUSDT", "ETHUSDT"}
	write := func(w *Warehouse, symbols []string, start, end time.Time) error {
		res, feats, scope := computeNarrow(t, w, mem, symbols, start, end)
		defer res.Release()
		_, err := w.WriteFeatures(ctx, scope, WideToNarrow(res.Table, feats, NarrowOptions{Start: start, End: end, Symbols: symbols, Mem: mem}))
		return err
	}
	if err := write(first, both, day0.Add(18*time.Hour), end); err != nil {
		t.Fatal(err)
	}
	jobs := []struct {
		symbols    []string
		start, end time.Time
	}{
		{[]string{"BTCUSDT"}, start, end}, {[]string{"BTCUSDT"}, start, end},
		{[]string{"ETHUSDT"}, start, end}, {[]string{"BTCUSDT"}, start, end},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		w := open()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = write(w, j.symbols, j.start, j.end)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	// The same as one sequential write of each scope.
	for _, sym := range both {
		got, err := first.ReadFeatures(ctx, nil, []string{sym}, start, end)
		if err != nil {
			t.Fatal(err)
		}
		res, feats, _ := computeNarrow(t, first, mem, []string{sym}, start, end)
		want := countRows(t, WideToNarrow(res.Table, feats, NarrowOptions{Start: start, End: end, Symbols: []string{sym}, Mem: mem}))
		res.Release()
		if got.NumRows() != want {
			t.Errorf("%s: %d rows stored in [start, end), want %d (one copy)", sym, got.NumRows(), want)
		}
		got.Release()
	}
	live, err := liveFilesOf(ctx, first, FeaturesTable)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range parquetFiles(t, filepath.Join(first.Config().localWarehouseDir())) {
		if strings.Contains(f, FeaturesTable) && !live[f] {
			t.Errorf("data file left behind: %s", f)
		}
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("warnings logged:\n%s", logs.String())
	}
}

func countRows(t *testing.T, batches func(yield func(arrow.RecordBatch, error) bool)) int64 {
	t.Helper()
	var n int64
	for rec, err := range batches {
		if err != nil {
			t.Fatal(err)
		}
		n += rec.NumRows()
		rec.Release()
	}
	return n
}
