package flightserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
)

// command is the JSON of an exchange descriptor (and of GetSchema, validate
// and explain). Unknown keys are errors, in the command and in each spec.
type command struct {
	Features     []ir.Spec         `json:"features"`
	TimeColumn   string            `json:"time_column"`
	SymbolColumn string            `json:"symbol_column"`
	Aliases      map[string]string `json:"aliases"`
	// Columns describes the input for GetSchema and validate, which see
	// no data: name -> float64, int64, timestamp, string, ...
	Columns map[string]string `json:"columns"`
	// Echo makes DoExchange send the input batches back unchanged (no
	// features): the baseline that benchmarks compare against.
	Echo bool `json:"echo"`
	// Keys false leaves the time and symbol columns out of the output
	// (DoExchange's batches, GetSchema, validate's columns): a client that
	// holds its input has them, and for the 24 demo features they are 9% of
	// the bytes sent back. Default true.
	Keys *bool `json:"keys"`
}

// parseCommand decodes and checks a command. Errors are InvalidArgument
// statuses naming the JSON problem.
func parseCommand(what string, data []byte) (*command, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, status.Errorf(codes.InvalidArgument, "%s: empty command; send JSON {\"features\": [{\"name\": ..., \"formula\": ...}], \"time_column\": \"event_time\", \"symbol_column\": \"symbol\"}", what)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c command
	if err := dec.Decode(&c); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%s: malformed JSON command: %s", what, describeJSONError(data, err))
	}
	if dec.More() {
		return nil, status.Errorf(codes.InvalidArgument, "%s: malformed JSON command: extra data after the JSON object", what)
	}
	if c.Echo && c.Keys != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%s: \"keys\" has no effect with \"echo\", which sends the input back as it is; drop one of them", what)
	}
	if len(c.Features) == 0 && !(c.Echo && what == "DoExchange") {
		return nil, status.Errorf(codes.InvalidArgument, "%s: the command has no \"features\"; list at least one spec such as {\"name\": \"ret_1\", \"formula\": \"diff(log(close))\"}", what)
	}
	return &c, nil
}

// describeJSONError adds the position of a syntax or type error.
func describeJSONError(data []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
		if te.Field != "" {
			return fmt.Sprintf("field %q: expected %s, got JSON %s (at byte %d)", te.Field, te.Type, te.Value, te.Offset)
		}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the JSON ends early (unbalanced braces or quotes?)"
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if off >= 0 {
		lo := max(0, int(off)-20)
		hi := min(len(data), int(off)+10)
		msg = fmt.Sprintf("%s at byte %d, near %q", msg, off, data[lo:hi])
	}
	return msg
}

func (c *command) names() []string {
	out := make([]string, len(c.Features))
	for i, f := range c.Features {
		out[i] = f.Name
	}
	return out
}

func (c *command) options(s *service) compute.Options {
	return compute.Options{
		TimeColumn:   c.TimeColumn,
		SymbolColumn: c.SymbolColumn,
		Aliases:      c.Aliases,
		Registry:     s.registry,
		Mem:          s.mem,
	}
}

// output is the schema the call answers with for a stream's schema, and
// the number of leading key columns it leaves out of each batch: the time
// column and the symbol column (when the input has it) with "keys": false.
func (c *command) output(cs *compute.Stream, input *arrow.Schema) (*arrow.Schema, int) {
	schema := cs.Schema()
	if c.Keys == nil || *c.Keys {
		return schema, 0
	}
	n := 1
	if input.HasField(c.symbolColumn()) {
		n++
	}
	md := schema.Metadata()
	return arrow.NewSchema(schema.Fields()[n:], &md), n
}

// symbolColumn is the symbol column's name, default applied.
func (c *command) symbolColumn() string {
	if c.SymbolColumn == "" {
		return "symbol"
	}
	return c.SymbolColumn
}

