// Package rpc owns the gRPC server every Casebridge service runs in: its
// transport (TLS with client certificates, keepalive enforcement,
// connection idle/age limits, a handshake timeout), the one interceptor
// chain (recovery → request id and logging → forwarded-metadata trust →
// audit → per-address rate limit → authentication → per-user rate limit →
// validation → authorization → service), gRPC health and server
// reflection. Because the gateway reaches services over real gRPC
// connections, this chain runs for every caller, HTTP or gRPC.
package rpc

import (
	"context"
	"crypto/tls"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

// Config configures a server.
type Config struct {
	Logger *slog.Logger
	// Audit records every call; it runs before authentication so that
	// unauthenticated calls are recorded too.
	Audit grpc.UnaryServerInterceptor
	// Auth authenticates the caller; nil means no authentication (tests of
	// the chain itself only).
	Auth []grpc.UnaryServerInterceptor
	// After runs after authentication, before the handler (authorization,
	// audit).
	After []grpc.UnaryServerInterceptor
	// TLS, when set, is the listener's TLS configuration (ServerTLS:
	// client certificates required). Without it the port is plaintext
	// and no peer is trusted to forward client metadata.
	TLS *tls.Config
	// TrustedPeers are the client-certificate names whose forwarded client
	// address, user agent and hop mark are believed; default
	// [GatewayIdentity].
	TrustedPeers []string
	// Transport bounds connections; zero fields take DefaultTransport's.
	Transport Transport
	// UserRate and AddressRate throttle calls per authenticated user and
	// per client address (RESOURCE_EXHAUSTED with RetryInfo, audited).
	// A zero Rate turns a limit off.
	UserRate, AddressRate RateLimit
}

// Transport bounds what a connection may cost the server.
type Transport struct {
	// HandshakeTimeout bounds the TLS handshake and the HTTP/2 preface: a
	// connection that sends nothing is closed after it.
	HandshakeTimeout time.Duration
	// MaxConnectionIdle closes a connection without calls for this long.
	MaxConnectionIdle time.Duration
	// MaxConnectionAge closes (GOAWAY) any connection this old, after
	// MaxConnectionAgeGrace for calls in flight; clients reconnect, which
	// spreads load over replicas and picks up rotated certificates.
	MaxConnectionAge, MaxConnectionAgeGrace time.Duration
	// KeepaliveMinTime is the shortest ping interval a client may use;
	// faster pingers are disconnected (keepalive enforcement).
	KeepaliveMinTime time.Duration
}

// DefaultTransport suits a gateway holding a few long-lived connections
// and operators' tools making short ones.
var DefaultTransport = Transport{
	HandshakeTimeout:      10 * time.Second,
	MaxConnectionIdle:     5 * time.Minute,
	MaxConnectionAge:      30 * time.Minute,
	MaxConnectionAgeGrace: 5 * time.Minute,
	KeepaliveMinTime:      30 * time.Second,
}

// ClientKeepalive is what clients of the services (the gateway, services
// calling each other) use: pings well above the server's KeepaliveMinTime.
var ClientKeepalive = keepalive.ClientParameters{Time: time.Minute, Timeout: 20 * time.Second}

func (t Transport) withDefaults() Transport {
	d := DefaultTransport
	if t.HandshakeTimeout > 0 {
		d.HandshakeTimeout = t.HandshakeTimeout
	}
	if t.MaxConnectionIdle > 0 {
		d.MaxConnectionIdle = t.MaxConnectionIdle
	}
	if t.MaxConnectionAge > 0 {
		d.MaxConnectionAge = t.MaxConnectionAge
	}
	if t.MaxConnectionAgeGrace > 0 {
		d.MaxConnectionAgeGrace = t.MaxConnectionAgeGrace
	}
	if t.KeepaliveMinTime > 0 {
		d.KeepaliveMinTime = t.KeepaliveMinTime
	}
	return d
}

// Server is a gRPC server with health reporting.
type Server struct {
	*grpc.Server
	Health *health.Server
}

// NewServer builds a gRPC server with the shared interceptor chain.
func NewServer(cfg Config) *Server {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Authentication runs before validation (unlike the usual
	// validate-first order) so that the audit record of a rejected bad
	// request names who sent it.
	trusted := cfg.TrustedPeers
	if len(trusted) == 0 {
		trusted = []string{GatewayIdentity}
	}
	chain := []grpc.UnaryServerInterceptor{
		recoverUnary(logger),
		requestIDUnary(),
		logUnary(logger),
		func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			return handler(trustForwarded(ctx, trusted), req)
		},
	}
	if cfg.Audit != nil {
		chain = append(chain, cfg.Audit)
	}
	if l := addressLimit(cfg.AddressRate); l != nil {
		chain = append(chain, l)
	}
	chain = append(chain, cfg.Auth...)
	chain = append(chain, PrincipalRecorder())
	if l := userLimit(cfg.UserRate); l != nil {
		chain = append(chain, l)
	}
	chain = append(chain, validateUnary())
	chain = append(chain, cfg.After...)
	tr := cfg.Transport.withDefaults()
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(chain...),
		grpc.ChainStreamInterceptor(recoverStream(logger), infrastructureStreamsOnly()),
		grpc.ConnectionTimeout(tr.HandshakeTimeout),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: tr.KeepaliveMinTime, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle:     tr.MaxConnectionIdle,
			MaxConnectionAge:      tr.MaxConnectionAge,
			MaxConnectionAgeGrace: tr.MaxConnectionAgeGrace,
			Time:                  2 * time.Minute,
			Timeout:               20 * time.Second,
		}),
	}
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	gs := grpc.NewServer(opts...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	return &Server{Server: gs, Health: hs}
}

// HealthOnly returns a plaintext gRPC server with nothing but the health
// service (the same statuses as s): for probes that cannot present a
// client certificate, such as the kubelet's gRPC probe. It serves no data
// and no method of the API.
func (s *Server) HealthOnly() *grpc.Server {
	gs := grpc.NewServer(grpc.ConnectionTimeout(DefaultTransport.HandshakeTimeout))
	healthpb.RegisterHealthServer(gs, s.Health)
	return gs
}

// WatchReadiness sets the health status of every name to SERVING while ping
// succeeds and NOT_SERVING while it fails, checking every interval until ctx
// ends. The gateway's /readyz asks this health service.
func (s *Server) WatchReadiness(ctx context.Context, interval time.Duration, ping func(context.Context) error, names ...string) {
	set := func(st healthpb.HealthCheckResponse_ServingStatus) {
		s.Health.SetServingStatus("", st)
		for _, n := range names {
			s.Health.SetServingStatus(n, st)
		}
	}
	check := func() {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := ping(pctx); err != nil {
			set(healthpb.HealthCheckResponse_NOT_SERVING)
			return
		}
		set(healthpb.HealthCheckResponse_SERVING)
	}
	check()
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				check()
			}
		}
	}()
}

// codeOf returns the gRPC code of err for logs.
func codeOf(err error) string { return status.Code(err).String() }
