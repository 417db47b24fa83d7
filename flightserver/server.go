// Package flightserver is the Arrow Flight service of fdag: DoExchange
// computes features over streamed source batches, DoAction answers
// list_features, explain, validate and health, GetSchema gives an exchange's
// output schema without data. It holds no feature logic: it decodes requests,
// calls compute, streams, and maps errors to gRPC statuses. docs/flight.md is
// the protocol a client codes against.
package flightserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/featuredag/fdag/catalog"
	"github.com/featuredag/fdag/ir"
	"github.com/featuredag/fdag/project"
)

// Version is reported by the health action; set it with
// -ldflags "-X github.com/featuredag/fdag/flightserver.Version=...".
// Empty means the module version of the build, or "dev".
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Options are what a program embedding the server can set beyond Config.
type Options struct {
	// Mem allocates every Arrow buffer of every request (tests pass a
	// checked allocator). nil: memory.DefaultAllocator. It must hand out
	// Go-managed memory (memory.GoAllocator, or a wrapper of it such as
	// memory.CheckedAllocator): DoExchange sends output buffers to gRPC
	// without copying them (flightCodec) and, when a call ends while gRPC
	// still holds some, releases them relying on the garbage collector to
	// keep the bytes alive; a C allocator (mallocator, cgo) would free
	// memory gRPC may still read.
	Mem memory.Allocator
	// Logger receives one line per call. nil: slog.Default() at
	// Config.LogLevel... the caller's logger is used as is.
	Logger *slog.Logger
	// Registry of FeatureTypes. nil: ir.Builtin() plus the types of
	// Config.Project.
	Registry *ir.Registry
	// Warehouse serves DoGet, DoPut, GetFlightInfo and ListFlights; the
	// caller keeps it open while the server runs. nil: the warehouse of
	// Config.Project (fdag.yaml there, else the embedded default), opened
	// on the first call that needs it and closed by Shutdown; with no
	// project those calls fail with FailedPrecondition.
	Warehouse *catalog.Warehouse
}

// Server is a configured, not yet serving, Flight server.
type Server struct {
	cfg    Config
	grpc   *grpc.Server
	health *health.Server
	svc    *service
	lis    net.Listener
	log    *slog.Logger
}

// service implements the Flight methods.
type service struct {
	flight.BaseFlightServer
	mem       memory.Allocator
	registry  *ir.Registry
	log       *slog.Logger
	started   time.Time
	exchanges *callLimit // running exchanges, taken at the first batch
	batchRuns *callLimit // running run_batch actions
	auth      *authenticator
	wh        *warehouse

	maxCompileTime time.Duration
	maxStateBytes  int64
	maxFetchBuffer int64
	maxEndpoints   int
	idleTimeout    time.Duration
}

// The transport's buffers per connection. gRPC's 32 KiB defaults cost a
// write(2) for every 32 KiB an exchange sends back (~60K of them for the
// 2 GB answer of 24 features over 10M rows) and a read(2) for every 32 KiB
// it receives; on loopback each write also runs the receiver's TCP path.
// With 1 MiB the server makes ~20x fewer of both (strace, 1M rows: 5.9K
// writes and 2.0K reads -> 270 and 180) and spends ~0.5 CPU-s less per 10M
// exchange (bench/README.md, issue 14 item 5). The write buffer is taken
// from a pool and given back after each flush (gRPC's shared write buffer),
// so an idle connection holds only its read buffer.
const (
	transportWriteBuffer = 1 << 20
	transportReadBuffer  = 1 << 20
)