// timeColumn is the time column's name, default applied.
func (c *command) timeColumn() string {
	if c.TimeColumn == "" {
		return "event_time"
	}
	return c.TimeColumn
}

var columnTypes = map[string]arrow.DataType{
	"float64": arrow.PrimitiveTypes.Float64, "double": arrow.PrimitiveTypes.Float64,
	"float32": arrow.PrimitiveTypes.Float32, "float": arrow.PrimitiveTypes.Float32,
	"int64": arrow.PrimitiveTypes.Int64, "int32": arrow.PrimitiveTypes.Int32,
	"bool":      arrow.FixedWidthTypes.Boolean,
	"timestamp": &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
	"string":    arrow.BinaryTypes.String, "large_string": arrow.BinaryTypes.LargeString,
	"int16": arrow.PrimitiveTypes.Int16, "int8": arrow.PrimitiveTypes.Int8,
	"uint8": arrow.PrimitiveTypes.Uint8, "uint16": arrow.PrimitiveTypes.Uint16,
	"uint32": arrow.PrimitiveTypes.Uint32, "uint64": arrow.PrimitiveTypes.Uint64,
	"halffloat": arrow.PrimitiveTypes.Float32, "float16": arrow.PrimitiveTypes.Float32,
	"utf8": arrow.BinaryTypes.String, "large_utf8": arrow.BinaryTypes.LargeString,
	"string_view": arrow.BinaryTypes.String, "boolean": arrow.FixedWidthTypes.Boolean,
}

// columnType reads a type name as the clients print them: fdag's names
// above and pyarrow's str(type), e.g. "timestamp[us, tz=UTC]",
// "timestamp[ns]", "dictionary<values=string, indices=int32, ordered=0>"
// (its value type), "date32[day]" (a time).
func columnType(name string) (arrow.DataType, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	if dt, ok := columnTypes[n]; ok {
		return dt, true
	}
	switch {
	case strings.HasPrefix(n, "timestamp[") || strings.HasPrefix(n, "date32") || strings.HasPrefix(n, "date64"):
		return columnTypes["timestamp"], true
	case strings.HasPrefix(n, "dictionary<values="):
		v, _, _ := strings.Cut(strings.TrimPrefix(n, "dictionary<values="), ",")
		return columnType(v)
	}
	return nil, false
}

// inputSchema is the schema described by "columns" (sorted by name), or
// the default columns.
func (c *command) inputSchema() (*arrow.Schema, error) {
	if c.Columns == nil {
		return catalog.TradeArrowSchema, nil
	}
	names := make([]string, 0, len(c.Columns))
	for n := range c.Columns {
		names = append(names, n)
	}
	sort.Strings(names)
	fields := make([]arrow.Field, 0, len(names))
	for _, n := range names {
		dt, ok := columnType(c.Columns[n])
		if !ok {
			known := make([]string, 0, len(columnTypes))
			for k := range columnTypes {
				known = append(known, k)
			}
			sort.Strings(known)
			return nil, status.Errorf(codes.InvalidArgument, "column %q has type %q; known types: %s", n, c.Columns[n], strings.Join(known, ", "))
		}
		fields = append(fields, arrow.Field{Name: n, Type: dt, Nullable: true})
	}
	return arrow.NewSchema(fields, nil), nil
}

