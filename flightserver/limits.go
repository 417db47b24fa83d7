package flightserver

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Per-request limits. The server is shared: no request may crash it, hang
// it or starve the others (issue 8). Each limit is a flag (config.go,
// docs/flight.md), and a request past one is refused with
// ResourceExhausted naming the limit and its flag.
//
//   - Concurrency per RPC kind: --max-exchanges (DoExchange, taken at the
//     first batch so an exchange that opens and sends nothing holds no
//     slot), --max-actions, --max-gets, --max-puts, --max-flight-infos.
//   - --max-compile-time: compiling a request's features.
//   - --max-state-bytes: the window and lag state one exchange's kernels
//     hold (compute.Stream.StateBytes), checked after every batch of an
//     exchange or a fetch.
//   - --max-endpoints: the endpoints (symbols x shards) of a GetFlightInfo,
//     counted before any is built.
//   - --idle-timeout: an exchange or DoPut waiting on its client longer
//     than this ends with DeadlineExceeded.
//   - A panic in a handler ends that call with Internal; the server keeps
//     serving.

// callLimit is a semaphore of calls of one kind.
type callLimit struct {
	what, flag string
	sem        chan struct{}
}

func newCallLimit(what, flag string, n int) *callLimit {
	return &callLimit{what: what, flag: flag, sem: make(chan struct{}, n)}
}

// acquire takes a slot or refuses at once.
func (l *callLimit) acquire() (release func(), err error) {
	select {
	case l.sem <- struct{}{}:
		return func() { <-l.sem }, nil
	default:
		return nil, status.Errorf(codes.ResourceExhausted, "the server is running its maximum of %d %s (%s); retry later", cap(l.sem), l.what, l.flag)
	}
}

// limits holds the semaphores by method name.
type limits struct {
	byMethod map[string]*callLimit
}

func newLimits(cfg Config) *limits {
	return &limits{byMethod: map[string]*callLimit{
		"DoAction":      newCallLimit("DoAction calls", "--max-actions", cfg.MaxActions),
		"DoGet":         newCallLimit("DoGet calls", "--max-gets", cfg.MaxGets),
		"DoPut":         newCallLimit("DoPut calls", "--max-puts", cfg.MaxPuts),
		"GetFlightInfo": newCallLimit("GetFlightInfo calls", "--max-flight-infos", cfg.MaxFlightInfos),
	}}
}

func methodName(full string) string { return full[strings.LastIndexByte(full, '/')+1:] }

func (l *limits) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if cl := l.byMethod[methodName(info.FullMethod)]; cl != nil {
		release, err := cl.acquire()
		if err != nil {
			return nil, err
		}
		defer release()
	}
	return handler(ctx, req)
}

func (l *limits) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if cl := l.byMethod[methodName(info.FullMethod)]; cl != nil {
		release, err := cl.acquire()
		if err != nil {
			return err
		}
		defer release()
	}
	return handler(srv, ss)
}

// recovered turns a panic into an Internal status for the call, logging the
// stack; the message names no internals.
func (s *service) recovered(method string, err *error) {
	r := recover()
	if r == nil {
		return
	}
	s.log.Error("panic in a handler; the call ends with INTERNAL and the server keeps serving",
		"method", methodName(method), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	*err = status.Errorf(codes.Internal, "internal error in %s (logged by the server); the server is still serving", methodName(method))
}

func (s *service) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer s.recovered(info.FullMethod, &err)
	return handler(ctx, req)
}

func (s *service) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer s.recovered(info.FullMethod, &err)
	return handler(srv, ss)
}

// compileContext bounds compiling a request by --max-compile-time.
func (s *service) compileContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, s.maxCompileTime, errCompileTime)
}

var errCompileTime = errors.New("compile time limit")

// compileError maps a compile stopped by ctx: the client's cancel or
// deadline as such, the server's own limit as ResourceExhausted.
func (s *service) compileError(ctx context.Context) error {
	if errors.Is(context.Cause(ctx), errCompileTime) {
		return status.Errorf(codes.ResourceExhausted, "compiling the request's features took longer than %s (--max-compile-time); split the request", s.maxCompileTime)
	}
	return status.FromContextError(ctx.Err()).Err()
}

// idleWatch ends an exchange or DoPut whose client sends nothing for
// --idle-timeout while the server waits for it. The handler runs in its
// own goroutine; when the watch fires the call returns DeadlineExceeded,
// gRPC ends the stream and cancels its context, and the handler, blocked
// in Recv, returns at once (its deferred releases run then).
func (s *service) idleWatch(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	m := methodName(info.FullMethod)
	if m != "DoExchange" && m != "DoPut" {
		return handler(srv, ss)
	}
	is := &idleStream{ServerStream: ss}
	done := make(chan error, 1)
	go func() {
		var err error
		defer func() { done <- err }()
		defer s.recovered(info.FullMethod, &err)
		err = handler(srv, is)
	}()
	tick := time.NewTicker(min(s.idleTimeout/4+1, time.Second))
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			if since := is.waiting(); since > s.idleTimeout {
				return status.Errorf(codes.DeadlineExceeded, "%s: the client sent nothing for %s (--idle-timeout); the call is ended", m, since.Round(time.Second))
			}
		}
	}
}

// idleStream records since when the handler waits in RecvMsg.
type idleStream struct {
	grpc.ServerStream
	recvSince atomic.Int64 // unix nanoseconds; 0: not waiting
}

func (s *idleStream) RecvMsg(m any) error {
	s.recvSince.Store(time.Now().UnixNano())
	defer s.recvSince.Store(0)
	return s.ServerStream.RecvMsg(m)
}

func (s *idleStream) waiting() time.Duration {
	t := s.recvSince.Load()
	if t == 0 {
		return 0
	}
	return time.Since(time.Unix(0, t))
}

// checkState refuses an exchange or a fetch (what) whose kernel state
// passed --max-state-bytes; fewer says what the client could send less of.
func (s *service) checkState(what, fewer string, stateBytes func() int64) error {
	if b := stateBytes(); b > s.maxStateBytes {
		return status.Errorf(codes.ResourceExhausted, "the %s's window and lag state takes %s, more than the limit of %s (--max-state-bytes); %s, or use shorter windows",
			what, sizeText(b), sizeText(s.maxStateBytes), fewer)
	}
	return nil
}

// checkEndpoints refuses a GetFlightInfo whose symbols x shards exceed
// --max-endpoints, before any endpoint is built (issue 8: 40 symbols x 1 s
// shards built 3.46M endpoints, 2.5 GB).
func (s *service) checkEndpoints(symbols int, start, end time.Time, every time.Duration) error {
	if every <= 0 || !end.After(start) || symbols == 0 {
		return nil // batch.Split reports what is wrong
	}
	perSymbol := (end.Sub(start) + every - 1) / every
	if perSymbol > time.Duration(s.maxEndpoints) || int64(perSymbol)*int64(symbols) > int64(s.maxEndpoints) {
		return status.Errorf(codes.ResourceExhausted, "GetFlightInfo: %d symbols x %d shards of %s would be %d endpoints, more than the limit of %d (--max-endpoints); ask for longer shards",
			symbols, int64(perSymbol), every, int64(perSymbol)*int64(symbols), s.maxEndpoints)
	}
	return nil
}

// sizeText writes a byte count in the largest unit that keeps it >= 1.
func sizeText(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", b)
}
