package flightserver

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Auth, when tokens are configured:
//
//   - Every Flight call except Handshake carries the gRPC metadata
//     "authorization: Bearer <token>" with one of the configured tokens.
//   - Handshake with "authorization: Basic base64(user:password)" succeeds
//     when password is one of the configured tokens (user is free: it is only
//     logged). The response header and trailer carry "authorization: Bearer
//     <password>": the issued bearer token is the token itself, so tokens are
//     stateless and survive server restarts. A Handshake that already carries
//     a valid bearer token succeeds and echoes it.
//   - The standard gRPC health service (grpc.health.v1.Health) is open, so
//     that orchestrators can probe without credentials.
//
// Anything else is Unauthenticated. With no tokens configured, auth is off
// and Handshake succeeds without issuing a token.

const authHeader = "authorization"

const healthServicePrefix = "/grpc.health.v1.Health/"

type authenticator struct {
	tokens [][]byte
}

func newAuthenticator(tokens []string) *authenticator {
	if len(tokens) == 0 {
		return nil
	}
	a := &authenticator{}
	for _, t := range tokens {
		a.tokens = append(a.tokens, []byte(t))
	}
	return a
}

// valid reports whether tok is a configured token, comparing every
// configured token in constant time.
func (a *authenticator) valid(tok string) bool {
	ok := 0
	for _, t := range a.tokens {
		ok |= subtle.ConstantTimeCompare(t, []byte(tok))
	}
	return ok == 1
}

// credential returns the scheme and credential of the authorization header.
func credential(ctx context.Context) (scheme, cred string) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(authHeader)
	if len(vals) == 0 {
		return "", ""
	}
	scheme, cred, _ = strings.Cut(strings.TrimSpace(vals[0]), " ")
	return scheme, strings.TrimSpace(cred)
}

func (a *authenticator) checkBearer(ctx context.Context) error {
	scheme, cred := credential(ctx)
	switch {
	case scheme == "":
		return status.Error(codes.Unauthenticated, "this server requires a token: send the gRPC header \"authorization: Bearer <token>\", or obtain one with a Handshake using basic auth (password = token)")
	case strings.EqualFold(scheme, "Basic"):
		return status.Error(codes.Unauthenticated, "basic auth is only accepted on Handshake: send \"authorization: Bearer <token>\" on other calls")
	case !strings.EqualFold(scheme, "Bearer"):
		// Never echo what was sent: without a scheme, the "scheme" is the
		// token itself (issue 8: it reached the error and the WARN log).
		return status.Error(codes.Unauthenticated, "the authorization header is not \"Bearer <token>\" (the value sent is not shown); send \"authorization: Bearer <token>\"")
	case !a.valid(cred):
		return status.Error(codes.Unauthenticated, "the bearer token is not one of the server's tokens (--auth-token)")
	}
	return nil
}

// handshake validates a Handshake and returns the bearer token to issue.
func (a *authenticator) handshake(ctx context.Context) (string, error) {
	scheme, cred := credential(ctx)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		if a.valid(cred) {
			return cred, nil
		}
		return "", status.Error(codes.Unauthenticated, "the bearer token is not one of the server's tokens (--auth-token)")
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			raw, err = base64.RawStdEncoding.DecodeString(cred)
		}
		if err != nil {
			return "", status.Errorf(codes.Unauthenticated, "basic auth credential is not base64: %v", err)
		}
		_, password, ok := strings.Cut(string(raw), ":")
		if !ok {
			return "", status.Error(codes.Unauthenticated, "basic auth credential is not user:password")
		}
		if !a.valid(password) {
			return "", status.Error(codes.Unauthenticated, "handshake refused: the password must be one of the server's tokens (--auth-token)")
		}
		return password, nil
	}
	return "", status.Error(codes.Unauthenticated, "Handshake needs \"authorization: Basic base64(user:token)\" (or a valid bearer token)")
}

func (a *authenticator) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if !strings.HasPrefix(info.FullMethod, healthServicePrefix) {
		if err := a.checkBearer(ctx); err != nil {
			return nil, err
		}
	}
	return handler(ctx, req)
}

func (a *authenticator) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	switch {
	case strings.HasPrefix(info.FullMethod, healthServicePrefix):
	case strings.HasSuffix(info.FullMethod, "/Handshake"):
		tok, err := a.handshake(ss.Context())
		if err != nil {
			return err
		}
		// Header and trailer both: clients differ in which they read.
		md := metadata.Pairs(authHeader, "Bearer "+tok)
		if err := ss.SetHeader(md); err != nil {
			return err
		}
		ss.SetTrailer(md)
	default:
		if err := a.checkBearer(ss.Context()); err != nil {
			return err
		}
	}
	return handler(srv, ss)
}
