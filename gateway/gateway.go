// Package gateway is the HTTP/JSON edge: grpc-gateway handlers that reach the
// services over real gRPC connections (never Register…HandlerServer, which
// would skip the interceptors), one JSON error shape, request ids, health and
// readiness, the OpenAPI document and metrics. It holds no business logic and
// no database connection.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/casebridge/casebridge/gateway/openapi"
	auditv1 "github.com/casebridge/casebridge/gen/casebridge/audit/v1"
	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	evidencev1 "github.com/casebridge/casebridge/gen/casebridge/evidence/v1"
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	notificationsv1 "github.com/casebridge/casebridge/gen/casebridge/notifications/v1"
	referralsv1 "github.com/casebridge/casebridge/gen/casebridge/referrals/v1"
	reportsv1 "github.com/casebridge/casebridge/gen/casebridge/reports/v1"
	"github.com/casebridge/casebridge/pkg/rpc"
)

const requestIDHeader = "X-Request-Id"

// Config says where the services are and what else the edge serves.
type Config struct {
	Logger *slog.Logger
	// Upstreams maps a service name ("cases", …) to its gRPC address.
	Upstreams map[string]string
	// Extra handlers mounted by path prefix (e.g. the development OIDC
	// issuer at "/dev/oidc/").
	Mounts map[string]http.Handler
	// TrustForwardedFor keeps the client's X-Forwarded-For: only behind a
	// proxy that sets it (and strips what clients send).
	TrustForwardedFor bool
	// UI, when set, builds the web application from the gateway's upstream
	// connections; it is served at "/" (every path the API does not own).
	UI func(conns map[string]*grpc.ClientConn) (http.Handler, error)
	// DialOptions reach the services: transport credentials (mutual TLS
	// with the gateway's client certificate) and keepalive. Default:
	// plaintext, for tests of the edge alone.
	DialOptions []grpc.DialOption
}

// Gateway is the HTTP handler. It owns its gRPC connections; Close closes them.
type Gateway struct {
	logger  *slog.Logger
	conns   map[string]*grpc.ClientConn
	handler http.Handler
}

// registrations lists each service's gateway registration by upstream name.
var registrations = map[string]func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
	"cases": func(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
		for _, reg := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
			casesv1.RegisterCaseServiceHandler, casesv1.RegisterTaskServiceHandler, casesv1.RegisterLegalProcessServiceHandler,
			casesv1.RegisterObservableServiceHandler,
		} {
			if err := reg(ctx, mux, conn); err != nil {
				return err
			}
		}
		return nil
	},
	"liaison": func(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
		if err := liaisonv1.RegisterDirectoryServiceHandler(ctx, mux, conn); err != nil {
			return err
		}
		return liaisonv1.RegisterLiaisonServiceHandler(ctx, mux, conn)
	},
	"evidence":      evidencev1.RegisterEvidenceServiceHandler,
	"audit":         auditv1.RegisterAuditServiceHandler,
	"referrals":     referralsv1.RegisterReferralServiceHandler,
	"notifications": notificationsv1.RegisterNotificationServiceHandler,
	"reports":       reportsv1.RegisterIncidentReportServiceHandler,
}

// Services is the list of upstream names the gateway knows.
func Services() []string {
	return slices.Sorted(maps.Keys(registrations))
}

// New builds the gateway. Connections are made lazily by gRPC, so New does
// not fail when a service is not up yet; /readyz tells.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mux := runtime.NewServeMux(
		// HTTPBodyMarshaler: a google.api.HttpBody response (the CSV
		// audit report) is sent as its bytes; everything else as protojson.
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{Marshaler: &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}}),
		runtime.WithForwardResponseOption(httpBodyContentType),
		runtime.WithErrorHandler(errorHandler),
		runtime.WithRoutingErrorHandler(routingErrorHandler),
		runtime.WithIncomingHeaderMatcher(headerMatcher),
		runtime.WithOutgoingHeaderMatcher(func(string) (string, bool) { return "", false }),
	)
	g := &Gateway{logger: logger, conns: map[string]*grpc.ClientConn{}}
	// In a fixed order: grpc-gateway tries the routes registered last
	// first, so a map's random order would make overlapping routes (a
	// custom method and a Get, "/v1/cases/{id}" and "/v1/cases/{id}:x")
	// resolve differently from one start to the next.
	for _, name := range Services() {
		register := registrations[name]
		addr, ok := cfg.Upstreams[name]
		if !ok {
			_ = g.Close()
			return nil, fmt.Errorf("gateway: no upstream address for service %q", name)
		}
		opts := cfg.DialOptions
		if len(opts) == 0 {
			opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
		}
		conn, err := grpc.NewClient(addr, opts...)
		if err != nil {
			_ = g.Close()
			return nil, fmt.Errorf("gateway: dial %s at %s: %w", name, addr, err)
		}
		g.conns[name] = conn
		if err := register(ctx, mux, conn); err != nil {
			_ = g.Close()
			return nil, fmt.Errorf("gateway: register %s: %w", name, err)
		}
	}

	root := http.NewServeMux()
	root.Handle("/v1/", mux)
	for _, e := range exports {
		root.Handle(e.Pattern, g.serveExport(mux, e))
	}
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	root.HandleFunc("GET /readyz", g.readyz)
	root.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.JSON)
	})
	root.Handle("GET /metrics", promhttp.Handler())
	for prefix, h := range cfg.Mounts {
		root.Handle(prefix, h)
	}
	if cfg.UI != nil {
		ui, err := cfg.UI(g.conns)
		if err != nil {
			_ = g.Close()
			return nil, fmt.Errorf("gateway: web application: %w", err)
		}
		root.Handle("/", ui)
	}
	g.handler = clientAddress(cfg.TrustForwardedFor, withRequestID(screen(csvAccept(root))))
	return g, nil
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.handler.ServeHTTP(w, r) }

