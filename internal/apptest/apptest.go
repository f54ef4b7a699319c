// Package apptest boots the whole system in-process for end-to-end tests: a
// fresh migrated database (pgtest) with the demo world, every service and the
// gateway on random loopback ports, real gRPC between them, and real tokens
// from the development issuer. Tests then speak HTTP/JSON or gRPC to it as a
// partner agency's tool would.
package apptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/internal/devca"
	"github.com/casebridge/casebridge/pkg/auth/devissuer"
	"github.com/casebridge/casebridge/pkg/pgtest"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
)

// System is a running Casebridge.
type System struct {
	App         *app.App
	URL         string // gateway base URL
	DatabaseURL string
	Pool        *pgxpool.Pool // a separate pool for assertions made straight in SQL
	Issuer      *devissuer.Issuer
	// PKI is the development CA and certificates the system's gRPC port
	// runs on (mutual TLS, as in production).
	PKI    devca.Files
	client *http.Client
}

// Start boots a system on a fresh database; it stops when the test ends.
// edit, when given, adjusts the configuration first.
func Start(t testing.TB, edit ...func(*app.Config)) *System {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	return StartOn(t, dbURL, edit...)
}

// StartOn boots a system on an existing, migrated database.
func StartOn(t testing.TB, dbURL string, edit ...func(*app.Config)) *System {
	t.Helper()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = demo.Seed(ctx, pool)
	require.NoError(t, err)

	cfg := app.Config{
		Target:      "all",
		HTTPAddr:    "127.0.0.1:0",
		GRPCAddr:    "127.0.0.1:0",
		DatabaseURL: dbURL,
		DataDir:     t.TempDir(),
		DevIssuer:   true,
		// As deployed: the services run as the least-privileged role.
		DBRole: "casebridge_app",
	}
	for _, e := range edit {
		e(&cfg)
	}
	a, err := app.Start(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Shutdown(sctx)
	})
	iss, err := devissuer.Load(cfg.DataDir)
	require.NoError(t, err)
	s := &System{App: a, URL: a.HTTPURL(), DatabaseURL: dbURL, Pool: pool, Issuer: iss,
		PKI: devca.Paths(cfg.DataDir), client: &http.Client{Timeout: 30 * time.Second}}
	if strings.HasPrefix(s.URL, "https://") {
		tc, err := s.EdgeClientTLS()
		require.NoError(t, err)
		s.client.Transport = &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}
	}
	return s
}

// Token mints a bearer token for email from the development issuer.
func (s *System) Token(t testing.TB, email string) string {
	t.Helper()
	tok, err := s.Issuer.Mint(s.App.DevIssuerURL(), email, email, time.Hour)
	require.NoError(t, err)
	return tok
}

// Response is an HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Raw    []byte
	JSON   map[string]any
}

// Str returns the string at a dotted path of the JSON body ("" if absent).
func (r *Response) Str(path string) string {
	v := r.Get(path)
	s, _ := v.(string)
	return s
}

// Get returns the value at a dotted path of the JSON body.
func (r *Response) Get(path string) any {
	var cur any = r.JSON
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// List returns the array at key of the JSON body.
func (r *Response) List(key string) []map[string]any {
	arr, _ := r.JSON[key].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, v := range arr {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// Do sends a request as email ("" for no token). body may be nil, a string
// (sent as is) or a value marshalled to JSON.
func (s *System) Do(t testing.TB, email, method, path string, body any, headers ...string) *Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if email != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token(t, email))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := &Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	_ = json.Unmarshal(raw, &out.JSON)
	return out
}

// HTTPClient is a client for the gateway (trusting the dev CA when the
// edge serves HTTPS).
func (s *System) HTTPClient() *http.Client { return s.client }

// EdgeClientTLS trusts the development CA, for clients of an HTTPS edge.
func (s *System) EdgeClientTLS() (*tls.Config, error) {
	pem, err := os.ReadFile(s.PKI.CA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// GRPC returns a client connection to the services and a context carrying
// email's token, for tests that go around the gateway. It presents the
// development CA's tool certificate (casebridge-client), as grpcurl
// would: the services accept it, but not as the gateway.
func (s *System) GRPC(t testing.TB, email string) (*grpc.ClientConn, context.Context) {
	t.Helper()
	return s.GRPCWith(t, email, s.PKI.ClientCert, s.PKI.ClientKey)
}

// GRPCWith is GRPC presenting the given client certificate (for example
// s.PKI.GatewayCert, to act as the gateway).
func (s *System) GRPCWith(t testing.TB, email, certFile, keyFile string) (*grpc.ClientConn, context.Context) {
	t.Helper()
	tc, err := rpc.ClientTLS(certFile, keyFile, s.PKI.CA)
	require.NoError(t, err)
	conn, err := grpc.NewClient(s.App.GRPCAddr(), grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ctx := context.Background()
	if email != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.Token(t, email))
	}
	return conn, ctx
}