// newStream builds the compute stream, mapping its errors to statuses.
func (s *service) newStream(ctx context.Context, c *command, input *arrow.Schema) (*compute.Stream, error) {
	cctx, cancel := s.compileContext(ctx)
	defer cancel()
	cs, err := compute.NewStreamContext(cctx, c.Features, input, c.options(s))
	if cctx.Err() != nil {
		return nil, s.compileError(cctx)
	}
	if err != nil {
		var nf *compute.NoFeaturesError
		if errors.As(err, &nf) {
			var lines []string
			for _, st := range nf.Statuses {
				lines = append(lines, st.Error)
			}
			return nil, status.Errorf(codes.InvalidArgument, "no requested feature can be computed:\n%s", strings.Join(lines, "\n"))
		}
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	return cs, nil
}

// GetSchema returns the output schema of an exchange command without data,
// for the input described by the command's "columns".
func (s *service) GetSchema(ctx context.Context, desc *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	if desc.GetType() != flight.DescriptorCMD {
		return nil, status.Error(codes.InvalidArgument, "GetSchema needs a CMD descriptor holding the exchange command JSON")
	}
	c, err := parseCommand("GetSchema", desc.Cmd)
	if err != nil {
		return nil, err
	}
	statsFrom(ctx).features = c.names()
	in, err := c.inputSchema()
	if err != nil {
		return nil, err
	}
	cs, err := s.newStream(ctx, c, in)
	if err != nil {
		return nil, err
	}
	out, _ := c.output(cs, in)
	return &flight.SchemaResult{Schema: flight.SerializeSchema(out, s.mem)}, nil
}

// DoExchange computes features over the client's batches: see
// docs/flight.md. The first message carries the CMD descriptor (and usually
// the schema); the server answers with the output schema at once, then one
// output batch per input batch as soon as it is computed, then a final
// message with no batch whose app_metadata is the summary JSON.
func (s *service) DoExchange(stream flight.FlightService_DoExchangeServer) error {
	ctx := stream.Context()
	st := statsFrom(ctx)

	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return status.Error(codes.InvalidArgument, "the exchange ended before the client sent the descriptor")
		}
		return recvError(ctx, err)
	}
	desc := first.FlightDescriptor
	if desc.GetType() != flight.DescriptorCMD {
		return status.Error(codes.InvalidArgument, "DoExchange needs a CMD descriptor on its first message, holding the command JSON {\"features\": [...]}")
	}
	c, err := parseCommand("DoExchange", desc.Cmd)
	if err != nil {
		return err
	}
	st.features = c.names()
	// The descriptor may come alone, before the schema.
	for len(first.DataHeader) == 0 {
		if first, err = stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return status.Error(codes.InvalidArgument, "the exchange ended before the client sent a schema")
			}
			return recvError(ctx, err)
		}
	}
	// The slot is taken once the client has sent its schema: an exchange
	// that opens and sends nothing holds none (issue 8: four idle
	// streams locked every other exchange out).
	release, err := s.exchanges.acquire()
	if err != nil {
		return err
	}
	defer release()
	in := &inputStream{stream: stream, peeked: first}
	rdr, err := flight.NewRecordReader(in, ipc.WithAllocator(s.mem))
	if err != nil {
		if e := in.failure(); e != nil {
			return recvError(ctx, e)
		}
		return status.Errorf(codes.InvalidArgument, "the first data message is not an Arrow schema: %v", err)
	}
	// Echo sends the input back unchanged: the same path without compute.
	schema := rdr.Schema()
	step := func(rec arrow.RecordBatch) (arrow.RecordBatch, error) { rec.Retain(); return rec, nil }
	statuses := func() []compute.FeatureStatus { return []compute.FeatureStatus{} }
	stateOf := func() int64 { return 0 }
	if !c.Echo {
		cs, err := s.newStream(stream.Context(), c, rdr.Schema())
		if err != nil {
			return err
		}
		var keys int
		schema, keys = c.output(cs, rdr.Schema())
		step = func(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
			out, err := cs.Process(ctx, rec)
			if err != nil || keys == 0 {
				return out, err
			}
			defer out.Release()
			return array.NewRecordBatch(schema, out.Columns()[keys:], out.NumRows()), nil
		}
		statuses = cs.Statuses
		stateOf = cs.StateBytes
	}

	w, err := newOutputWriter(stream, schema, s.mem)
	if err != nil {
		rdr.Release()
		return sendError(ctx, err)
	}
	// Three goroutines overlap the three stages: a receiver reads and
	// decodes the next batches (the protobuf unmarshalling and copy of each
	// message), this one computes, and a sender writes finished batches
	// (marshalling and the copy into gRPC's buffers). The sender ends
	// before we return; the receiver owns the reader and ends as soon as
	// its Recv returns, which the end of the call ensures.
	rcv := startReceiver(rdr, in)
	defer rcv.stop()
	snd := startSender(w)
	for {
		rec, err := rcv.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			snd.abort()
			if e := rcv.failure(); e != nil {
				return recvError(ctx, e)
			}
			return status.Errorf(codes.InvalidArgument, "batch %d could not be decoded: %v", rcv.batches(), err)
		}
		st.rowsIn += rec.NumRows()
		out, err := step(rec)
		rec.Release()
		if err != nil {
			snd.abort()
			return processError(ctx, err)
		}
		st.rowsOut += out.NumRows()
		if err := s.checkState("exchange", "send fewer symbols or rows per exchange", stateOf); err != nil {
			out.Release()
			snd.abort()
			return err
		}
		if err := snd.send(out); err != nil {
			return sendError(ctx, err)
		}
	}
	if err := snd.finish(); err != nil {
		return sendError(ctx, err)
	}
	summary, err := json.Marshal(exchangeSummary{Statuses: statuses(), RowsIn: st.rowsIn, RowsOut: st.rowsOut})
	if err != nil {
		return status.Errorf(codes.Internal, "summary: %v", err)
	}
	if err := stream.Send(&flight.FlightData{AppMetadata: summary}); err != nil {
		return sendError(ctx, err)
	}
	return nil
}