// New builds a server from cfg (defaults applied), loading the project's
// FeatureTypes and the TLS key pair.
func New(cfg Config, opts Options) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	mem := opts.Mem
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	// The project (fdag.yaml, FeatureTypes of DIR and DIR/features) is
	// loaded as fdag loads it, so both see the same types and tables.
	var proj *project.Project
	if cfg.Project != "" {
		var err error
		if proj, err = project.Load(cfg.Project, project.Options{Mem: mem, Logger: log}); err != nil {
			return nil, err
		}
	}
	reg := opts.Registry
	if reg == nil {
		reg = ir.Builtin()
		if proj != nil {
			reg = proj.Registry
		}
	}
	svc := &service{
		mem: mem, registry: reg, log: log, started: time.Now(),
		exchanges: newCallLimit("exchanges", "--max-exchanges", cfg.MaxExchanges),
		batchRuns: newCallLimit("batch runs", "--max-batch-runs", cfg.MaxBatchRuns),
		auth:      newAuthenticator(cfg.AuthTokens),
		wh:        &warehouse{project: proj, wh: opts.Warehouse},

		maxCompileTime: cfg.MaxCompileTime, maxStateBytes: cfg.MaxStateBytes,
		maxFetchBuffer: cfg.MaxFetchBuffer,
		maxEndpoints:   cfg.MaxEndpoints, idleTimeout: cfg.IdleTimeout,
	}
	// Logging outermost (it sees the final status), then panic recovery,
	// auth, the concurrency limits and the idle watch.
	lim := newLimits(cfg)
	unary := []grpc.UnaryServerInterceptor{svc.logUnary, svc.recoverUnary}
	stream := []grpc.StreamServerInterceptor{svc.logStream, svc.recoverStream}
	if svc.auth != nil {
		unary = append(unary, svc.auth.unary)
		stream = append(stream, svc.auth.stream)
	}
	unary = append(unary, lim.unary)
	stream = append(stream, lim.stream, svc.idleWatch)
	gopts := []grpc.ServerOption{
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: cfg.KeepaliveTime, Timeout: cfg.KeepaliveTimeout}),
		// Clients may ping every 10 s, also between calls.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		// FlightData in and out without copying the Arrow bodies (codec.go).
		grpc.ForceServerCodecV2(newFlightCodec()),
		grpc.MaxRecvMsgSize(cfg.MaxMessageBytes),
		grpc.MaxSendMsgSize(cfg.MaxMessageBytes),
		grpc.WriteBufferSize(transportWriteBuffer),
		grpc.ReadBufferSize(transportReadBuffer),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
	}
	if cfg.TLSCert != "" {
		creds, err := credentials.NewServerTLSFromFile(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("TLS: %w", err)
		}
		gopts = append(gopts, grpc.Creds(creds))
	}
	// A plain grpc.Server rather than flight.NewServerWithMiddleware: the
	// latter's Shutdown is GracefulStop only, and draining within a
	// deadline needs Stop as well.
	gs := grpc.NewServer(gopts...)
	flight.RegisterFlightServiceServer(gs, svc)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("arrow.flight.protocol.FlightService", healthpb.HealthCheckResponse_SERVING)
	return &Server{cfg: cfg, grpc: gs, health: hs, svc: svc, log: log}, nil
}

// Listen binds the configured address. Addr is valid afterwards.
func (s *Server) Listen() error {
	lis, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	s.lis = lis
	return nil
}

// Addr is the address the server listens on (after Listen).
func (s *Server) Addr() net.Addr { return s.lis.Addr() }

// TLS reports whether the server serves TLS.
func (s *Server) TLS() bool { return s.cfg.TLSCert != "" }

// Serve serves until Shutdown; it returns nil after a shutdown.
func (s *Server) Serve() error {
	if s.lis == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.log.Info("serving", "addr", s.Addr().String(), "tls", s.TLS(), "auth", s.svc.auth != nil,
		"max_exchanges", s.cfg.MaxExchanges, "max_message_bytes", s.cfg.MaxMessageBytes,
		"max_actions", s.cfg.MaxActions, "max_gets", s.cfg.MaxGets, "max_puts", s.cfg.MaxPuts,
		"max_flight_infos", s.cfg.MaxFlightInfos, "max_endpoints", s.cfg.MaxEndpoints,
		"max_compile_time", s.cfg.MaxCompileTime, "max_state_bytes", s.cfg.MaxStateBytes,
		"max_fetch_buffer_bytes", s.cfg.MaxFetchBuffer, "idle_timeout", s.cfg.IdleTimeout)
	err := s.grpc.Serve(s.lis)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Shutdown stops accepting calls, reports NOT_SERVING on the health
// service, and lets in-flight calls finish until ctx ends; then it cancels
// them. It returns ctx's error when calls had to be cancelled.
func (s *Server) Shutdown(ctx context.Context) error {
	s.health.Shutdown()
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn("drain deadline passed; cancelling in-flight calls")
		s.grpc.Stop()
		<-done
		err = ctx.Err()
	}
	if cerr := s.svc.wh.close(); cerr != nil {
		s.log.Warn("closing the warehouse", "error", cerr)
	}
	return err
}

