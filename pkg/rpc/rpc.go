// Package rpc owns the gRPC server every Casebridge service runs in: the one
// interceptor chain (recovery → request id and logging → audit →
// authentication → validation → authorization → service), gRPC health and server reflection. Because the
// gateway reaches services over real gRPC connections, this chain runs for
// every caller, HTTP or gRPC.
package rpc

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
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
	chain := []grpc.UnaryServerInterceptor{
		recoverUnary(logger),
		requestIDUnary(),
		logUnary(logger),
	}
	if cfg.Audit != nil {
		chain = append(chain, cfg.Audit)
	}
	chain = append(chain, cfg.Auth...)
	chain = append(chain, PrincipalRecorder(), validateUnary())
	chain = append(chain, cfg.After...)
	gs := grpc.NewServer(
		grpc.ChainUnaryInterceptor(chain...),
		grpc.ChainStreamInterceptor(recoverStream(logger), infrastructureStreamsOnly()),
	)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	return &Server{Server: gs, Health: hs}
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
