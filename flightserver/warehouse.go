package flightserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/iceberg-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/featuredag/fdag/batch"
	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/formula"
	"github.com/featuredag/fdag/ir"
	"github.com/featuredag/fdag/project"
)

// The warehouse calls (docs/flight.md): DoGet with a fetch ticket (features
// computed from a source table, warmup included) or a table ticket (stored
// rows), GetFlightInfo splitting a fetch into (symbol, shard) endpoints,
// ListFlights listing the tables, DoPut ingesting batches.

// warehouse is the server's warehouse: the one the embedding program gave,
// or the project's, opened on first use (project.Project.Warehouse), so
// that a server used only for DoExchange never creates one.
type warehouse struct {
	project *project.Project // nil: no project
	wh      *catalog.Warehouse
}

func (w *warehouse) get(ctx context.Context) (*catalog.Warehouse, error) {
	if w.wh != nil {
		return w.wh, nil
	}
	if w.project == nil {
		return nil, status.Error(codes.FailedPrecondition, "this server has no warehouse: start fdag-flight with --project DIR")
	}
	wh, err := w.project.Warehouse(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "opening the warehouse: %v", err)
	}
	return wh, nil
}

func (w *warehouse) close() error {
	if w.project != nil {
		return w.project.Close()
	}
	return nil
}

// fetchCommand is the feature ticket of DoGet and the command of
// GetFlightInfo.
type fetchCommand struct {
	Features []ir.Spec         `json:"features"`
	Symbols  []string          `json:"symbols"`
	Start    string            `json:"start"`
	End      string            `json:"end"`
	Source   string            `json:"source"`
	Shard    string            `json:"shard"` // duration of one endpoint's range, default 1d
	Aliases  map[string]string `json:"aliases"`
	// MaxWarmupGap (a duration such as "30d") bounds how far before start
	// the warmup reads; "" reads as far back as the windows need.
	MaxWarmupGap string `json:"max_warmup_gap,omitempty"`
}

// tableTicket reads stored rows of a table.
type tableTicket struct {
	Table   string      `json:"table"`
	Filter  tableFilter `json:"filter"`
	Columns []string    `json:"columns"`
	Limit   int64       `json:"limit"`
}

type tableFilter struct {
	Symbols      []string            `json:"symbols"`
	Start        string              `json:"start"`
	End          string              `json:"end"`
	FeatureNames []string            `json:"feature_names"`
	Equal        map[string][]string `json:"equal"` // string column -> accepted values
}

// parseTicket decodes a fetch or a table ticket (the one with "table").
func parseTicket(what string, data []byte) (*fetchCommand, *tableTicket, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		return nil, nil, status.Errorf(codes.InvalidArgument, "%s: malformed JSON ticket: %s", what, describeJSONError(data, err))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if _, ok := keys["table"]; ok {
		var t tableTicket
		if err := dec.Decode(&t); err != nil {
			return nil, nil, status.Errorf(codes.InvalidArgument, "%s: table ticket: %s", what, describeJSONError(data, err))
		}
		if t.Table == "" {
			return nil, nil, status.Errorf(codes.InvalidArgument, "%s: table ticket: \"table\" is empty", what)
		}
		return nil, &t, nil
	}
	var c fetchCommand
	if err := dec.Decode(&c); err != nil {
		return nil, nil, status.Errorf(codes.InvalidArgument, "%s: fetch ticket: %s", what, describeJSONError(data, err))
	}
	if len(c.Features) == 0 {
		return nil, nil, status.Errorf(codes.InvalidArgument, "%s: the ticket has neither \"table\" (read stored rows) nor \"features\" (compute from %s)", what, catalog.TradesTable)
	}
	return &c, nil, nil
}

