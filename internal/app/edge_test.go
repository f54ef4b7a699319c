package app_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/pkg/rpc"
)

// The services' gRPC port speaks TLS only and requires a client
// certificate of the deployment's CA: plaintext, and TLS without a client
// certificate, are refused; a tool's certificate (as grpcurl would present
// with `casebridge dev cert`'s files) works.
func TestGRPCRequiresMutualTLS(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	check := func(creds credentials.TransportCredentials) error {
		conn, err := grpc.NewClient(s.App.GRPCAddr(), grpc.WithTransportCredentials(creds))
		require.NoError(t, err)
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	require.Error(t, check(insecure.NewCredentials()), "plaintext")

	pem, err := os.ReadFile(s.PKI.CA)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem))
	require.Error(t, check(credentials.NewTLS(&tls.Config{RootCAs: pool})), "TLS without a client certificate")

	tc, err := rpc.ClientTLS(s.PKI.ClientCert, s.PKI.ClientKey, s.PKI.CA)
	require.NoError(t, err)
	require.NoError(t, check(credentials.NewTLS(tc)), "the dev CA's client certificate")

	conn, ctx := s.GRPC(t, "det.alvarez@csp.example")
	_, err = casesv1.NewCaseServiceClient(conn).ListCases(ctx, &casesv1.ListCasesRequest{})
	require.NoError(t, err)
}

// The health-only port (--grpc-health-addr) answers probes in plaintext and
// serves nothing else.
func TestHealthOnlyPort(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t, func(c *app.Config) { c.GRPCHealthAddr = "127.0.0.1:0" })
	conn, err := grpc.NewClient(s.App.GRPCHealthAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())
	_, err = casesv1.NewCaseServiceClient(conn).ListCases(ctx, &casesv1.ListCasesRequest{})
	require.Equal(t, codes.Unimplemented, status.Code(err))
}

// Forged forwarded metadata over direct gRPC is not what the audit trail
// records: only the gateway's certificate may speak for a client's address
// and user agent.
func TestForwardedMetadataTrustedOnlyFromGateway(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	forge := func(conn *grpc.ClientConn, ctx context.Context) string {
		id := uuid.NewString()
		ctx = metadata.AppendToOutgoingContext(ctx, "x-forwarded-for", "203.0.113.66",
			"x-forwarded-user-agent", "ForgedAgent/1.0", "grpcgateway-user-agent", "ForgedAgent/1.0",
			"x-request-id", id)
		_, err := casesv1.NewCaseServiceClient(conn).ListCases(ctx, &casesv1.ListCasesRequest{})
		require.NoError(t, err)
		return id
	}
	record := func(id string) (addr, ua string) {
		require.NoError(t, s.Pool.QueryRow(context.Background(),
			`SELECT client_addr, user_agent FROM audit.events WHERE request_id = $1`, id).Scan(&addr, &ua))
		return addr, ua
	}

	conn, ctx := s.GRPC(t, "det.alvarez@csp.example")
	addr, ua := record(forge(conn, ctx))
	require.Equal(t, "127.0.0.1", addr, "the connection's own address")
	require.NotContains(t, ua, "ForgedAgent")
	require.Contains(t, ua, "grpc-go", "the connection's own user agent")

	// The same metadata from the gateway's certificate is believed (that
	// is how the edge passes the browser's address on).
	gconn, gctx := s.GRPCWith(t, "det.alvarez@csp.example", s.PKI.GatewayCert, s.PKI.GatewayKey)
	addr, ua = record(forge(gconn, gctx))
	require.Equal(t, "203.0.113.66", addr)
	require.Equal(t, "ForgedAgent/1.0", ua)
}

// auditedStatus returns the gRPC status code recorded for request id.
func auditedStatus(t *testing.T, s *apptest.System, id string) string {
	t.Helper()
	var code string
	require.NoError(t, s.Pool.QueryRow(context.Background(),
		`SELECT status_code FROM audit.events WHERE request_id = $1`, id).Scan(&code))
	return code
}

