// Package app wires Casebridge processes: which services and whether the
// gateway run in this process (--target), their listeners, the database
// pool, authentication and the authorization policy. cmd/casebridge and the
// end-to-end tests start the system through Start, so tests boot exactly
// what operators run.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/casebridge/casebridge/gateway"
	"github.com/casebridge/casebridge/gateway/web"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/auth/devissuer"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/cases"
)

// Targets returns the targets a process can run: all, gateway, or one service.
func Targets() []string {
	out := []string{"all", "gateway"}
	for _, s := range services {
		out = append(out, s.name)
	}
	return out
}

// Config configures one process.
type Config struct {
	Target      string // all, gateway or a service name
	HTTPAddr    string // gateway listen address
	GRPCAddr    string // services listen address
	DatabaseURL string
	// DataDir holds the development issuer's key when DevIssuer is set.
	DataDir   string
	DevIssuer bool
	// PublicURL is the gateway's base URL as clients see it; the development
	// issuer's URL derives from it. Default: http://<HTTP listen address>.
	PublicURL string
	// Issuers are the trusted OIDC issuers (besides the development one),
	// from the --oidc-* flags; IssuersFile (--issuers) adds those of a YAML
	// file (auth.LoadIssuersFile), read by Validate.
	Issuers     []auth.IssuerConfig
	IssuersFile string
	PolicyFile  string
	// Upstreams maps service name to gRPC address for a gateway running
	// apart from its services. Default: every service at GRPCAddr.
	Upstreams map[string]string
	Logger    *slog.Logger
	// DBRole, when set, is the database role the services run as (SET ROLE
	// on every connection; --db-role): casebridge_app, which may only
	// INSERT and SELECT the audit trail. "" keeps the login's role.
	DBRole string
	// TrustForwardedFor: the gateway stands behind a proxy that sets
	// X-Forwarded-For; keep it as the client's address (audit).
	TrustForwardedFor bool
	// DisableAudit turns the audit interceptor off. For benchmarks only
	// (to measure what auditing costs); never exposed as a flag.
	DisableAudit bool
	// ReferralAckDue is how long a recipient has to acknowledge a referral
	// (--referral-ack-due); 0 means the default, 72h.
	ReferralAckDue time.Duration
	// Web application (gateway/web): its OIDC client at the first
	// --oidc-issuer (--oidc-client-id, --oidc-client-secret), or the
	// development issuer when DevIssuer is set and no client id is given;
	// the file holding its session key (--session-key-file; default
	// <data-dir>/web-session.key, created 0600).
	WebClientID, WebClientSecret, SessionKeyFile string
	// DeconflictionKeyFile holds the cases service's deconfliction keys
	// (--deconfliction-key-file; default <data-dir>/deconfliction.keys,
	// created 0600 with one random key). DeconflictionLookupsPerHour is
	// how many observables one user may record an hour
	// (--deconfliction-lookups-per-hour; 0: 500).
	DeconflictionKeyFile        string
	DeconflictionLookupsPerHour int
}