func (c *fetchCommand) request(s *service) (batch.Request, error) {
	req := batch.Request{Specs: c.Features, Symbols: c.Symbols, Source: c.Source, Aliases: c.Aliases, Registry: s.registry, Mem: s.mem}
	var err error
	if c.Start == "" || c.End == "" {
		return req, status.Error(codes.InvalidArgument, "the fetch needs \"start\" and \"end\" (ISO 8601): the rows computed are [start, end)")
	}
	if req.Start, err = batch.ParseTime(c.Start); err != nil {
		return req, status.Errorf(codes.InvalidArgument, "start: %v", err)
	}
	if req.End, err = batch.ParseTime(c.End); err != nil {
		return req, status.Errorf(codes.InvalidArgument, "end: %v", err)
	}
	if c.MaxWarmupGap != "" {
		ns, err := formula.ParseDuration(c.MaxWarmupGap)
		if err != nil {
			return req, status.Errorf(codes.InvalidArgument, "max_warmup_gap: %v", err)
		}
		req.MaxWarmupGap = time.Duration(ns)
	}
	if err := req.Validate(); err != nil {
		return req, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	return req, nil
}

func (c *fetchCommand) shard() (time.Duration, error) {
	if c.Shard == "" {
		return batch.DefaultShard, nil
	}
	ns, err := formula.ParseDuration(c.Shard)
	if err != nil {
		return 0, status.Errorf(codes.InvalidArgument, "shard: %v", err)
	}
	return time.Duration(ns), nil
}

// warehouseError maps the warehouse's and batch's errors to statuses.
func warehouseError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var nf *compute.NoFeaturesError
	var se *catalog.SourceError
	var ie *compute.InputError
	switch {
	case errors.As(err, &ie):
		return status.Errorf(codes.InvalidArgument, "%s: %v", what, err)
	case errors.Is(err, catalog.ErrConcurrentIngest):
		return status.Errorf(codes.Aborted, "%s: %v", what, err)
	case errors.Is(err, catalog.ErrNoTable):
		return status.Errorf(codes.NotFound, "%s: %v", what, err)
	case errors.Is(err, catalog.ErrLabelsAsSource):
		return status.Errorf(codes.InvalidArgument, "%s: %v", what, err)
	case errors.As(err, &nf):
		var lines []string
		for _, st := range nf.Statuses {
			lines = append(lines, st.Error)
		}
		return status.Errorf(codes.InvalidArgument, "%s: no requested feature can be computed:\n%s", what, strings.Join(lines, "\n"))
	case errors.As(err, &se):
		return status.Errorf(codes.InvalidArgument, "%s: %v", what, err)
	}
	return status.Errorf(codes.Internal, "%s: %v", what, err)
}