func rawGet(t *testing.T, s *apptest.System, target string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL+target, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

// Bytes that are not UTF-8 — in a query parameter, a path parameter, a
// header or a JSON body — answer 400 naming the field, and the refusal is
// in the audit trail under the request's id.
func TestInvalidUTF8IsAuditedBadInput(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	det := s.Do(t, "det.alvarez@csp.example", "POST", "/v1/cases", map[string]any{"title": "utf8"})
	require.Equal(t, http.StatusOK, det.Status)
	caseID := det.Str("id")
	tok := "Bearer " + s.Token(t, "det.alvarez@csp.example")
	sgt := "Bearer " + s.Token(t, "sgt.brooks@csp.example")

	for _, tc := range []struct {
		method, target, auth, field string
	}{
		{"GET", "/v1/cases?filter=%ff", tok, "filter"},
		{"GET", "/v1/cases/%ff", tok, "caseId"},
		{"GET", "/v1/cases?page_token=%ff%fe", tok, "pageToken"},
		{"GET", "/v1/engagements?view=%c3%28", tok, "view"},
		{"GET", "/v1/cases/" + caseID + ":explainAccess?email=a%ff@b.example", sgt, "email"},
		{"DELETE", "/v1/cases/" + caseID + "/participants/" + uuid.NewString() + "?reason=%ff", sgt, "reason"},
	} {
		id := uuid.NewString()
		req, err := http.NewRequest(tc.method, s.URL+tc.target, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", tc.auth)
		req.Header.Set("X-Request-Id", id)
		resp, err := s.HTTPClient().Do(req)
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s %s: %s", tc.method, tc.target, raw)
		require.Contains(t, string(raw), `"field":"`+tc.field+`"`, tc.target)
		require.Equal(t, "InvalidArgument", auditedStatus(t, s, id), tc.target)
	}

	// Without a token: refused (401), never 500, and recorded too.
	id := uuid.NewString()
	resp, _ := rawGet(t, s, "/v1/cases?filter=%ff", "X-Request-Id", id)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "Unauthenticated", auditedStatus(t, s, id))

	// A header that is not UTF-8 names the header; valid non-ASCII text in
	// one is kept, escaped, rather than failing the call.
	id = uuid.NewString()
	resp, body := rawGet(t, s, "/v1/cases", "Authorization", tok, "X-Request-Id", id, "User-Agent", "bad\xff/1.0")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
	require.Contains(t, body, `"field":"User-Agent"`)
	require.Equal(t, "InvalidArgument", auditedStatus(t, s, id))
	id = uuid.NewString()
	resp, body = rawGet(t, s, "/v1/cases", "Authorization", tok, "X-Request-Id", id, "User-Agent", "Navigateur/1.0 (équipe)", "X-Purpose", "enquête")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var ua, purpose string
	require.NoError(t, s.Pool.QueryRow(context.Background(),
		`SELECT user_agent, purpose FROM audit.events WHERE request_id = $1`, id).Scan(&ua, &purpose))
	require.Equal(t, `Navigateur/1.0 (\u00e9quipe)`, ua)
	require.Equal(t, `enqu\u00eate`, purpose)

	// JSON bodies: the field holding the bad bytes is named.
	id = uuid.NewString()
	r := s.Do(t, "det.alvarez@csp.example", "POST", "/v1/cases", "{\"title\":\"ok\",\"summary\":\"bad \xff here\"}", "X-Request-Id", id)
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Equal(t, "case.summary", r.List("details")[0]["field"], string(r.Raw))
	require.Equal(t, "InvalidArgument", auditedStatus(t, s, id))
	var n int
	require.NoError(t, s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM cases.cases WHERE title = 'ok'`).Scan(&n))
	require.Zero(t, n, "nothing written")
}

// A body over the limit answers 413 in the JSON error shape and is audited.
func TestOversizedBodyIs413AndAudited(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	id := uuid.NewString()
	big := `{"title":"` + strings.Repeat("a", 1<<20) + `"}`
	r := s.Do(t, "det.alvarez@csp.example", "POST", "/v1/cases", big, "X-Request-Id", id)
	require.Equal(t, http.StatusRequestEntityTooLarge, r.Status, string(r.Raw))
	require.Equal(t, "RESOURCE_EXHAUSTED", r.Str("status"))
	require.Equal(t, id, r.Str("requestId"))
	require.Equal(t, "ResourceExhausted", auditedStatus(t, s, id))
	var n int
	require.NoError(t, s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM cases.cases`).Scan(&n))
	require.Zero(t, n)
}

// Past the per-user token bucket a call answers 429 with Retry-After, the
// refusal is audited, and another user is not affected.
func TestRateLimitPerUser(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t, func(c *app.Config) {
		c.UserRate = &rpc.RateLimit{Rate: 0.2, Burst: 3}
	})
	var last *apptest.Response
	var id string
	for range 4 {
		id = uuid.NewString()
		last = s.Do(t, "det.alvarez@csp.example", "GET", "/v1/cases", nil, "X-Request-Id", id)
	}
	require.Equal(t, http.StatusTooManyRequests, last.Status, string(last.Raw))
	ra, err := strconv.Atoi(last.Header.Get("Retry-After"))
	require.NoError(t, err, last.Header)
	require.GreaterOrEqual(t, ra, 1)
	require.Equal(t, "ResourceExhausted", auditedStatus(t, s, id))
	require.Equal(t, http.StatusOK, s.Do(t, "sgt.brooks@csp.example", "GET", "/v1/cases", nil).Status)
}

// Per client address, before authentication: a flood of calls without a
// valid token is throttled too.
func TestRateLimitPerAddress(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t, func(c *app.Config) {
		c.AddressRate = &rpc.RateLimit{Rate: 0.2, Burst: 2}
	})
	codes := []int{}
	for range 3 {
		codes = append(codes, s.Do(t, "", "GET", "/v1/cases", nil).Status)
	}
	require.Equal(t, []int{401, 401, 429}, codes)
}

// openFDs counts this process's open file descriptors (the system runs in
// the test process).
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd here")
	}
	return len(ents)
}

