package flightserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"

	"github.com/featuredag/fdag/batch"
	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/internal/demodata"
)

// runBatchResults runs the action and returns its decoded results.
func runBatchResults(ctx context.Context, c flight.Client, body any) ([]map[string]json.RawMessage, error) {
	b, _ := json.Marshal(body)
	s, err := c.DoAction(ctx, &flight.Action{Type: ActionRunBatch, Body: b})
	if err != nil {
		return nil, err
	}
	var out []map[string]json.RawMessage
	for {
		r, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(r.Body, &m); err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

// TestRunBatch: run_batch streams progress, ends with the summary, and
// leaves in ft_features what the summary says; bad bodies are
// InvalidArgument, a missing source table NotFound.
func TestRunBatch(t *testing.T) {
	_, wh, c := warehouseServer(t)
	ctx := context.Background()
	if _, err := put(t, c, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{catalog.TradesTable}}, demodata.Schema, demoRecords(t, 20_000)); err != nil {
		t.Fatal(err)
	}
	body := map[string]any{
		"features": []map[string]string{{"name": "ret_1", "formula": "log(close) - log(lag(close, 1))"}, {"name": "ma_20", "formula": "rolling_mean(close, 20)"}},
		"symbols":  []string{"BTCUSDT", "ETHUSDT"}, "start": "2024-01-02", "end": "2024-01-04", "shard": "12h", "retries": 1,
	}
	res, err := runBatchResults(ctx, c, body)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) < 3 {
		t.Fatalf("%d results, want progress then a summary", len(res))
	}
	var phases []string
	for _, r := range res[:len(res)-1] {
		var typ string
		var p batch.Progress
		json.Unmarshal(r["type"], &typ)
		b, _ := json.Marshal(r)
		json.Unmarshal(b, &p)
		if typ != "progress" || p.ShardsTotal != 8 {
			t.Errorf("progress result %s", b)
		}
		phases = append(phases, p.Phase)
	}
	if phases[len(phases)-1] != batch.PhaseCommitted {
		t.Errorf("phases %v", phases)
	}
	var sum batch.Summary
	if err := json.Unmarshal(res[len(res)-1]["summary"], &sum); err != nil {
		t.Fatal(err)
	}
	if !sum.Committed || sum.Totals.Shards != 8 || sum.Totals.RowsOut != 2*sum.Totals.RowsIn || sum.Totals.RowsIn == 0 {
		t.Fatalf("summary totals %+v", sum.Totals)
	}
	stored, err := wh.ReadFeatures(ctx, nil, nil, day0, day0.AddDate(0, 0, 2))
	if err != nil {
		t.Fatal(err)
	}
	if stored.NumRows() != sum.Totals.RowsOut {
		t.Errorf("ft_features holds %d rows, the summary says %d", stored.NumRows(), sum.Totals.RowsOut)
	}
	stored.Release()

	for name, tc := range map[string]struct {
		edit func(map[string]any)
		code codes.Code
	}{
		"no symbols":  {func(b map[string]any) { delete(b, "symbols") }, codes.InvalidArgument},
		"unknown key": {func(b map[string]any) { b["shards"] = 3 }, codes.InvalidArgument},
		"bad range":   {func(b map[string]any) { b["end"] = "2024-01-01" }, codes.InvalidArgument},
		"no table":    {func(b map[string]any) { b["source"] = "no_such_table" }, codes.NotFound},
		"negative":    {func(b map[string]any) { b["retries"] = -1 }, codes.InvalidArgument},
		"bad formula": {func(b map[string]any) { b["features"] = []map[string]string{{"name": "x", "formula": "log("}} }, codes.InvalidArgument},
	} {
		t.Run(name, func(t *testing.T) {
			b := map[string]any{}
			for k, v := range body {
				b[k] = v
			}
			tc.edit(b)
			_, err := runBatchResults(ctx, c, b)
			checkStatus(t, err, tc.code)
		})
	}
}
