package batch

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/internal/testhook"
)

// runEnv is a temporary project with demo trades of BTCUSDT and ETHUSDT
// over about three days from day0.
type runEnv struct {
	dir string
	wh  *catalog.Warehouse
	mem *memory.CheckedAllocator
}

func newRunEnv(t *testing.T) *runEnv {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	dir := t.TempDir()
	wh, err := catalog.Open(context.Background(), dir, catalog.Config{}, catalog.Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	ingestDemo(t, wh, mem)
	return &runEnv{dir: dir, wh: wh, mem: mem}
}

func (e *runEnv) request() RunRequest {
	return RunRequest{
		Request: Request{Specs: shardSpecs, Symbols: []string{"BTCUSDT", "ETHUSDT"},
			Start: day0.Add(6 * time.Hour), End: day0.Add(54 * time.Hour), Mem: e.mem},
		ShardLength: 12 * time.Hour,
	}
}

// dataFiles lists the Parquet files of ft_features on disk.
func (e *runEnv) dataFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	root := filepath.Join(e.dir, catalog.StateDir, "warehouse")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") && strings.Contains(p, catalog.FeaturesTable) {
			out = append(out, p)
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// snapshot is ft_features' current snapshot id (0: none or no table).
func (e *runEnv) snapshot(t *testing.T) int64 {
	tbl, err := e.wh.LoadTable(context.Background(), catalog.FeaturesTable)
	if errors.Is(err, catalog.ErrNoTable) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	if s := tbl.CurrentSnapshot(); s != nil {
		return s.SnapshotID
	}
	return 0
}

// narrowRows counts ft_features rows by status.
func (e *runEnv) narrowRows(t *testing.T, symbols ...string) map[string]int64 {
	t.Helper()
	tbl, err := e.wh.ReadTable(context.Background(), catalog.FeaturesTable, catalog.TableQuery{Symbols: symbols, Columns: []string{"status"}})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	out := map[string]int64{}
	for _, c := range tbl.Column(0).Data().Chunks() {
		s := c.(*array.String)
		for i := range s.Len() {
			out[s.Value(i)]++
		}
	}
	return out
}

// TestRun: a run of 2 symbols x 5 shards commits in one snapshot exactly
// the rows a whole-range Compute gives, the summary adds up, and a second
// run of the same request replaces the rows instead of adding to them.
func TestRun(t *testing.T) {
	e := newRunEnv(t)
	ctx := context.Background()
	req := e.request()
	var progress []Progress
	req.Progress = func(p Progress) { progress = append(progress, p) }
	sum, err := Run(ctx, e.wh, req)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Committed || sum.Totals.Shards != 10 || sum.Totals.ShardsOK != 10 || sum.Totals.ShardsFailed != 0 {
		t.Fatalf("summary %+v", sum.Totals)
	}
	if got := sum.Features[len(sum.Features)-1]; got.Name != "broken" || got.Status != compute.StatusError || got.ShardsFailed != 0 || !strings.Contains(got.Error, "no_such_column") {
		t.Errorf("broken feature: %+v", got)
	}
	if sum.Totals.FeaturesOK != len(shardSpecs)-1 || sum.Totals.FeaturesFailed != 1 {
		t.Errorf("features ok/failed %d/%d", sum.Totals.FeaturesOK, sum.Totals.FeaturesFailed)
	}
	// Every row of the range, per feature that runs, plus one error row
	// per (shard, broken feature).
	var want int64
	for _, sym := range req.Symbols {
		res, err := Compute(ctx, e.wh, Request{Specs: shardSpecs, Symbols: []string{sym}, Start: req.Start, End: req.End, Mem: e.mem})
		if err != nil {
			t.Fatal(err)
		}
		want += res.Table.NumRows() * int64(len(shardSpecs)-1)
		if sym == "BTCUSDT" {
			checkStoredValues(t, e, sym, "ma_50", res.Table)
		}
		res.Release()
	}
	rows := e.narrowRows(t)
	if rows[catalog.StatusSuccess] != want || rows[catalog.StatusError] != 10 {
		t.Errorf("ft_features rows %v, want %d success and 10 error", rows, want)
	}
	if sum.Totals.RowsOut != want+10 {
		t.Errorf("summary rows out %d, want %d", sum.Totals.RowsOut, want+10)
	}
	var in int64
	for _, s := range sum.Shards {
		in += s.RowsIn
		if s.Status != ShardOK || s.FeaturesOK != 6 || s.FeaturesFailed != 1 || s.Seconds <= 0 {
			t.Errorf("shard %+v", s)
		}
	}
	if in != sum.Totals.RowsIn || in*int64(len(shardSpecs)-1) != want {
		t.Errorf("rows in: shards %d, totals %d; want %d", in, sum.Totals.RowsIn, want/6)
	}
	if sum.Timing.Read <= 0 || sum.Timing.Compute <= 0 || sum.Timing.Write <= 0 || sum.Timing.Commit <= 0 || sum.Timing.Wall <= 0 {
		t.Errorf("timing %+v", sum.Timing)
	}
	if len(sum.Warnings) != 0 {
		t.Errorf("warnings %q", sum.Warnings)
	}
	if n := len(progress); n != 12 || progress[9].ShardsDone != 10 || progress[10].Phase != PhaseCommit || progress[11].Phase != PhaseCommitted {
		t.Errorf("%d progress reports: %+v", n, progress)
	}
	if _, err := json.Marshal(sum); err != nil {
		t.Error(err)
	}

	// the same run again, one shard at a time: the same rows, replaced
	req.Concurrency = 1
	req.Progress = nil
	if _, err := Run(ctx, e.wh, req); err != nil {
		t.Fatal(err)
	}
	if again := e.narrowRows(t); again[catalog.StatusSuccess] != want || again[catalog.StatusError] != 10 {
		t.Errorf("after a second run: %v, want %d success and 10 error", again, want)
	}
}

// checkStoredValues compares the stored rows of one feature with a wide
// column computed in one go over the whole range, as sorted (time, value)
// pairs (times can repeat).
func checkStoredValues(t *testing.T, e *runEnv, sym, feature string, wide arrow.Table) {
	t.Helper()
	stored, err := e.wh.ReadFeatures(context.Background(), []string{feature}, []string{sym}, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer stored.Release()
	type pair struct {
		t int64
		v float64
	}
	pairs := func(tbl arrow.Table, timeCol, valueCol string) []pair {
		var out []pair
		ts := tbl.Column(tbl.Schema().FieldIndices(timeCol)[0]).Data().Chunks()
		vs := tbl.Column(tbl.Schema().FieldIndices(valueCol)[0]).Data().Chunks()
		for ci := range ts {
			tc, vc := ts[ci].(*array.Timestamp), vs[ci].(*array.Float64)
			for i := range tc.Len() {
				if vc.IsValid(i) {
					out = append(out, pair{int64(tc.Value(i)), vc.Value(i)})
				}
			}
		}
		slices.SortFunc(out, func(a, b pair) int {
			if a.t != b.t {
				return cmp.Compare(a.t, b.t)
			}
			return cmp.Compare(a.v, b.v)
		})
		return out
	}
	got, want := pairs(stored, catalog.ColTimestamp, "feature_value_numeric"), pairs(wide, catalog.ColEventTime, feature)
	if len(want) < 1000 || len(got) != len(want) {
		t.Errorf("%s %s: %d stored values, %d computed", sym, feature, len(got), len(want))
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s %s value %d: stored %+v, computed %+v", sym, feature, i, got[i], want[i])
			return
		}
	}
}

// TestRunRetries: a shard failing twice succeeds at its third attempt.
func TestRunRetries(t *testing.T) {
	e := newRunEnv(t)
	t.Setenv(testhook.Env, "shard.start@ETHUSDT=fail:2")
	req := e.request()
	req.Retries = 2
	sum, err := Run(context.Background(), e.wh, req)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Totals.Retries != 2 || sum.Totals.ShardsFailed != 0 || !sum.Committed {
		t.Errorf("totals %+v", sum.Totals)
	}
}

// TestRunFailedShard: a shard failing after its retries fails the run,
// commits nothing and leaves no staged file; with CommitPartial the good
// shards are committed and each failed one is recorded as error rows.
func TestRunFailedShard(t *testing.T) {
	e := newRunEnv(t)
	ctx := context.Background()
	req := e.request()
	if _, err := Run(ctx, e.wh, req); err != nil { // rows to keep
		t.Fatal(err)
	}
	snap, files, rows := e.snapshot(t), e.dataFiles(t), e.narrowRows(t)

	t.Setenv(testhook.Env, "shard.start@ETHUSDT [2024-01-03T12:00:00Z=fail")
	req.Retries = 1
	sum, err := Run(ctx, e.wh, req)
	if err == nil || !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "ETHUSDT [2024-01-03T12:00:00Z") {
		t.Fatalf("run with a failing shard: %v", err)
	}
	if sum.Committed || e.snapshot(t) != snap {
		t.Error("a failed run committed")
	}
	if got := e.dataFiles(t); !slices.Equal(got, files) {
		t.Errorf("a failed run left files: %d before, %d after", len(files), len(got))
	}

	req.CommitPartial = true
	sum, err = Run(ctx, e.wh, req)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Committed || sum.Totals.ShardsFailed != 1 || sum.Totals.ShardsOK != 9 || sum.Totals.Retries != 1 {
		t.Fatalf("partial run: %+v", sum.Totals)
	}
	var failed ShardSummary
	for _, s := range sum.Shards {
		if s.Status == ShardError {
			failed = s
		}
	}
	if failed.Symbol != "ETHUSDT" || !failed.Start.Equal(day0.Add(36*time.Hour)) || !strings.Contains(failed.Error, "injected failure") {
		t.Errorf("failed shard %+v", failed)
	}
	eth := e.narrowRows(t, "ETHUSDT")
	// one error row per feature for the failed shard, one per good shard
	// for the broken feature
	if eth[catalog.StatusError] != int64(len(shardSpecs))+4 || eth[catalog.StatusSuccess] >= rows[catalog.StatusSuccess]/2 {
		t.Errorf("ETHUSDT rows after the partial run: %v (before: %v over both symbols)", eth, rows)
	}
	if btc := e.narrowRows(t, "BTCUSDT"); btc[catalog.StatusError] != 5 {
		t.Errorf("BTCUSDT rows after the partial run: %v", btc)
	}
}

