package flightserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/featuredag/fdag/batch"
)

// The run_batch action: batch.Run over the server's warehouse, the same
// run as `fdag run`, with its progress streamed as action results.

const runBatchDescription = "Body: a fetch ticket ({\"features\", \"symbols\", \"start\", \"end\"}, optional \"source\", \"shard\", \"aliases\", \"max_warmup_gap\") " +
	"with optional \"concurrency\", \"retries\" and \"commit_partial\". Computes into ft_features in one commit (fdag run). " +
	"Results: {\"type\": \"progress\", ...} while it runs, then {\"type\": \"summary\", \"summary\": {...}}."

// runBatchCommand is the body of run_batch.
type runBatchCommand struct {
	fetchCommand
	Concurrency   int  `json:"concurrency"`
	Retries       int  `json:"retries"`
	CommitPartial bool `json:"commit_partial"`
}

// progressEvery spaces progress results, so a run of many small shards
// does not flood the client; phase changes and the last shard always go.
const progressEvery = 250 * time.Millisecond

func (s *service) runBatch(body []byte, stream flight.FlightService_DoActionServer, st *callStats) error {
	const what = "run_batch"
	ctx := stream.Context()
	var c runBatchCommand
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return status.Errorf(codes.InvalidArgument, "%s: %s", what, describeJSONError(body, err))
	}
	if len(c.Features) == 0 || len(c.Symbols) == 0 {
		return status.Errorf(codes.InvalidArgument, "%s: give \"features\" and \"symbols\" (a run writes what it is asked for)", what)
	}
	if c.Retries < 0 || c.Concurrency < 0 {
		return status.Errorf(codes.InvalidArgument, "%s: \"retries\" and \"concurrency\" must not be negative", what)
	}
	req, err := c.request(s)
	if err != nil {
		return err
	}
	shard, err := c.shard()
	if err != nil {
		return err
	}
	wh, release, err := s.batchWarehouse(ctx)
	if err != nil {
		return err
	}
	defer release()
	var (
		last    time.Time
		sendErr error
	)
	send := func(v any) {
		if sendErr != nil {
			return
		}
		b, err := json.Marshal(v)
		if err == nil {
			err = stream.Send(&flight.Result{Body: b})
		}
		sendErr = err
	}
	type progressMsg struct {
		Type string `json:"type"`
		batch.Progress
	}
	sum, err := batch.Run(ctx, wh, batch.RunRequest{
		Request: req, ShardLength: shard, Concurrency: c.Concurrency, Retries: c.Retries, CommitPartial: c.CommitPartial,
		Logger: s.log,
		Progress: func(p batch.Progress) {
			if p.Phase == batch.PhaseShards && p.ShardsDone < p.ShardsTotal && time.Since(last) < progressEvery {
				return
			}
			last = time.Now()
			p.Shard = nil // the summary has every shard
			send(progressMsg{Type: "progress", Progress: p})
		},
	})
	st.rowsIn, st.rowsOut = sum.Totals.RowsIn, sum.Totals.RowsOut
	for _, w := range sum.Warnings {
		s.log.Warn("run_batch: "+w, "run", sum.Run)
	}
	if err != nil {
		if errors.Is(err, batch.ErrNoSymbols) {
			return status.Errorf(codes.InvalidArgument, "%s: %v", what, err)
		}
		return warehouseError(ctx, what, err)
	}
	send(map[string]any{"type": "summary", "summary": sum})
	return sendErr
}