// GetFlightInfo plans a fetch: the output schema and one endpoint per
// (symbol, shard), each with its own ticket, to be fetched in parallel. A
// table ticket gets one endpoint with the table's schema.
func (s *service) GetFlightInfo(ctx context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	if desc.GetType() != flight.DescriptorCMD {
		return nil, status.Error(codes.InvalidArgument, "GetFlightInfo needs a CMD descriptor holding a fetch ticket {\"features\", \"symbols\", \"start\", \"end\"} or a table ticket {\"table\"}")
	}
	fetch, tt, err := parseTicket("GetFlightInfo", desc.Cmd)
	if err != nil {
		return nil, err
	}
	wh, err := s.wh.get(ctx)
	if err != nil {
		return nil, err
	}
	if tt != nil {
		infos, err := wh.ListTables(ctx)
		if err != nil {
			return nil, warehouseError(ctx, "GetFlightInfo", err)
		}
		for _, ti := range infos {
			if ti.Name == tt.Table {
				return &flight.FlightInfo{
					Schema: flight.SerializeSchema(ti.Schema, s.mem), FlightDescriptor: desc,
					Endpoint: []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: desc.Cmd}}}, TotalRecords: -1, TotalBytes: -1,
				}, nil
			}
		}
		return nil, status.Errorf(codes.NotFound, "GetFlightInfo: no table %q in the warehouse", tt.Table)
	}
	statsFrom(ctx).features = fetch.names()
	req, err := fetch.request(s)
	if err != nil {
		return nil, err
	}
	if len(req.Symbols) == 0 {
		// Every symbol with data in the range, from the files' metadata.
		if req.Symbols, err = wh.Symbols(ctx, fetch.source(), req.Start, req.End); err != nil {
			return nil, warehouseError(ctx, "GetFlightInfo", err)
		}
	}
	every, err := fetch.shard()
	if err != nil {
		return nil, err
	}
	if err := s.checkEndpoints(len(req.Symbols), req.Start, req.End, every); err != nil {
		return nil, err
	}
	cctx, cancel := s.compileContext(ctx)
	schema, err := req.OutputSchema(cctx, wh)
	overTime := cctx.Err() != nil && ctx.Err() == nil // the server's limit, not the client's cancel
	cancel()
	if overTime {
		return nil, s.compileError(cctx)
	}
	if err != nil {
		return nil, warehouseError(ctx, "GetFlightInfo", err)
	}
	shards, err := batch.Split(req.Symbols, req.Start, req.End, every)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "GetFlightInfo: %v", err)
	}
	info := &flight.FlightInfo{Schema: flight.SerializeSchema(schema, s.mem), FlightDescriptor: desc, TotalRecords: -1, TotalBytes: -1, Ordered: true}
	for _, sh := range shards {
		one := *fetch
		one.Symbols = []string{sh.Symbol}
		one.Start, one.End = sh.Start.Format(time.RFC3339Nano), sh.End.Format(time.RFC3339Nano)
		one.Shard = ""
		tkt, err := json.Marshal(one)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "encoding a ticket: %v", err)
		}
		info.Endpoint = append(info.Endpoint, &flight.FlightEndpoint{Ticket: &flight.Ticket{Ticket: tkt}})
	}
	return info, nil
}

func (c *fetchCommand) source() string {
	if c.Source == "" {
		return catalog.TradesTable
	}
	return c.Source
}

func (c *fetchCommand) names() []string {
	out := make([]string, len(c.Features))
	for i, f := range c.Features {
		out[i] = f.Name
	}
	return out
}

// DoGet streams a fetch (features computed from the source table with
// warmup; the rows of [start, end) ordered by symbol and time) or a table
// ticket's stored rows.
func (s *service) DoGet(tkt *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	ctx := stream.Context()
	fetch, tt, err := parseTicket("DoGet", tkt.GetTicket())
	if err != nil {
		return err
	}
	wh, err := s.wh.get(ctx)
	if err != nil {
		return err
	}
	st := statsFrom(ctx)
	if tt != nil {
		q, err := tt.query()
		if err != nil {
			return err
		}
		if err := checkColumns(ctx, wh, tt.Table, q); err != nil {
			return err
		}
		// The rows stream in time order, a group of files whose time
		// ranges overlap at a time (--max-fetch-buffer-bytes), not the
		// whole selection.
		schema, recs, err := wh.ScanTable(ctx, tt.Table, q, catalog.StreamOptions{MaxBufferBytes: s.maxFetchBuffer})
		if err != nil {
			return warehouseError(ctx, "DoGet "+tt.Table, err)
		}
		return s.writeBatches(ctx, stream, schema, s.fetchErrors(ctx, recs), st, nil)
	}
	st.features = fetch.names()
	req, err := fetch.request(s)
	if err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return warehouseError(ctx, "DoGet", err)
	}
	cctx, cancel := s.compileContext(ctx)
	plan, _, err := req.Plan(cctx, wh)
	overTime := cctx.Err() != nil && ctx.Err() == nil // the server's limit, not the client's cancel
	cancel()
	if overTime {
		return s.compileError(cctx)
	}
	if err != nil {
		return warehouseError(ctx, "DoGet", err)
	}
	// The source streams through the computation: each batch is sent as
	// it is computed, the server holding a few batches, the files being
	// ordered (--max-fetch-buffer-bytes) and the windows' state
	// (--max-state-bytes, checked after every batch), not the fetch's rows.
	f, err := batch.OpenPlanned(ctx, wh, req, plan, catalog.StreamOptions{MaxBufferBytes: s.maxFetchBuffer})
	if err != nil {
		return s.fetchError(ctx, err)
	}
	var seen symbolSet
	recs := func(yield func(arrow.RecordBatch, error) bool) {
		for b, err := range f.Batches(ctx) {
			if err != nil {
				err = s.fetchError(ctx, err)
			} else {
				if len(req.Symbols) > 0 {
					seen.add(b.Rec)
				}
				err = s.checkState("fetch", "fetch fewer symbols or features at once", f.StateBytes)
			}
			if !yield(b.Rec, err) || err != nil {
				return
			}
		}
	}
	// The notices go after the last batch, when the fetch has seen every
	// source row: probably a wrong symbol or range, not a success to stay
	// silent about; logged, and said to the client in-band (notices.go).
	trailer := func() []byte {
		notices := fetchNotices(req, f.SourceRows, seen)
		for _, n := range notices {
			s.log.Warn("DoGet: "+n.Message, "source", n.Table, "symbols", n.Symbols, "start", n.Start, "end", n.End)
		}
		return noticesMetadata(notices)
	}
	return s.writeBatches(ctx, stream, f.Schema, recs, st, trailer)
}