// TestRunCancel: cancelling a run stops it, commits nothing and removes
// what the finished shards staged.
func TestRunCancel(t *testing.T) {
	e := newRunEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := e.request()
	req.Concurrency = 1
	req.Progress = func(p Progress) {
		if p.ShardsDone == 2 {
			cancel()
		}
	}
	sum, err := Run(ctx, e.wh, req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	if sum.Committed || e.snapshot(t) != 0 {
		t.Error("a cancelled run committed")
	}
	if files := e.dataFiles(t); len(files) != 0 {
		t.Errorf("a cancelled run left %d files", len(files))
	}
}

// TestRunEmptyWarnings: a symbol without rows and shards past the data are
// warnings, not a silent success.
func TestRunEmptyWarnings(t *testing.T) {
	e := newRunEnv(t)
	req := e.request()
	req.Symbols = []string{"BTCUSDT", "NOSUCH"}
	req.End = day0.Add(5 * 24 * time.Hour)
	req.ShardLength = DefaultShard
	sum, err := Run(context.Background(), e.wh, req)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"symbol BTCUSDT has no rows in cdm_trade_enriched in 2 of its 5 shards: [2024-01-05, 2024-01-06), [2024-01-06, 2024-01-07)",
		"symbol NOSUCH has no rows in cdm_trade_enriched in [2024-01-02T06:00:00Z, 2024-01-07)",
	}
	if !slices.Equal(sum.Warnings, want) {
		t.Errorf("warnings\n%q\nwant\n%q", sum.Warnings, want)
	}
}

func TestShardConfigJSON(t *testing.T) {
	req := RunRequest{Request: Request{Specs: shardSpecs[:2], Symbols: []string{"A"}, Start: day0, End: day0.Add(48 * time.Hour),
		Aliases: map[string]string{"close": "trade_price"}}}
	shards, err := req.Plan("0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(shards[1])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"run":"0123456789abcdef","index":1,"symbol":"A","start":"2024-01-03T00:00:00Z","end":"2024-01-04T00:00:00Z",` +
		`"features":[{"name":"lag_3","formula":"lag(close, 3)"},{"name":"ma_50","formula":"rolling_mean(close, 50)"}],"aliases":{"close":"trade_price"}}`
	if string(data) != want {
		t.Errorf("ShardConfig JSON\n%s\nwant\n%s", data, want)
	}
	var back ShardConfig
	if err := json.Unmarshal(data, &back); err != nil || back.String() != shards[1].String() || back.Run != shards[1].Run {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}