// Close closes the upstream connections.
func (g *Gateway) Close() error {
	var errs []error
	for _, c := range g.conns {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// readyz is ready when every upstream reports SERVING, which each service
// does only while its database answers.
func (g *Gateway) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	out := map[string]string{}
	ready := true
	for name, conn := range g.conns {
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		switch {
		case err != nil:
			out[name], ready = "unreachable", false
		case resp.GetStatus() != healthpb.HealthCheckResponse_SERVING:
			out[name], ready = strings.ToLower(resp.GetStatus().String()), false
		default:
			out[name] = "serving"
		}
	}
	code := http.StatusOK
	if !ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"ready": ready, "services": out})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// headerMatcher forwards to the services the headers they use: the bearer
// token, the request id, the stated purpose of an access (audit) and the
// client's user agent — and nothing else. In particular not grpc-gateway's
// default pass-through of "Grpc-Metadata-*" headers, which would let a
// client write any metadata, such as the address the audit trail records.
func headerMatcher(key string) (string, bool) {
	// (Authorization is passed by grpc-gateway itself.)
	switch strings.ToLower(key) {
	case "x-request-id":
		return "x-request-id", true
	case "x-purpose":
		return "x-purpose", true
	case "user-agent":
		return "x-forwarded-user-agent", true
	case rpc.InvalidUTF8Header, rpc.BodyTooLargeHeader:
		// Set by screen only (it drops what clients send).
		return strings.ToLower(key), true
	}
	return "", false
}

// clientAddress decides which client address reaches the services (and the
// audit trail). grpc-gateway reports X-Forwarded-For as sent plus the peer's
// address; unless the gateway stands behind a proxy the operator trusts
// (--trust-forwarded-for), a client-supplied X-Forwarded-For is dropped so
// the recorded address is the connection's own.
func clientAddress(trust bool, next http.Handler) http.Handler {
	if trust {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("X-Forwarded-For")
		r.Header.Del("Forwarded")
		next.ServeHTTP(w, r)
	})
}

// withRequestID takes a sane X-Request-Id from the client or makes one, and
// returns it on the response; the services log and audit it.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if !rpc.ValidRequestID(id) {
			id = uuid.NewString()
			r.Header.Set(requestIDHeader, id)
		}
		w.Header().Set(requestIDHeader, id)
		next.ServeHTTP(w, r)
	})
}

// httpBodyContentType sets the Content-Type of a response whose HTTP body is
// a google.api.HttpBody field (response_body: "body"): grpc-gateway takes the
// type from the outer message, which is not the HttpBody itself.
func httpBodyContentType(_ context.Context, w http.ResponseWriter, m proto.Message) error {
	if hb, ok := m.(interface{ GetBody() *httpbody.HttpBody }); ok && hb.GetBody().GetContentType() != "" {
		w.Header().Set("Content-Type", hb.GetBody().GetContentType())
	}
	return nil
}

// caseAuditPath is the disclosure report's JSON route.
var caseAuditPath = regexp.MustCompile(`^/v1/cases/[^/:]+/audit$`)

// csvAccept serves GET /v1/cases/{case_id}/audit with `Accept: text/csv`
// from the report's CSV route (/v1/cases/{case_id}/audit:csv): content
// negotiation that grpc-gateway's routing by path cannot express.
func csvAccept(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && caseAuditPath.MatchString(r.URL.Path) &&
			strings.Contains(strings.ToLower(r.Header.Get("Accept")), "text/csv") {
			r.URL.Path += ":csv"
			r.URL.RawPath = ""
		}
		next.ServeHTTP(w, r)
	})
}
