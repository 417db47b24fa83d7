package flightserver

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/formula"
	"github.com/featuredag/fdag/ir"
)

// The DoAction types. Bodies and results are JSON (docs/flight.md).
const (
	ActionHealth       = "health"
	ActionListFeatures = "list_features"
	ActionValidate     = "validate"
	ActionExplain      = "explain"
	ActionRunBatch     = "run_batch"
	ActionBars         = "bars"
	ActionLabels       = "labels"
)

var actionTypes = []*flight.ActionType{
	{Type: ActionHealth, Description: "Liveness: {\"status\": \"ok\", \"version\", \"uptime_s\"}. Empty body."},
	{Type: ActionListFeatures, Description: "The built-in functions (name, signature, doc, example) and the FeatureTypes of the registry (name, formula, inputs, params, doc). Empty body."},
	{Type: ActionValidate, Description: "Body: the exchange command JSON, with optional \"columns\": {name: type} describing the input (default: cdm_trade_enriched). Result: {\"features\": [{name, status, error}]}."},
	{Type: ActionExplain, Description: "Body: {\"features\": [...]} (optional \"aliases\", \"columns\"). Result: {\"text\": the DAG after CSE with lookbacks, \"dot\": Graphviz}."},
	{Type: ActionRunBatch, Description: runBatchDescription},
	{Type: ActionBars, Description: barsDescription},
	{Type: ActionLabels, Description: labelsDescription},
}

// ListActions lists the actions.
func (s *service) ListActions(_ *flight.Empty, stream flight.FlightService_ListActionsServer) error {
	for _, a := range actionTypes {
		if err := stream.Send(a); err != nil {
			return err
		}
	}
	return nil
}

// DoAction runs one action and sends its JSON result as one Result.
func (s *service) DoAction(act *flight.Action, stream flight.FlightService_DoActionServer) error {
	st := statsFrom(stream.Context())
	st.action = act.GetType()
	var (
		res any
		err error
	)
	switch act.GetType() {
	case ActionHealth:
		res = map[string]any{"status": "ok", "version": version(), "uptime_s": time.Since(s.started).Seconds()}
	case ActionListFeatures:
		res = s.listFeatures()
	case ActionValidate:
		res, err = s.validate(stream.Context(), act.Body, st)
	case ActionExplain:
		res, err = s.explain(stream.Context(), act.Body, st)
	case ActionRunBatch:
		return s.runBatch(act.Body, stream, st) // streams its own results
	case ActionBars:
		res, err = s.runBars(stream.Context(), act.Body, st)
	case ActionLabels:
		res, err = s.runLabels(stream.Context(), act.Body, st)
	default:
		names := make([]string, len(actionTypes))
		for i, a := range actionTypes {
			names[i] = a.Type
		}
		return status.Errorf(codes.InvalidArgument, "unknown action %q; known actions: %s", act.GetType(), strings.Join(names, ", "))
	}
	if err != nil {
		return err
	}
	body, err := json.Marshal(res)
	if err != nil {
		return status.Errorf(codes.Internal, "encoding the %s result: %v", act.GetType(), err)
	}
	return stream.Send(&flight.Result{Body: body})
}

type functionInfo struct {
	Name      string `json:"name"`
	Signature string `json:"signature"`
	Doc       string `json:"doc"`
	Example   string `json:"example"`
	Family    string `json:"family"`
}

type featureTypeInfo struct {
	Name    string         `json:"name"`
	Formula string         `json:"formula"`
	Inputs  []string       `json:"inputs"`
	Params  map[string]any `json:"params"`
	Doc     string         `json:"doc"`
	Source  string         `json:"source"`
}

type listFeaturesResult struct {
	Functions    []functionInfo    `json:"functions"`
	FeatureTypes []featureTypeInfo `json:"feature_types"`
}

func (s *service) listFeatures() listFeaturesResult {
	var out listFeaturesResult
	for _, f := range formula.Functions {
		out.Functions = append(out.Functions, functionInfo{Name: f.Name, Signature: f.Signature(), Doc: f.Doc, Example: f.Example, Family: f.Family})
	}
	for _, name := range s.registry.Names() {
		t, _ := s.registry.Lookup(name)
		inputs := t.Inputs
		if inputs == nil {
			inputs = []string{}
		}
		params := t.Params
		if params == nil {
			params = map[string]any{}
		}
		out.FeatureTypes = append(out.FeatureTypes, featureTypeInfo{Name: t.Name, Formula: t.Formula, Inputs: inputs, Params: params, Doc: t.Doc, Source: t.Source})
	}
	return out
}

type validateResult struct {
	Features []compute.FeatureStatus `json:"features"`
	// Columns is the output schema's column names when some feature runs.
	Columns []string `json:"columns"`
}

func (s *service) validate(ctx context.Context, body []byte, st *callStats) (*validateResult, error) {
	c, err := parseCommand("validate", body)
	if err != nil {
		return nil, err
	}
	st.features = c.names()
	in, err := c.inputSchema()
	if err != nil {
		return nil, err
	}
	cctx, cancel := s.compileContext(ctx)
	defer cancel()
	cs, err := compute.NewStreamContext(cctx, c.Features, in, c.options(s))
	if cctx.Err() != nil {
		return nil, s.compileError(cctx)
	}
	if err != nil {
		var nf *compute.NoFeaturesError
		if errors.As(err, &nf) {
			return &validateResult{Features: nf.Statuses, Columns: []string{}}, nil
		}
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	res := &validateResult{Features: cs.Statuses()}
	out, _ := c.output(cs, in)
	for _, f := range out.Fields() {
		res.Columns = append(res.Columns, f.Name)
	}
	return res, nil
}

type explainResult struct {
	Text string `json:"text"`
	DOT  string `json:"dot"`
}

func (s *service) explain(ctx context.Context, body []byte, st *callStats) (*explainResult, error) {
	c, err := parseCommand("explain", body)
	if err != nil {
		return nil, err
	}
	st.features = c.names()
	var cols []string // nil: unknown input, any name may be a column
	if c.Columns != nil {
		cols = []string{} // given but empty: no name is a column
		for n := range c.Columns {
			cols = append(cols, n)
		}
		sort.Strings(cols)
	}
	cctx, cancel := s.compileContext(ctx)
	defer cancel()
	plan, err := ir.CompileContext(cctx, c.Features, ir.Options{Registry: s.registry, Aliases: c.Aliases, SourceColumns: cols})
	if err != nil {
		return nil, s.compileError(cctx)
	}
	return &explainResult{Text: plan.Explain(), DOT: plan.DOT()}, nil
}
