package flightserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/featuredag/fdag/bars"
	"github.com/featuredag/fdag/batch"
	"github.com/featuredag/fdag/formula"
	"github.com/featuredag/fdag/labels"
	"github.com/featuredag/fdag/process"
)

// The process-stage actions: process.RunBars and process.RunLabels over
// the server's warehouse, the same runs as `fdag bars` and `fdag labels`.
// They write the warehouse like run_batch and share its limit
// (--max-batch-runs).

const (
	barsDescription = "Body: {\"kinds\": \"tick:500,time:1m\" or a list, \"symbols\": [...], \"start\": DAY, \"end\": DAY, optional \"source\"}. " +
		"Computes one cdm_bars_<kind> table per kind over whole UTC days (fdag bars). Result: the summary {shards, trades, tables, warnings}."
	labelsDescription = "Body: {\"methods\": \"fixed_horizon:h=10,triple_barrier\" or a list, \"symbols\": [...], \"start\": DAY, \"end\": DAY, optional \"source\" (trades or a bar table), \"lookahead\" (default 1d)}. " +
		"Writes cdm_labels over whole UTC days in one commit (fdag labels). Result: the summary {shards, events, specs, warnings, ...}."
)

// processCommand is the body of the bars and labels actions.
type processCommand struct {
	Kinds     specList `json:"kinds"`
	Methods   specList `json:"methods"`
	Symbols   []string `json:"symbols"`
	Start     string   `json:"start"`
	End       string   `json:"end"`
	Source    string   `json:"source"`
	Lookahead string   `json:"lookahead"`
}

// specList is a JSON list of strings or one comma-separated string.
type specList string

func (l *specList) UnmarshalJSON(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		*l = specList(strings.Join(list, ","))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*l = specList(s)
	return nil
}

func (c *processCommand) decode(what string, body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return status.Errorf(codes.InvalidArgument, "%s: %s", what, describeJSONError(body, err))
	}
	return nil
}

// times checks the fields common to both actions.
func (c *processCommand) times(what, listKey string, list specList) (time.Time, time.Time, error) {
	if strings.TrimSpace(string(list)) == "" || len(c.Symbols) == 0 {
		return time.Time{}, time.Time{}, status.Errorf(codes.InvalidArgument, "%s: give %q and \"symbols\"", what, listKey)
	}
	start, err := batch.ParseTime(c.Start)
	if err != nil {
		return time.Time{}, time.Time{}, status.Errorf(codes.InvalidArgument, "%s: start: %v", what, err)
	}
	end, err := batch.ParseTime(c.End)
	if err != nil {
		return time.Time{}, time.Time{}, status.Errorf(codes.InvalidArgument, "%s: end: %v", what, err)
	}
	if !start.Before(end) {
		return time.Time{}, time.Time{}, status.Errorf(codes.InvalidArgument, "%s: start %s is not before end %s", what, c.Start, c.End)
	}
	return start, end, nil
}

// processRunError maps a process run's error: a bad request (times that are
// not midnights, a lookahead too short, a source that is no event table)
// is the client's; the rest as the warehouse's errors.
func processRunError(ctx context.Context, what string, err error) error {
	var re *process.RequestError
	if ctx.Err() == nil && errors.As(err, &re) {
		return status.Errorf(codes.InvalidArgument, "%v", err) // it starts with what
	}
	return warehouseError(ctx, what, err)
}

func (s *service) runBars(ctx context.Context, body []byte, st *callStats) (any, error) {
	const what = "bars"
	var c processCommand
	if err := c.decode(what, body); err != nil {
		return nil, err
	}
	if c.Methods != "" || c.Lookahead != "" {
		return nil, status.Errorf(codes.InvalidArgument, "%s: \"methods\" and \"lookahead\" belong to the labels action", what)
	}
	start, end, err := c.times(what, "kinds", c.Kinds)
	if err != nil {
		return nil, err
	}
	specs, err := bars.ParseSpecs(string(c.Kinds))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%s: kinds: %v", what, err)
	}
	wh, release, err := s.batchWarehouse(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	sum, err := process.RunBars(ctx, wh, process.BarsRequest{Specs: specs, Symbols: c.Symbols, Start: start, End: end,
		Source: c.Source, Mem: s.mem, Log: s.log})
	st.rowsIn = sum.Trades
	if err != nil {
		return nil, processRunError(ctx, what, err)
	}
	for _, t := range sum.Tables {
		st.rowsOut += t.Bars
	}
	return sum, nil
}

func (s *service) runLabels(ctx context.Context, body []byte, st *callStats) (any, error) {
	const what = "labels"
	var c processCommand
	if err := c.decode(what, body); err != nil {
		return nil, err
	}
	if c.Kinds != "" {
		return nil, status.Errorf(codes.InvalidArgument, "%s: \"kinds\" belongs to the bars action", what)
	}
	start, end, err := c.times(what, "methods", c.Methods)
	if err != nil {
		return nil, err
	}
	specs, err := labels.ParseSpecs(string(c.Methods))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%s: methods: %v", what, err)
	}
	var lookahead time.Duration
	if c.Lookahead != "" {
		ns, err := formula.ParseDuration(c.Lookahead)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%s: lookahead: %v", what, err)
		}
		lookahead = time.Duration(ns)
	}
	wh, release, err := s.batchWarehouse(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	sum, err := process.RunLabels(ctx, wh, process.LabelsRequest{Specs: specs, Symbols: c.Symbols, Start: start, End: end,
		Source: c.Source, Lookahead: lookahead, Mem: s.mem, Log: s.log})
	st.rowsIn = sum.Events
	if err != nil {
		return nil, processRunError(ctx, what, err)
	}
	for _, sp := range sum.Specs {
		st.rowsOut += sp.Events
	}
	return sum, nil
}