// exchangeSummary is the app_metadata of an exchange's last message.
type exchangeSummary struct {
	Statuses []compute.FeatureStatus `json:"statuses"`
	RowsIn   int64                   `json:"rows_in"`
	RowsOut  int64                   `json:"rows_out"`
}

// recvError maps a failure to receive: the client's cancellation or
// deadline, or a transport error as it came.
func recvError(ctx context.Context, err error) error {
	// A message over --max-message-bytes ends the stream (and so its
	// context) but is the client's mistake, to be said as such (issue 8:
	// it was logged as Canceled).
	if st, ok := status.FromError(err); ok && st.Code() == codes.ResourceExhausted {
		return status.Errorf(codes.ResourceExhausted, "%s (--max-message-bytes); send smaller batches", st.Message())
	}
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	var sc *schemaChangeError
	if errors.As(err, &sc) {
		return status.Error(codes.InvalidArgument, sc.Error())
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Errorf(codes.Unavailable, "receiving: %v", err)
}

func sendError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Errorf(codes.Internal, "sending: %v", err)
}

func processError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	var ooo *compute.OutOfOrderError
	var ie *compute.InputError
	if errors.As(err, &ooo) || errors.As(err, &ie) {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return status.Errorf(codes.Internal, "computing: %v", err)
}

// schemaChangeError is a second schema message in an exchange.
type schemaChangeError struct {
	after int
}

func (e *schemaChangeError) Error() string {
	return fmt.Sprintf("the input schema changed mid-stream (a new schema after %d batches): an exchange carries one schema; start a new exchange for data of another schema", e.after)
}

// inputStream feeds the flight reader: first the message already received,
// then the stream. It counts batches and turns a second schema message into
// a schemaChangeError; the message bodies pass through untouched, so the
// arrays the reader builds point into the received bytes (zero copy).
type inputStream struct {
	stream  flight.FlightService_DoExchangeServer
	peeked  *flight.FlightData
	batches int
	seen    bool // the first schema went by
	err     error
}

func (r *inputStream) Recv() (*flight.FlightData, error) {
	fd := r.peeked
	r.peeked = nil
	if fd == nil {
		var err error
		if fd, err = r.stream.Recv(); err != nil {
			if !errors.Is(err, io.EOF) {
				r.err = err
			}
			return nil, err
		}
	}
	if len(fd.DataHeader) > 0 {
		if !r.seen {
			r.seen = true
		} else if isSchemaMessage(fd.DataHeader) {
			r.err = &schemaChangeError{after: r.batches}
			return nil, r.err
		} else {
			r.batches++
		}
	}
	return fd, nil
}

