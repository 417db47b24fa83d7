package batch

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/ir"
)

// FailedShard is a shard that failed after its retries, recorded in
// ft_features by a partial commit.
type FailedShard struct {
	Shard ShardConfig `json:"shard"`
	Error string      `json:"error"`
}

// CommitRequest is the coordinator's half of a run: the shards' results
// (from any processes) committed in one transaction.
type CommitRequest struct {
	// Run is the run id (ShardConfig.Run): the commit is idempotent per
	// run (catalog.Warehouse.CommitRun), so a coordinator that retries it,
	// or is restarted after it went through, adds the rows once.
	Run string
	// Scope is what the commit replaces: the run's features, symbols and
	// range (RunRequest.Scope).
	Scope   catalog.FeatureScope
	Results []ShardResult
	// Failed shards get one status=error row per feature at their start,
	// with the message (a partial commit); Plan gives the features' ids.
	Failed []FailedShard
	Plan   *ir.Plan
	Mem    memory.Allocator
}

// Commit decodes every shard's staged files and commits them, with the
// error rows of the failed shards, in one transaction that first deletes
// the rows of Scope. ft_features is then as before or holds all of the
// run. When the commit itself fails its outcome may be unknown, so the
// files are left for `fdag gc` (a committed file must never be removed);
// a failure before it removes them.
func Commit(ctx context.Context, wh *catalog.Warehouse, req CommitRequest) (catalog.RunCommit, error) {
	var staged []catalog.StagedFiles
	fail := func(err error) (catalog.RunCommit, error) {
		wh.DiscardStaged(context.WithoutCancel(ctx), staged...)
		discard(wh, req.Results)
		return catalog.RunCommit{}, err
	}
	for _, f := range req.Failed {
		if req.Plan == nil {
			return fail(fmt.Errorf("recording failed shard %s: no plan for the features' ids", f.Shard))
		}
		s, err := stageFailure(ctx, wh, f, req.Plan, req.Mem)
		if err != nil {
			return fail(fmt.Errorf("recording failed shard %s: %w", f.Shard, err))
		}
		staged = append(staged, s)
	}
	var enc [][]byte
	for _, r := range req.Results {
		enc = append(enc, r.Files...)
	}
	files, err := wh.DecodeStaged(ctx, enc)
	if err != nil {
		return fail(err)
	}
	staged = append(staged, files)
	return wh.CommitRun(ctx, req.Run, req.Scope, staged...)
}

// stageFailure stages one error row per feature of plan for the failed
// shard's symbol, at the shard's start.
func stageFailure(ctx context.Context, wh *catalog.Warehouse, f FailedShard, plan *ir.Plan, mem memory.Allocator) (catalog.StagedFiles, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	feats := catalog.FeatureInfos(plan, nil)
	for i := range feats {
		if feats[i].Err == "" {
			feats[i].Err = "shard " + f.Shard.String() + " failed: " + f.Error
		}
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: catalog.ColEventTime, Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: catalog.ColSymbol, Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	empty := array.NewTableFromRecords(schema, nil)
	defer empty.Release()
	narrow := catalog.WideToNarrow(empty, feats, catalog.NarrowOptions{
		Start: f.Shard.Start, End: f.Shard.End, Symbols: []string{f.Shard.Symbol}, Mem: mem,
	})
	return wh.StageFeatures(ctx, narrow, catalog.StagingID{Run: f.Shard.Run, Part: uint32(f.Shard.Index), Attempt: 1 << 31})
}