// DrainTimeout is the configured drain deadline for Shutdown.
func (s *Server) DrainTimeout() time.Duration { return s.cfg.DrainTimeout }

// callStats is what one call reports in its log line. Handlers fill it
// through statsFrom; only the call's own goroutine touches the plain
// fields.
type callStats struct {
	features []string
	action   string
	rowsIn   int64
	rowsOut  int64
	bytesIn  atomic.Int64
	bytesOut atomic.Int64
}

type statsKey struct{}

func statsFrom(ctx context.Context) *callStats {
	if st, ok := ctx.Value(statsKey{}).(*callStats); ok {
		return st
	}
	return &callStats{}
}

// countingStream counts the protobuf bytes of every message.
type countingStream struct {
	grpc.ServerStream
	ctx context.Context
	st  *callStats
}

func (c *countingStream) Context() context.Context { return c.ctx }

func (c *countingStream) RecvMsg(m any) error {
	err := c.ServerStream.RecvMsg(m)
	if err == nil {
		if pm, ok := m.(proto.Message); ok {
			c.st.bytesIn.Add(int64(proto.Size(pm)))
		}
	}
	return err
}

func (c *countingStream) SendMsg(m any) error {
	switch m := m.(type) {
	case *outgoingBatch:
		c.st.bytesOut.Add(int64(m.size()))
	case proto.Message:
		c.st.bytesOut.Add(int64(proto.Size(m)))
	}
	return c.ServerStream.SendMsg(m)
}

func (s *service) logStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	st := &callStats{}
	start := time.Now()
	cs := &countingStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), statsKey{}, st), st: st}
	err := handler(srv, cs)
	s.logCall(ss.Context(), info.FullMethod, st, start, err)
	return err
}

func (s *service) logUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	st := &callStats{}
	start := time.Now()
	if pm, ok := req.(proto.Message); ok {
		st.bytesIn.Add(int64(proto.Size(pm)))
	}
	resp, err := handler(context.WithValue(ctx, statsKey{}, st), req)
	if pm, ok := resp.(proto.Message); ok && err == nil {
		st.bytesOut.Add(int64(proto.Size(pm)))
	}
	s.logCall(ctx, info.FullMethod, st, start, err)
	return resp, err
}

func (s *service) logCall(ctx context.Context, fullMethod string, st *callStats, start time.Time, err error) {
	method := fullMethod[strings.LastIndexByte(fullMethod, '/')+1:]
	code := status.Code(err)
	level := slog.LevelInfo
	switch code {
	case codes.OK, codes.Canceled:
	case codes.Internal, codes.Unknown, codes.DataLoss:
		level = slog.LevelError
	default:
		level = slog.LevelWarn
	}
	if strings.HasPrefix(fullMethod, healthServicePrefix) && code == codes.OK {
		level = slog.LevelDebug // probes are frequent
	}
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{slog.String("method", method)}
	if st.action != "" {
		attrs = append(attrs, slog.String("action", st.action))
	}
	if len(st.features) > 0 {
		attrs = append(attrs, slog.Int("n_features", len(st.features)), slog.String("features", shortList(st.features, 8)))
	}
	if method == "DoExchange" || method == "DoGet" || method == "DoPut" {
		attrs = append(attrs, slog.Int64("rows_in", st.rowsIn), slog.Int64("rows_out", st.rowsOut))
	}
	attrs = append(attrs,
		slog.Int64("bytes_in", st.bytesIn.Load()), slog.Int64("bytes_out", st.bytesOut.Load()),
		slog.Duration("duration", time.Since(start)), slog.String("status", code.String()))
	if err != nil {
		attrs = append(attrs, slog.String("error", status.Convert(err).Message()))
	}
	s.log.LogAttrs(ctx, level, "flight call", attrs...)
}

func shortList(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ",")
	}
	return fmt.Sprintf("%s,... (+%d)", strings.Join(names[:n], ","), len(names)-n)
}