// fetchErrors is recs with its error mapped by fetchError.
func (s *service) fetchErrors(ctx context.Context, recs iter.Seq2[arrow.RecordBatch, error]) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for rec, err := range recs {
			if err != nil {
				yield(nil, s.fetchError(ctx, err))
				return
			}
			if !yield(rec, nil) {
				return
			}
		}
	}
}

// fetchError maps a fetch's failure: a source group past
// --max-fetch-buffer-bytes is ResourceExhausted naming the flag.
func (s *service) fetchError(ctx context.Context, err error) error {
	var be *catalog.BufferLimitError
	if errors.As(err, &be) && ctx.Err() == nil {
		return status.Errorf(codes.ResourceExhausted, "DoGet: %v (--max-fetch-buffer-bytes is %s); raise the limit or fetch fewer columns",
			err, sizeText(s.maxFetchBuffer))
	}
	return warehouseError(ctx, "DoGet", err)
}

// writeBatches sends schema then every batch (which the iterator owns),
// then the trailer's app_metadata when it has one (notices.go).
func (s *service) writeBatches(ctx context.Context, stream flight.FlightService_DoGetServer, schema *arrow.Schema, recs iter.Seq2[arrow.RecordBatch, error], st *callStats, trailer func() []byte) error {
	w := flight.NewRecordWriter(stream, ipc.WithSchema(schema), ipc.WithAllocator(s.mem))
	defer w.Close()
	for rec, err := range recs {
		if err != nil {
			return warehouseError(ctx, "DoGet", err)
		}
		if err := w.Write(rec); err != nil {
			return sendError(ctx, err)
		}
		st.rowsOut += rec.NumRows()
	}
	if trailer == nil {
		return nil
	}
	if err := writeTrailer(w, schema, s.mem, [][]byte{trailer()}); err != nil {
		return sendError(ctx, err)
	}
	return nil
}

func (t *tableTicket) query() (catalog.TableQuery, error) {
	q := catalog.TableQuery{Symbols: t.Filter.Symbols, Columns: t.Columns, Limit: t.Limit}
	var err error
	if t.Filter.Start != "" {
		if q.Start, err = batch.ParseTime(t.Filter.Start); err != nil {
			return q, status.Errorf(codes.InvalidArgument, "filter start: %v", err)
		}
	}
	if t.Filter.End != "" {
		if q.End, err = batch.ParseTime(t.Filter.End); err != nil {
			return q, status.Errorf(codes.InvalidArgument, "filter end: %v", err)
		}
	}
	if len(t.Filter.Equal) > 0 || len(t.Filter.FeatureNames) > 0 {
		q.Equal = map[string][]string{}
		for k, v := range t.Filter.Equal {
			q.Equal[k] = v
		}
		if len(t.Filter.FeatureNames) > 0 {
			q.Equal["feature_name"] = t.Filter.FeatureNames
		}
	}
	return q, nil
}

