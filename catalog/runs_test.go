package catalog

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/internal/demodata"
)

// TestCommitRunIdempotent commits a run's staged files, shipped as bytes
// as a distributed driver does, then repeats the commit: with the same
// files (a retried commit) and with freshly staged ones (the shards re-run
// under the same run id). The table keeps the first commit's rows once, the
// fresh files are removed, and another run id replaces the rows.
func TestCommitRunIdempotent(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	w := openTemp(t, mem)
	gen := demodata.Generate(demodata.Config{Rows: 4000, Seed: 5, MeanGap: 20 * time.Second}, mem)
	defer gen.Release()
	if _, err := w.Ingest(ctx, TradesTable, tableSource("demo", gen)); err != nil {
		t.Fatal(err)
	}
	syms := []string{"ETHUSDT"}
	start, end := day0.Add(2*time.Hour), day0.Add(14*time.Hour)
	stage := func() ([][]byte, FeatureScope) {
		res, feats, scope := computeNarrow(t, w, mem, syms, start, end)
		defer res.Release()
		staged, err := w.StageFeatures(ctx, WideToNarrow(res.Table, feats, NarrowOptions{Start: start, End: end, Symbols: syms, Mem: mem}))
		if err != nil {
			t.Fatal(err)
		}
		enc, err := w.EncodeStaged(ctx, staged)
		if err != nil {
			t.Fatal(err)
		}
		return enc, scope
	}
	commit := func(run string, enc [][]byte, scope FeatureScope) RunCommit {
		t.Helper()
		staged, err := w.DecodeStaged(ctx, enc)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := w.CommitRun(ctx, run, scope, staged)
		if err != nil {
			t.Fatal(err)
		}
		return rc
	}
	stored := func() int64 {
		t.Helper()
		tbl, err := w.ReadFeatures(ctx, nil, nil, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		defer tbl.Release()
		return tbl.NumRows()
	}

	if _, err := w.CommitRun(ctx, "", FeatureScope{}); !errors.Is(err, ErrNoRunID) {
		t.Fatalf("empty run id: %v, want ErrNoRunID", err)
	}
	enc, scope := stage()
	first := commit("run-a", enc, scope)
	if first.AlreadyCommitted || first.Rows == 0 {
		t.Fatalf("first commit: %+v", first)
	}
	if id, ok, err := w.RunSnapshot(ctx, "run-a"); err != nil || !ok || id != first.SnapshotID {
		t.Fatalf("RunSnapshot(run-a) = %d, %v, %v; want %d", id, ok, err, first.SnapshotID)
	}
	if _, ok, _ := w.RunSnapshot(ctx, "run-b"); ok {
		t.Fatal("run-b found before it was committed")
	}

	again := commit("run-a", enc, scope)
	if !again.AlreadyCommitted || again.SnapshotID != first.SnapshotID || again.Discarded != 0 || again.Rows != first.Rows {
		t.Fatalf("repeated commit: %+v, first %+v", again, first)
	}
	if n := stored(); n != first.Rows {
		t.Fatalf("after a repeated commit %d rows stored, want %d", n, first.Rows)
	}

	fresh, _ := stage()
	rerun := commit("run-a", fresh, scope)
	if !rerun.AlreadyCommitted || rerun.Discarded != len(fresh) || rerun.Files != 0 {
		t.Fatalf("commit of re-staged files under a committed run id: %+v (%d files given)", rerun, len(fresh))
	}
	freshFiles, err := w.DecodeStaged(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range freshFiles.Files {
		if _, err := os.Stat(strings.TrimPrefix(f.FilePath(), "file://")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("re-staged file %s not removed: %v", f.FilePath(), err)
		}
	}
	if n := stored(); n != first.Rows {
		t.Fatalf("after a re-staged commit %d rows stored, want %d", n, first.Rows)
	}

	enc, _ = stage()
	other := commit("run-b", enc, scope)
	if other.AlreadyCommitted || other.Rows != first.Rows {
		t.Fatalf("second run: %+v", other)
	}
	if n := stored(); n != first.Rows {
		t.Fatalf("after a second run over the same scope %d rows stored, want %d (one run's rows)", n, first.Rows)
	}
	// run-a's snapshot is still in the ancestry: committing it again is a no-op.
	if rc := commit("run-a", enc, scope); !rc.AlreadyCommitted {
		t.Fatalf("run-a after run-b: %+v", rc)
	}
	if n := stored(); n != first.Rows {
		t.Fatalf("%d rows stored, want %d", n, first.Rows)
	}
}
