package batch

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
)

// runDistributed plans a run, runs every shard through JSON as a worker
// in another process would, and returns the plan and the outcomes.
func runDistributed(t *testing.T, e *runEnv, req RunRequest, run string) (RunPlan, []ShardOutcome) {
	t.Helper()
	ctx := context.Background()
	plan, err := PlanRun(ctx, e.wh, req, run)
	if err != nil {
		t.Fatal(err)
	}
	plan = roundTrip(t, plan)
	outcomes := make([]ShardOutcome, len(plan.Shards))
	for i, cfg := range plan.Shards {
		res, err := RunShard(ctx, e.wh, roundTrip(t, cfg), ShardOptions{Mem: e.mem})
		if err != nil {
			t.Fatal(err)
		}
		res = roundTrip(t, res)
		outcomes[i] = ShardOutcome{Result: &res, Seconds: 0.5}
	}
	return plan, outcomes
}

func roundTrip[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDistributedRunMatchesRun: PlanRun, RunShard per shard (through JSON)
// and CommitShards write what Run writes, with the same summary; the same
// commit again commits nothing and says so.
func TestDistributedRunMatchesRun(t *testing.T) {
	e := newRunEnv(t)
	ctx := context.Background()
	req := e.request()
	seq, err := Run(ctx, e.wh, req)
	if err != nil {
		t.Fatal(err)
	}
	want := e.narrowRows(t)

	plan, outcomes := runDistributed(t, e, req, "")
	if len(plan.Shards) != len(seq.Shards) || plan.Run == "" || plan.Run == seq.Run {
		t.Fatalf("plan: %d shards, run %q (sequential %d, %q)", len(plan.Shards), plan.Run, len(seq.Shards), seq.Run)
	}
	sum, err := CommitShards(ctx, e.wh, plan, outcomes, CommitOptions{Mem: e.mem})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Committed || sum.Totals != seq.Totals || len(sum.Features) != len(seq.Features) || len(sum.Warnings) != 0 {
		t.Fatalf("distributed summary %+v (warnings %v), sequential %+v", sum.Totals, sum.Warnings, seq.Totals)
	}
	for i := range sum.Shards {
		if g, w := sum.Shards[i], seq.Shards[i]; g.RowsIn != w.RowsIn || g.RowsOut != w.RowsOut || g.Status != w.Status || g.Seconds != 0.5 {
			t.Errorf("shard %d: %+v, sequential %+v", i, g, w)
		}
	}
	if got := e.narrowRows(t); !maps.Equal(got, want) {
		t.Fatalf("ft_features %v after the distributed run, %v after the sequential one", got, want)
	}
	snap, files := e.snapshot(t), e.dataFiles(t)

	again, err := CommitShards(ctx, e.wh, plan, outcomes, CommitOptions{Mem: e.mem})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Committed || again.SnapshotID != sum.SnapshotID || len(again.Warnings) != 1 || !strings.Contains(again.Warnings[0], "already committed") {
		t.Fatalf("repeated commit: snapshot %d (first %d), warnings %v", again.SnapshotID, sum.SnapshotID, again.Warnings)
	}
	if e.snapshot(t) != snap || !slices.Equal(e.dataFiles(t), files) || !maps.Equal(e.narrowRows(t), want) {
		t.Fatal("a repeated commit changed ft_features")
	}
}

// TestDistributedFailedShard: one shard failing after its retries fails
// the commit, which commits nothing and removes every staged file; Abort
// does the same for outcomes that all succeeded.
func TestDistributedFailedShard(t *testing.T) {
	e := newRunEnv(t)
	ctx := context.Background()
	req := e.request()
	before := e.dataFiles(t)
	for _, abort := range []bool{false, true} {
		plan, outcomes := runDistributed(t, e, req, "")
		if !abort {
			discard(e.wh, []ShardResult{*outcomes[3].Result}) // a failed shard leaves no files
			outcomes[3] = ShardOutcome{Error: "worker lost", Retries: 3}
		}
		sum, err := CommitShards(ctx, e.wh, plan, outcomes, CommitOptions{Mem: e.mem, Abort: abort})
		if err == nil || sum.Committed {
			t.Fatalf("abort=%v: committed %v, err %v", abort, sum.Committed, err)
		}
		if !abort && (sum.Totals.ShardsFailed != 1 || sum.Shards[3].Error != "worker lost" || sum.Shards[3].Retries != 3 || !strings.Contains(err.Error(), "worker lost")) {
			t.Errorf("summary of the failed shard: %+v; err %v", sum.Shards[3], err)
		}
		if e.snapshot(t) != 0 {
			t.Fatalf("abort=%v: ft_features has a snapshot", abort)
		}
		if got := e.dataFiles(t); !slices.Equal(got, before) {
			t.Fatalf("abort=%v: %d staged files left", abort, len(got)-len(before))
		}
	}
	// outcomes that do not belong to the plan are refused
	plan, outcomes := runDistributed(t, e, req, "")
	other, otherOutcomes := runDistributed(t, e, req, "")
	if _, err := CommitShards(ctx, e.wh, other, outcomes, CommitOptions{Mem: e.mem}); err == nil {
		t.Fatal("outcomes of another run committed")
	}
	if _, err := CommitShards(ctx, e.wh, plan, outcomes[:2], CommitOptions{Mem: e.mem}); err == nil {
		t.Fatal("2 outcomes for a plan of more shards committed")
	}
	CommitShards(ctx, e.wh, plan, outcomes, CommitOptions{Mem: e.mem, Abort: true})
	CommitShards(ctx, e.wh, other, otherOutcomes, CommitOptions{Mem: e.mem, Abort: true})
	if e.snapshot(t) != 0 || !slices.Equal(e.dataFiles(t), before) {
		t.Fatal("ft_features changed by refused commits")
	}
}