// Idle keep-alive connections, connections that announce a body and send
// nothing, and gRPC connections that never send the HTTP/2 preface are all
// closed by the server within the configured times; afterwards the open
// file descriptors are back to where they were.
func TestIdleAndStalledConnectionsAreClosed(t *testing.T) {
	t.Parallel()
	const idle, read, handshake = 2 * time.Second, 3 * time.Second, 2 * time.Second
	s := apptest.Start(t, func(c *app.Config) {
		c.HTTP.IdleTimeout, c.HTTP.ReadTimeout, c.HTTP.ReadHeaderTimeout = idle, read, handshake
		c.HTTP.MaxConnsPerClient = -1
		c.GRPCTransport.HandshakeTimeout = handshake
	})
	// Warm up the gateway's own connections to the services, then count.
	require.Equal(t, http.StatusOK, s.Do(t, "det.alvarez@csp.example", "GET", "/v1/cases", nil).Status)
	s.HTTPClient().CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	baseline := openFDs(t)
	httpAddr := strings.TrimPrefix(s.URL, "http://")

	type probe struct {
		c    net.Conn
		kind string
	}
	var probes []probe
	dial := func(addr string) net.Conn {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		return c
	}
	// 500 idle keep-alive connections: one request each, then silence.
	for range 500 {
		c := dial(httpAddr)
		_, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		probes = append(probes, probe{c, "idle keep-alive"})
	}
	// 200 connections announcing a 1 MB body and sending none of it.
	for range 200 {
		c := dial(httpAddr)
		_, err := fmt.Fprintf(c, "POST /v1/cases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n")
		require.NoError(t, err)
		probes = append(probes, probe{c, "stalled body"})
	}
	// 200 gRPC connections that never send the TLS hello / HTTP/2 preface.
	for range 200 {
		probes = append(probes, probe{dial(s.App.GRPCAddr()), "silent gRPC"})
	}
	peak := openFDs(t)
	require.Greater(t, peak, baseline+900)

	// Every connection is closed by the server: reading reaches EOF (after
	// any response) well before the generous bound.
	start := time.Now()
	bound := time.Now().Add(read + 20*time.Second)
	var slowest time.Duration
	for _, p := range probes {
		require.NoError(t, p.c.SetReadDeadline(bound))
		_, err := io.Copy(io.Discard, p.c)
		require.NoError(t, err, "%s connection still open at the bound", p.kind)
		slowest = max(slowest, time.Since(start))
		_ = p.c.Close()
	}
	t.Logf("all %d connections closed by the server after %v (idle %v, read %v, handshake %v)", len(probes), slowest, idle, read, handshake)

	// File descriptors return to their baseline (allow a few for the
	// runtime and the database pool, which may open one meanwhile).
	deadline := time.Now().Add(10 * time.Second)
	for openFDs(t) > baseline+5 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	after := openFDs(t)
	require.LessOrEqual(t, after, baseline+5, "baseline %d", baseline)
	t.Logf("open file descriptors: %d before, %d with the connections open, %d after", baseline, peak, after)
}

// One client address may hold at most the configured number of
// connections; more are closed on accept.
func TestConnectionCapPerClient(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t, func(c *app.Config) { c.HTTP.MaxConnsPerClient = 10 })
	addr := strings.TrimPrefix(s.URL, "http://")
	var held []net.Conn
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	for range 10 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		held = append(held, c)
	}
	// Make sure the server has accepted the ten.
	for _, c := range held {
		_, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		buf := make([]byte, 12)
		_, err = io.ReadFull(c, buf)
		require.NoError(t, err)
		require.Equal(t, "HTTP/1.1 200", string(buf))
	}
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, _ = fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	n, _ := c.Read(make([]byte, 1))
	require.Zero(t, n, "the eleventh connection is closed unanswered")
	// Freeing one lets a new one in.
	_ = held[0].Close()
	held = held[1:]
	require.Eventually(t, func() bool {
		resp, err := http.Get(s.URL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond)
}

// HTTPS at the edge (casebridge dev --https): TLS 1.2+ with HTTP/2, the
// API answering through it.
func TestHTTPSEdge(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t, func(c *app.Config) { c.DevHTTPS = true })
	require.True(t, strings.HasPrefix(s.URL, "https://"), s.URL)
	r := s.Do(t, "det.alvarez@csp.example", "GET", "/v1/cases", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))

	tc, err := s.EdgeClientTLS()
	require.NoError(t, err)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}
	resp, err := client.Get(s.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 2, resp.ProtoMajor, "HTTP/2")

	old := tc.Clone()
	old.MaxVersion = tls.VersionTLS11
	old.MinVersion = tls.VersionTLS10
	_, err = (&http.Client{Transport: &http.Transport{TLSClientConfig: old}}).Get(s.URL + "/healthz")
	require.Error(t, err, "TLS 1.1 is refused")
	if resp, err := http.Get("http" + strings.TrimPrefix(s.URL, "https") + "/healthz"); err == nil {
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "plain HTTP on the HTTPS port")
	}
}