// Validate checks cfg and fills defaults.
func (c *Config) Validate() error {
	if c.Target == "" {
		c.Target = "all"
	}
	if !slices.Contains(Targets(), c.Target) {
		return fmt.Errorf("--target: unknown target %q (one of %s)", c.Target, strings.Join(Targets(), ", "))
	}
	if c.runsServices() && c.DatabaseURL == "" {
		return errors.New("--database-url (CASEBRIDGE_DATABASE_URL or DATABASE_URL) is required")
	}
	if c.IssuersFile != "" {
		fromFile, err := auth.LoadIssuersFile(c.IssuersFile)
		if err != nil {
			return err
		}
		c.Issuers = append(c.Issuers, fromFile...)
		c.IssuersFile = "" // read once: Validate may run again
	}
	if c.runsServices() && !c.DevIssuer && len(c.Issuers) == 0 {
		return errors.New("no token issuer: set --issuers FILE, or --oidc-issuer, --oidc-audience and --oidc-agencies, or --dev-issuer")
	}
	if c.DevIssuer && c.DataDir == "" {
		return errors.New("--dev-issuer needs --data-dir for its signing key")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return auth.ValidateIssuers(c.Issuers, authz.Roles...)
}

func (c *Config) runsServices() bool { return c.Target != "gateway" }
func (c *Config) runsGateway() bool  { return c.Target == "all" || c.Target == "gateway" }

// App is a running process.
type App struct {
	cfg      Config
	httpLn   net.Listener
	grpcLn   net.Listener
	httpSrv  *http.Server
	grpcSrv  *rpc.Server
	gw       *gateway.Gateway
	pool     *pgxpool.Pool
	engine   *authz.Engine
	audit    *audit.Writer
	connsMu  sync.Mutex
	conns    map[string]*grpc.ClientConn
	stop     context.CancelFunc
	served   chan error
	public   string
	issuerRL string
}

// Start listens, connects and serves; it returns once the process accepts
// requests. Shutdown stops it.
func Start(ctx context.Context, cfg Config) (_ *App, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, served: make(chan error, 2)}
	defer func() {
		if err != nil {
			a.closeAll()
		}
	}()
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.stop = stop

	if cfg.runsGateway() {
		if a.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
		}
		a.public = strings.TrimSuffix(cfg.PublicURL, "/")
		if a.public == "" {
			a.public = "http://" + a.httpLn.Addr().String()
		}
	} else {
		a.public = strings.TrimSuffix(cfg.PublicURL, "/")
	}
	if cfg.runsServices() {
		if a.grpcLn, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
			return nil, fmt.Errorf("listen %s: %w", cfg.GRPCAddr, err)
		}
	}

	var dev *devissuer.Issuer
	if cfg.DevIssuer {
		if dev, err = devissuer.Load(cfg.DataDir); err != nil {
			return nil, err
		}
		if a.public == "" {
			return nil, errors.New("--dev-issuer on a services-only process needs --public-url (the gateway's URL)")
		}
		a.issuerRL = devissuer.IssuerURL(a.public)
	}

	if cfg.runsServices() {
		if err := a.startServices(bg, dev); err != nil {
			return nil, err
		}
	}
	if cfg.runsGateway() {
		if err := a.startGateway(bg, dev); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *App) startServices(ctx context.Context, dev *devissuer.Issuer) error {
	cfg := a.cfg
	pol, err := authz.LoadPolicyFile(cfg.PolicyFile)
	if err != nil {
		return err
	}
	if a.engine, err = authz.NewEngine(pol); err != nil {
		return err
	}
	if a.pool, err = postgres.Open(ctx, cfg.DatabaseURL, postgres.WithRole(cfg.DBRole)); err != nil {
		return err
	}
	issuers := slices.Clone(cfg.Issuers)
	if dev != nil {
		issuers = append(issuers, devIssuerConfig(a.issuerRL))
	}
	authn := auth.NewAuthenticator(issuers, auth.NewPostgresDirectory(a.pool), auth.WithLogger(cfg.Logger),
		auth.WithRejectionObserver(a.auditRejection), auth.WithChangeRecorder(recordRoleChange))
	a.audit = audit.NewWriter(a.pool, cfg.Logger)
	auditor := audit.Interceptor(a.audit)
	if cfg.DisableAudit {
		auditor = nil
	}
	az := authz.NewAuthorizer(a.engine)
	a.grpcSrv = rpc.NewServer(rpc.Config{
		Logger: cfg.Logger,
		Audit:  auditor,
		Auth:   []grpc.UnaryServerInterceptor{authn.UnaryInterceptor()},
		After:  []grpc.UnaryServerInterceptor{az.MethodInterceptor(methodRules())},
	})
	deps := Deps{Pool: a.pool, Authz: az, Logger: cfg.Logger, Conn: a.conn, ReferralAckDue: cfg.ReferralAckDue,
		DeconflictionLookupsPerHour: cfg.DeconflictionLookupsPerHour}
	if cfg.Target == "all" || cfg.Target == "cases" {
		keyFile := cfg.DeconflictionKeyFile
		if keyFile == "" && cfg.DataDir != "" {
			keyFile = filepath.Join(cfg.DataDir, "deconfliction.keys")
		}
		if keyFile == "" {
			return errors.New("the cases service needs --deconfliction-key-file (or --data-dir)")
		}
		if deps.Deconfliction, err = cases.LoadOrCreateKeyring(keyFile); err != nil {
			return err
		}
	}
	var names []string
	for _, s := range services {
		if cfg.Target == "all" || cfg.Target == s.name {
			names = append(names, s.register(a.grpcSrv.Server, deps))
		}
	}
	a.grpcSrv.WatchReadiness(ctx, time.Second, a.pool.Ping, names...)
	go func() { a.served <- a.grpcSrv.Serve(a.grpcLn) }()
	return nil
}

func (a *App) startGateway(ctx context.Context, dev *devissuer.Issuer) error {
	ups := map[string]string{}
	for _, name := range gateway.Services() {
		ups[name] = a.upstream(name)
	}
	mounts := map[string]http.Handler{}
	if dev != nil {
		mounts["/dev/oidc/"] = dev.Handler(a.issuerRL, devissuer.WithLoginUsers(demoLoginUsers()))
	}
	ui, err := a.webUI()
	if err != nil {
		return err
	}
	if a.gw, err = gateway.New(ctx, gateway.Config{Logger: a.cfg.Logger, Upstreams: ups, Mounts: mounts, UI: ui,
		TrustForwardedFor: a.cfg.TrustForwardedFor}); err != nil {
		return err
	}
	a.httpSrv = &http.Server{Handler: a.gw, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := a.httpSrv.Serve(a.httpLn); !errors.Is(err, http.ErrServerClosed) {
			a.served <- err
		}
	}()
	return nil
}