// ListFlights lists the warehouse's tables: descriptor PATH [name], the
// Arrow schema, the row count, and one endpoint whose ticket reads the
// whole table.
func (s *service) ListFlights(_ *flight.Criteria, stream flight.FlightService_ListFlightsServer) error {
	ctx := stream.Context()
	wh, err := s.wh.get(ctx)
	if err != nil {
		return err
	}
	infos, err := wh.ListTables(ctx)
	if err != nil {
		return warehouseError(ctx, "ListFlights", err)
	}
	for _, ti := range infos {
		tkt, _ := json.Marshal(tableTicket{Table: ti.Name})
		md := arrow.NewMetadata([]string{"fdag.partitioning"}, []string{ti.Partitioning})
		schema := arrow.NewSchema(ti.Schema.Fields(), &md)
		err := stream.Send(&flight.FlightInfo{
			Schema:           flight.SerializeSchema(schema, s.mem),
			FlightDescriptor: &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{ti.Name}},
			Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: tkt}}},
			TotalRecords:     ti.Rows, TotalBytes: -1,
		})
		if err != nil {
			return sendError(ctx, err)
		}
	}
	return nil
}

// putSummary is DoPut's one PutResult.
type putSummary struct {
	Table      string `json:"table"`
	Rows       int64  `json:"rows"`
	Duplicates int64  `json:"duplicates"`  // rows skipped: their (symbol, trade_id) was stored already
	WithoutKey int64  `json:"without_key"` // rows without trade_id, not checked for duplicates
	Files      int    `json:"files"`
	SnapshotID int64  `json:"snapshot_id"`
	// DroppedColumns are the client's columns the table has no column
	// for: not stored (the client warns naming them).
	DroppedColumns []string `json:"dropped_columns,omitempty"`
}

// DoPut ingests the client's batches into a table (descriptor PATH [table]
// or CMD {"table": ...}) in one transaction: every row or none.
func (s *service) DoPut(stream flight.FlightService_DoPutServer) error {
	ctx := stream.Context()
	rdr, err := flight.NewRecordReader(stream, ipc.WithAllocator(s.mem))
	if err != nil {
		if errors.Is(err, io.EOF) {
			return status.Error(codes.InvalidArgument, "DoPut: the stream ended before a schema")
		}
		return status.Errorf(codes.InvalidArgument, "DoPut: the first message is not an Arrow schema: %v", err)
	}
	defer rdr.Release()
	name, err := putTable(rdr.LatestFlightDescriptor())
	if err != nil {
		return err
	}
	wh, err := s.wh.get(ctx)
	if err != nil {
		return err
	}
	st := statsFrom(ctx)
	src := catalog.Source{Name: "DoPut", Batches: func(yield func(arrow.RecordBatch, error) bool) {
		for rdr.Next() {
			st.rowsIn += rdr.RecordBatch().NumRows()
			if !yield(rdr.RecordBatch(), nil) {
				return
			}
		}
		if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
			yield(nil, fmt.Errorf("receiving batch: %w", err))
		}
	}}
	stats, err := wh.Ingest(ctx, name, src)
	if err != nil {
		// catalog's errors already say "ingest into TABLE"; the source's
		// own name ("DoPut") adds nothing for the client, who sent it.
		var se *catalog.SourceError
		if ctx.Err() == nil && errors.As(err, &se) {
			return status.Errorf(codes.InvalidArgument, "ingest into %s: %v", name, se.Err)
		}
		return warehouseError(ctx, "DoPut", err)
	}
	body, _ := json.Marshal(putSummary{Table: name, DroppedColumns: droppedColumns(stats), Rows: stats.Rows, Duplicates: stats.Duplicates, WithoutKey: stats.WithoutKey,
		Files: stats.Files, SnapshotID: stats.SnapshotID})
	return stream.Send(&flight.PutResult{AppMetadata: body})
}