func (r *inputStream) failure() error { return r.err }

// isSchemaMessage reports whether an IPC message header is a schema.
func isSchemaMessage(hdr []byte) (yes bool) {
	defer func() {
		if recover() != nil {
			yes = false // not a valid header: let the IPC reader say so
		}
	}()
	m := ipc.NewMessage(memory.NewBufferBytes(hdr), memory.NewBufferBytes(nil))
	defer m.Release()
	return m.Type() == ipc.MessageSchema
}

// receiver reads input batches on its own goroutine, a couple ahead of
// the computation. It owns the reader (released when it ends) and its
// input stream, whose failure is read after next returned an error (the
// channel orders it after the write).
type receiver struct {
	out  chan received
	quit chan struct{}
	in   *inputStream
}

type received struct {
	rec arrow.RecordBatch
	err error
}

func startReceiver(rdr *flight.Reader, in *inputStream) *receiver {
	r := &receiver{out: make(chan received, 2), quit: make(chan struct{}), in: in}
	go func() {
		// Every path ends here once stop was called: what was read ahead
		// and never taken is released by the goroutine that sent it.
		defer func() {
			<-r.quit
			for {
				select {
				case got := <-r.out:
					if got.rec != nil {
						got.rec.Release()
					}
				default:
					rdr.Release()
					return
				}
			}
		}()
		for {
			rec, err := rdr.Read()
			if rec != nil {
				rec.Retain() // the reader reuses its batch at the next Read
			}
			select {
			case r.out <- received{rec, err}:
			case <-r.quit:
				if rec != nil {
					rec.Release()
				}
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return r
}

// next is the next input batch (the caller releases it), or the error
// that ended the input (io.EOF at its end).
func (r *receiver) next() (arrow.RecordBatch, error) {
	got := <-r.out
	return got.rec, got.err
}

// failure is the transport error or schema change behind next's error.
func (r *receiver) failure() error { return r.in.failure() }

// batches is the number of batch messages received, for errors.
func (r *receiver) batches() int { return r.in.batches }

// stop ends the receiver. It does not wait: after a failed call the
// receiver may be in Recv, which returns when the call has ended (the
// handler returned), and the goroutine then ends at once.
func (r *receiver) stop() { close(r.quit) }

// sender writes output batches on its own goroutine, in order, releasing
// each after it is sent. Its methods are called from the handler's
// goroutine only, and every path ends with finish, which waits for the
// goroutine and closes the writer: neither outlives the call.
type sender struct {
	w      *outputWriter
	queue  chan arrow.RecordBatch
	failed chan struct{} // closed at the first write error
	done   chan struct{} // closed when the goroutine has ended
	err    error         // the first write error; read after failed or done
	closed bool
}

func startSender(w *outputWriter) *sender {
	s := &sender{w: w, queue: make(chan arrow.RecordBatch, 2), failed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for rec := range s.queue {
			if s.err == nil {
				if s.err = w.Write(rec); s.err != nil {
					close(s.failed)
				}
			}
			rec.Release() // after a failure: drain and release the rest
		}
	}()
	return s
}

// send queues rec, taking over its reference. After a write error it
// releases rec and returns that error: the call must end.
func (s *sender) send(rec arrow.RecordBatch) error {
	select {
	case s.queue <- rec:
		return nil
	case <-s.failed:
		rec.Release()
		return s.finish()
	}
}

// finish waits until every queued batch is sent (or released after a
// failure), closes the writer and returns the first write error.
func (s *sender) finish() error {
	if !s.closed {
		s.closed = true
		close(s.queue)
		<-s.done
		s.w.Close()
	}
	return s.err
}

// abort ends the sender of a call that failed for another reason; batches
// already queued are still sent.
func (s *sender) abort() { _ = s.finish() }

// outputWriter writes the output stream: the schema at once, then batches.
// It sends through an ipc.Writer whose own schema message is dropped,
// because that writer only sends the schema with the first batch. Batches
// go out without being copied (outgoingBatch, flightCodec): each stays
// retained until gRPC has copied it into its frames, and Close waits for
// that (or for the call's end), so no batch outlives the call.
type outputWriter struct {
	w  *ipc.Writer
	pw *payloadWriter
}

func newOutputWriter(stream flight.FlightService_DoExchangeServer, schema *arrow.Schema, mem memory.Allocator) (*outputWriter, error) {
	pw := &payloadWriter{stream: stream, inFlight: map[*outgoingBatch]struct{}{}}
	p := ipc.GetSchemaPayload(schema, mem)
	err := pw.WritePayload(p)
	p.Release()
	if err != nil {
		return nil, err
	}
	pw.skipSchema = true
	return &outputWriter{w: ipc.NewWriterWithPayloadWriter(pw, ipc.WithSchema(schema), ipc.WithAllocator(mem)), pw: pw}, nil
}

func (o *outputWriter) Write(rec arrow.RecordBatch) error {
	o.pw.rec = rec
	err := o.w.Write(rec)
	o.pw.rec = nil
	return err
}

// Close waits until gRPC has let go of every batch sent, or the call has
// ended (then it releases what gRPC still holds: the bytes are Go memory,
// valid while gRPC references them), and releases the writer's state. It
// sends nothing (no end-of-stream marker exists in Flight).
func (o *outputWriter) Close() {
	o.pw.wait(o.pw.stream.Context())
	o.w.Close()
}

type payloadWriter struct {
	stream     flight.FlightService_DoExchangeServer
	skipSchema bool
	rec        arrow.RecordBatch // the batch being written, whose buffers the payloads are

	mu       sync.Mutex
	inFlight map[*outgoingBatch]struct{} // sent, still read by gRPC
	drained  chan struct{}               // closed when inFlight empties, if someone waits
}

func (p *payloadWriter) Start() error { return nil }
func (p *payloadWriter) Close() error { return nil }

func (p *payloadWriter) WritePayload(payload ipc.Payload) error {
	meta := payload.Meta()
	defer meta.Release()
	if p.skipSchema {
		p.skipSchema = false
		if isSchemaMessage(meta.Bytes()) {
			return nil
		}
	}
	var body bodyPieces
	if err := payload.SerializeBody(&body); err != nil {
		return err
	}
	// The header is copied when the message is marshalled, within SendMsg.
	b := &outgoingBatch{header: meta.Bytes(), body: body.parts}
	if rec := p.rec; rec != nil {
		rec.Retain()
		p.mu.Lock()
		p.inFlight[b] = struct{}{}
		p.mu.Unlock()
		b.done = func() {
			rec.Release()
			p.mu.Lock()
			delete(p.inFlight, b)
			if len(p.inFlight) == 0 && p.drained != nil {
				close(p.drained)
				p.drained = nil
			}
			p.mu.Unlock()
		}
	}
	err := p.stream.SendMsg(b)
	if err != nil {
		// gRPC holds no reference after a failed SendMsg.
		b.finish()
	}
	return err
}

// wait returns once gRPC has let go of every batch, or ctx is done; then
// it finishes the batches left.
func (p *payloadWriter) wait(ctx context.Context) {
	for {
		p.mu.Lock()
		if len(p.inFlight) == 0 {
			p.mu.Unlock()
			return
		}
		if p.drained == nil {
			p.drained = make(chan struct{})
		}
		drained := p.drained
		p.mu.Unlock()
		select {
		case <-drained:
		case <-ctx.Done():
			p.mu.Lock()
			left := make([]*outgoingBatch, 0, len(p.inFlight))
			for b := range p.inFlight {
				left = append(left, b)
			}
			p.mu.Unlock()
			for _, b := range left {
				b.finish()
			}
			return
		}
	}
}
