package flightserver

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/formula"
)

// doAction runs one action and decodes its single JSON result into out.
func doAction(ctx context.Context, c flight.Client, typ string, body []byte, out any) error {
	s, err := c.DoAction(ctx, &flight.Action{Type: typ, Body: body})
	if err != nil {
		return err
	}
	res, err := s.Recv()
	if err != nil {
		return err
	}
	if err := flight.ReadUntilEOF(s); err != nil {
		return err
	}
	return json.Unmarshal(res.Body, out)
}

func TestActions(t *testing.T) {
	ts := startServer(t, Config{})
	c := newClient(t, ts.addr())
	ctx := context.Background()

	t.Run("health", func(t *testing.T) {
		var res struct {
			Status  string  `json:"status"`
			Version string  `json:"version"`
			Uptime  float64 `json:"uptime_s"`
		}
		if err := doAction(ctx, c, ActionHealth, nil, &res); err != nil {
			t.Fatal(err)
		}
		if res.Status != "ok" || res.Version == "" || res.Uptime <= 0 {
			t.Fatalf("%+v", res)
		}
	})

	t.Run("list_features", func(t *testing.T) {
		var res listFeaturesResult
		if err := doAction(ctx, c, ActionListFeatures, nil, &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Functions) != len(formula.Functions) {
			t.Fatalf("%d functions, want %d", len(res.Functions), len(formula.Functions))
		}
		found := false
		for _, f := range res.Functions {
			if f.Name == "rolling_mean" && f.Signature == "rolling_mean(x, w, min_samples=?)" && f.Doc != "" && f.Example != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("rolling_mean missing or incomplete: %+v", res.Functions)
		}
		found = false
		for _, ft := range res.FeatureTypes {
			if ft.Name == "log_return" && strings.Contains(ft.Formula, "lag(price, k)") && len(ft.Inputs) == 1 && ft.Params["k"] != nil && ft.Doc != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("log_return missing or incomplete: %+v", res.FeatureTypes)
		}
	})

	t.Run("validate", func(t *testing.T) {
		var res validateResult
		body := `{"features": [{"name": "ret", "type": "log_return", "inputs": {"price": "close"}},
			{"name": "bad", "formula": "rolling_mean(close"}, {"name": "nope", "type": "no_such_type"},
			{"name": "spread", "formula": "ask - bid"}]}`
		if err := doAction(ctx, c, ActionValidate, []byte(body), &res); err != nil {
			t.Fatal(err)
		}
		want := []string{compute.StatusSuccess, compute.StatusError, compute.StatusError, compute.StatusError}
		if len(res.Features) != len(want) {
			t.Fatalf("%+v", res)
		}
		for i, w := range want {
			if res.Features[i].Status != w {
				t.Errorf("%+v: want %s", res.Features[i], w)
			}
		}
		if !strings.Contains(res.Features[1].Error, "bad: 1:") || !strings.Contains(res.Features[3].Error, "ask") {
			t.Errorf("errors: %+v", res.Features)
		}
		if strings.Join(res.Columns, ",") != "event_time,symbol,ret" {
			t.Errorf("columns %v", res.Columns)
		}
		// With columns: now ask and bid exist.
		body = `{"features": [{"name": "spread", "formula": "ask - bid"}], "time_column": "ts",
			"columns": {"ts": "timestamp", "ask": "float64", "bid": "int64"}}`
		if err := doAction(ctx, c, ActionValidate, []byte(body), &res); err != nil {
			t.Fatal(err)
		}
		if res.Features[0].Status != compute.StatusSuccess {
			t.Errorf("%+v", res)
		}
		// The type strings pyarrow prints (str(schema.field(i).type)) are accepted.
		body = `{"features": [{"name": "spread", "formula": "ask - bid"}], "time_column": "ts",
			"columns": {"ts": "timestamp[us, tz=UTC]", "ask": "double", "bid": "dictionary<values=int64, indices=int32, ordered=0>"}}`
		if err := doAction(ctx, c, ActionValidate, []byte(body), &res); err != nil {
			t.Fatal(err)
		}
		if res.Features[0].Status != compute.StatusSuccess {
			t.Errorf("pyarrow type strings: %+v", res)
		}
		err := doAction(ctx, c, ActionValidate, []byte(`{"features": [{"name": "a", "formula": "x"}], "columns": {"x": "decimal"}}`), &res)
		checkStatus(t, err, codes.InvalidArgument, `column "x" has type "decimal"`, "float64")
		err = doAction(ctx, c, ActionValidate, []byte(`{"features": [`), &res)
		checkStatus(t, err, codes.InvalidArgument, "malformed JSON")
	})

	t.Run("explain", func(t *testing.T) {
		var res explainResult
		body := cmdJSON(t, map[string]any{"features": testFeatures})
		if err := doAction(ctx, c, ActionExplain, body, &res); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(res.Text, "ma_20") || !strings.HasPrefix(res.DOT, "digraph") {
			t.Fatalf("%+v", res)
		}
	})

	t.Run("unknown action", func(t *testing.T) {
		var res any
		err := doAction(ctx, c, "compute_everything", nil, &res)
		checkStatus(t, err, codes.InvalidArgument, `unknown action "compute_everything"`, "health, list_features, validate, explain")
	})

	t.Run("list_actions", func(t *testing.T) {
		s, err := c.ListActions(ctx, &flight.Empty{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for {
			a, err := s.Recv()
			if err != nil {
				break
			}
			if a.Description == "" {
				t.Errorf("%s has no description", a.Type)
			}
			names = append(names, a.Type)
		}
		if strings.Join(names, ",") != "health,list_features,validate,explain,run_batch,bars,labels" {
			t.Fatalf("%v", names)
		}
	})

	t.Run("get_schema", func(t *testing.T) {
		desc := &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: featuresCmd(t, testFeatures)}
		res, err := c.GetSchema(ctx, desc)
		if err != nil {
			t.Fatal(err)
		}
		s, err := flight.DeserializeSchema(res.Schema, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		rec := tradeRecord(t, memory.DefaultAllocator, 1, 10)
		defer rec.Release()
		want := oneShot(t, rec, testFeatures)
		defer want.Release()
		// The default columns are cdm_trade_enriched: the same output
		// fields as the test trades (timestamp[us, UTC], string symbol).
		if !s.Equal(want.Table.Schema()) {
			t.Fatalf("\n got %s\nwant %s", s, want.Table.Schema())
		}
		_, err = c.GetSchema(ctx, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"features": [{"name": "x", "type": "nope"}]}`)})
		checkStatus(t, err, codes.InvalidArgument, "no requested feature can be computed", "nope")
		_, err = c.GetSchema(ctx, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"x"}})
		checkStatus(t, err, codes.InvalidArgument, "CMD descriptor")
	})

	t.Run("grpc health", func(t *testing.T) {
		conn := healthpb.NewHealthClient(grpcConn(t, ts.addr(), nil))
		res, err := conn.Check(ctx, &healthpb.HealthCheckRequest{Service: "arrow.flight.protocol.FlightService"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatal(res.Status)
		}
	})

	// One log line per call, with the fields the issue asks for.
	logs := ts.logs.String()
	for _, w := range []string{"method=DoAction action=validate", "n_features=4", "bytes_in=", "bytes_out=", "duration=", "status=OK", "status=InvalidArgument", "method=GetSchema"} {
		if !strings.Contains(logs, w) {
			t.Errorf("logs lack %q:\n%s", w, logs)
		}
	}
}

func TestExchangeLogLine(t *testing.T) {
	ts := startServer(t, Config{})
	c := newClient(t, ts.addr())
	rec := tradeRecord(t, memory.DefaultAllocator, 1, 500)
	defer rec.Release()
	res, err := exchange(context.Background(), t, c, featuresCmd(t, testFeatures[:3]), rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	res.release()
	// The log line is written after the handler returns, which may be
	// just after the client saw the end of the stream.
	waitFor(t, func() bool { return strings.Contains(ts.logs.String(), "method=DoExchange") })
	logs := ts.logs.String()
	for _, w := range []string{"n_features=3 features=ret_1,ret_5,ma_20 rows_in=500 rows_out=500", "status=OK"} {
		if !strings.Contains(logs, w) {
			t.Errorf("logs lack %q:\n%s", w, logs)
		}
	}
}