func putTable(desc *flight.FlightDescriptor) (string, error) {
	switch {
	case desc == nil:
		return "", status.Error(codes.InvalidArgument, "DoPut needs a descriptor naming the table: PATH [\"cdm_trade_enriched\"] or CMD {\"table\": \"cdm_trade_enriched\"}")
	case desc.GetType() == flight.DescriptorPATH && len(desc.Path) == 1 && desc.Path[0] != "":
		return desc.Path[0], nil
	case desc.GetType() == flight.DescriptorCMD:
		var c struct {
			Table string `json:"table"`
		}
		dec := json.NewDecoder(bytes.NewReader(desc.Cmd))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return "", status.Errorf(codes.InvalidArgument, "DoPut: malformed JSON command: %s", describeJSONError(desc.Cmd, err))
		}
		if c.Table != "" {
			return c.Table, nil
		}
	}
	return "", status.Error(codes.InvalidArgument, "DoPut: the descriptor does not name a table: use PATH [\"cdm_trade_enriched\"] or CMD {\"table\": \"cdm_trade_enriched\"}")
}

// checkColumns makes a projection on a column the table lacks the
// client's error (InvalidArgument), naming the table's columns.
func checkColumns(ctx context.Context, wh *catalog.Warehouse, name string, q catalog.TableQuery) error {
	if q.Limit < 0 {
		return status.Errorf(codes.InvalidArgument, "DoGet %s: limit %d is negative; give a positive row count, or leave it out for every row", name, q.Limit)
	}
	if len(q.Columns) == 0 && len(q.Equal) == 0 {
		return nil
	}
	tbl, err := wh.LoadTable(ctx, name)
	if err != nil {
		return warehouseError(ctx, "DoGet "+name, err)
	}
	var have []string
	for _, f := range tbl.Schema().Fields() {
		have = append(have, f.Name)
	}
	for _, c := range q.Columns {
		if _, ok := tbl.Schema().FindFieldByName(c); !ok {
			return status.Errorf(codes.InvalidArgument, "DoGet %s: no column %q (columns: %s)", name, c, strings.Join(have, ", "))
		}
	}
	// The filter's equal matches string values exactly: a float column
	// would need a float parsed from text and exact float equality, which
	// is rarely what is meant, so it is refused rather than matching nothing.
	for _, c := range slices.Sorted(maps.Keys(q.Equal)) {
		f, ok := tbl.Schema().FindFieldByName(c)
		if !ok {
			return status.Errorf(codes.InvalidArgument, "DoGet %s: filter equal: no column %q (columns: %s)", name, c, strings.Join(have, ", "))
		}
		if !f.Type.Equals(iceberg.PrimitiveTypes.String) {
			return status.Errorf(codes.InvalidArgument, "DoGet %s: filter equal: column %q has type %s; equal matches string columns only (use start/end for time)", name, c, f.Type)
		}
	}
	return nil
}

// droppedColumns are the columns of the one DoPut source the table lacks.
func droppedColumns(st catalog.IngestStats) []string {
	var out []string
	for _, d := range st.Dropped {
		out = append(out, d.Columns...)
	}
	return out
}

// batchWarehouse takes one of the --max-batch-runs slots (refusing at
// once when none is free) and opens the warehouse, for the actions that
// run a batch job over it (run_batch, bars, labels). The caller releases
// the slot when its run ends.
func (s *service) batchWarehouse(ctx context.Context) (*catalog.Warehouse, func(), error) {
	release, err := s.batchRuns.acquire()
	if err != nil {
		return nil, nil, err
	}
	wh, err := s.wh.get(ctx)
	if err != nil {
		release()
		return nil, nil, err
	}
	return wh, release, nil
}