// webUI returns the web application's constructor, or nil when no OIDC
// client is configured for it (then "/" is not served).
func (a *App) webUI() (func(map[string]*grpc.ClientConn) (http.Handler, error), error) {
	cfg := a.cfg
	wc := web.Config{Logger: cfg.Logger, PublicURL: a.public, ClientID: cfg.WebClientID, ClientSecret: cfg.WebClientSecret}
	switch {
	case cfg.WebClientID != "" && len(cfg.Issuers) > 0:
		wc.IssuerURL = cfg.Issuers[0].URL
	case cfg.DevIssuer:
		wc.IssuerURL, wc.ClientID = a.issuerRL, devissuer.Audience
	default:
		return nil, nil
	}
	keyFile := cfg.SessionKeyFile
	if keyFile == "" && cfg.DataDir != "" {
		keyFile = filepath.Join(cfg.DataDir, "web-session.key")
	}
	if keyFile == "" {
		return nil, errors.New("the web application needs --session-key-file (or --data-dir)")
	}
	key, err := web.LoadOrCreateKey(keyFile)
	if err != nil {
		return nil, err
	}
	wc.SessionKey = key
	return func(conns map[string]*grpc.ClientConn) (http.Handler, error) {
		wc.Conns = conns
		return web.New(wc)
	}, nil
}

// demoLoginUsers are the users the development issuer's sign-in page offers.
func demoLoginUsers() []devissuer.LoginUser {
	out := make([]devissuer.LoginUser, 0, len(demo.Users))
	for _, u := range demo.Users {
		out = append(out, devissuer.LoginUser{Email: u.Email, Name: u.DisplayName, Agency: u.Agency, Roles: u.Roles})
	}
	return out
}

// upstream returns the gRPC address of service name: its --upstream entry,
// else this process's own gRPC listener, else --grpc-addr.
func (a *App) upstream(name string) string {
	if addr, ok := a.cfg.Upstreams[name]; ok && addr != "" {
		return addr
	}
	if a.grpcLn != nil {
		return a.grpcLn.Addr().String()
	}
	return a.cfg.GRPCAddr
}

// conn returns a shared client connection to service name.
func (a *App) conn(name string) *grpc.ClientConn {
	a.connsMu.Lock()
	defer a.connsMu.Unlock()
	if c, ok := a.conns[name]; ok {
		return c
	}
	// NewClient only fails on a malformed target or options; connecting is lazy.
	c, err := grpc.NewClient(a.upstream(name), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(fmt.Sprintf("app: client for %s: %v", name, err))
	}
	if a.conns == nil {
		a.conns = map[string]*grpc.ClientConn{}
	}
	a.conns[name] = c
	return c
}

// HTTPURL is the gateway's base URL ("" when the gateway does not run here).
func (a *App) HTTPURL() string { return a.public }

// GRPCAddr is the services' listen address ("" when none run here).
func (a *App) GRPCAddr() string {
	if a.grpcLn == nil {
		return ""
	}
	return a.grpcLn.Addr().String()
}

// Methods lists the full names of the RPCs this process serves (health and
// reflection excepted), for tests that must cover every RPC.
func (a *App) Methods() []string {
	if a.grpcSrv == nil {
		return nil
	}
	var out []string
	for svc, info := range a.grpcSrv.GetServiceInfo() {
		if strings.HasPrefix(svc, "grpc.") {
			continue
		}
		for _, m := range info.Methods {
			out = append(out, "/"+svc+"/"+m.Name)
		}
	}
	slices.Sort(out)
	return out
}

// DevIssuerURL is the development issuer's URL ("" when disabled).
func (a *App) DevIssuerURL() string { return a.issuerRL }

// Pool is the process's database pool (nil for a gateway-only process).
func (a *App) Pool() *pgxpool.Pool { return a.pool }

// Failed delivers an error if a listener stops serving unexpectedly.
func (a *App) Failed() <-chan error { return a.served }

// ReloadPolicy re-reads the policy file and swaps it in; requests in flight
// finish under the old one. On error the old policy stays.
func (a *App) ReloadPolicy() error {
	if a.engine == nil {
		return nil
	}
	pol, err := authz.LoadPolicyFile(a.cfg.PolicyFile)
	if err != nil {
		return err
	}
	return a.engine.Reload(pol)
}

// Shutdown stops accepting requests, lets in-flight ones finish (until ctx
// ends), and closes connections.
func (a *App) Shutdown(ctx context.Context) error {
	var errs []error
	if a.httpSrv != nil {
		errs = append(errs, a.httpSrv.Shutdown(ctx))
	}
	if a.grpcSrv != nil {
		done := make(chan struct{})
		go func() { a.grpcSrv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			a.grpcSrv.Stop()
		}
	}
	a.closeAll()
	return errors.Join(errs...)
}

func (a *App) closeAll() {
	if a.stop != nil {
		a.stop()
	}
	if a.gw != nil {
		_ = a.gw.Close()
	}
	if a.grpcSrv != nil {
		a.grpcSrv.Stop()
	}
	if a.httpLn != nil {
		_ = a.httpLn.Close()
	}
	if a.grpcLn != nil {
		_ = a.grpcLn.Close()
	}
	for _, c := range a.conns {
		_ = c.Close()
	}
	if a.audit != nil {
		a.audit.Close()
	}
	if a.pool != nil {
		a.pool.Close()
	}
}
