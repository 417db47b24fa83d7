package flightserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

func grpcConn(t testing.TB, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func bearer(ctx context.Context, tok string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

func TestAuth(t *testing.T) {
	ts := startServer(t, Config{AuthTokens: []string{"s3cret", "other-token"}})
	c := newClient(t, ts.addr())
	ctx := context.Background()
	var res map[string]any

	checkStatus(t, doAction(ctx, c, ActionHealth, nil, &res), codes.Unauthenticated, "authorization: Bearer <token>")
	checkStatus(t, doAction(bearer(ctx, "wrong"), c, ActionHealth, nil, &res), codes.Unauthenticated, "not one of the server's tokens")
	if err := doAction(bearer(ctx, "other-token"), c, ActionHealth, nil, &res); err != nil {
		t.Fatal(err)
	}

	rec := tradeRecord(t, memory.DefaultAllocator, 1, 200)
	defer rec.Release()
	_, err := exchange(ctx, t, c, featuresCmd(t, testFeatures[:2]), rec.Schema(), []arrow.RecordBatch{rec})
	checkStatus(t, err, codes.Unauthenticated)
	_, err = c.GetSchema(ctx, nil)
	checkStatus(t, err, codes.Unauthenticated)

	// The basic-auth handshake issues the bearer token.
	_, err = c.AuthenticateBasicToken(ctx, "alice", "wrong")
	checkStatus(t, err, codes.Unauthenticated, "password must be one of the server's tokens")
	actx, err := c.AuthenticateBasicToken(ctx, "alice", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	md, _ := metadata.FromOutgoingContext(actx)
	if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer s3cret" {
		t.Fatalf("issued %v", got)
	}
	if err := doAction(actx, c, ActionHealth, nil, &res); err != nil {
		t.Fatal(err)
	}
	got, err := exchange(actx, t, c, featuresCmd(t, testFeatures[:2]), rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	got.release()

	// The standard health service is open.
	hc := healthpb.NewHealthClient(grpcConn(t, ts.addr(), nil))
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
}

func TestAuthOff(t *testing.T) {
	ts := startServer(t, Config{})
	c := newClient(t, ts.addr())
	var res map[string]any
	// Any token or none is fine when auth is off.
	if err := doAction(bearer(context.Background(), "whatever"), c, ActionHealth, nil, &res); err != nil {
		t.Fatal(err)
	}
	if err := doAction(context.Background(), c, ActionHealth, nil, &res); err != nil {
		t.Fatal(err)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func selfSigned(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fdag test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	ts := startServer(t, Config{TLSCert: certFile, TLSKey: keyFile, AuthTokens: []string{"tok"}})
	creds := credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	c := newClient(t, ts.addr(), grpc.WithTransportCredentials(creds))
	ctx, err := c.AuthenticateBasicToken(context.Background(), "u", "tok")
	if err != nil {
		t.Fatal(err)
	}
	rec := tradeRecord(t, memory.DefaultAllocator, 1, 1000)
	defer rec.Release()
	in := split(rec, 1, 300)
	defer releaseAll(in)
	got, err := exchange(ctx, t, c, featuresCmd(t, testFeatures), rec.Schema(), in)
	if err != nil {
		t.Fatal(err)
	}
	defer got.release()
	want := oneShot(t, rec, testFeatures)
	defer want.Release()
	checkSame(t, got, in, want)

	// A plaintext client cannot talk to it.
	plain := newClient(t, ts.addr())
	var res map[string]any
	cctx, cancel := context.WithTimeout(bearer(context.Background(), "tok"), 2*time.Second)
	defer cancel()
	if err := doAction(cctx, plain, ActionHealth, nil, &res); err == nil {
		t.Fatal("plaintext call succeeded against TLS")
	}
}
