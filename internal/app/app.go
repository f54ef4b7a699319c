// Package app wires Casebridge processes: which services and whether the
// gateway run in this process (--target), their listeners, the database
// pool, authentication and the authorization policy. cmd/casebridge and the
// end-to-end tests start the system through Start, so tests boot exactly
// what operators run.
package app

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/casebridge/casebridge/gateway"
	"github.com/casebridge/casebridge/gateway/web"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/internal/devca"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/auth/devissuer"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/jobs"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/cases"
	"github.com/casebridge/casebridge/services/notifications"
	"github.com/casebridge/casebridge/services/reports"
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
	// Notifications (issue 18): --smtp-url and --smtp-from (no URL: no
	// e-mail), --webhook-allow-private, and the first retry delay of
	// e-mails and webhook deliveries (WebhookRetryBase, tests only).
	SMTPURL, SMTPFrom   string
	WebhookAllowPrivate bool
	WebhookRetryBase    time.Duration
	// JobPollInterval is how often idle River workers poll besides being
	// woken by LISTEN/NOTIFY (0: 1s).
	JobPollInterval time.Duration
	// IncidentReports is the incident reporting regime
	// (--incident-report-due, --ransom-payment-report-due,
	// --incident-report-triage); zero fields mean the defaults (72h, 24h,
	// CTCTIC000 and CTCSP0000).
	IncidentReports reports.Regime
	// ReportNotifier receives incident-report notices in their
	// transactions (tests; issue 18 wires notifications here). nil: none.
	ReportNotifier reports.Notifier
	// Web application (gateway/web): its OIDC client at the first
	// --oidc-issuer (--oidc-client-id, --oidc-client-secret), or the
	// development issuer when DevIssuer is set and no client id is given;
	// the file holding its session key (--session-key-file; default
	// <data-dir>/web-session.key, created 0600).
	WebClientID, WebClientSecret, SessionKeyFile string

	// GRPC is the transport between the gateway and the services (and
	// between services): mutual TLS, see GRPCTLS.
	GRPC GRPCTLS
	// GRPCHealthAddr, when set, serves the gRPC health service alone,
	// plaintext, there (--grpc-health-addr): for probes without a client
	// certificate.
	GRPCHealthAddr string
	// GRPCTransport bounds the services' connections (zero: defaults).
	GRPCTransport rpc.Transport
	// HTTP bounds the gateway's connections and, with TLSCert/TLSKey (or
	// DevHTTPS), serves HTTPS.
	HTTP            gateway.ServerConfig
	TLSCert, TLSKey string
	DevHTTPS        bool
	// UserRate and AddressRate are the rate limits (nil: the defaults;
	// a zero Rate turns one off).
	UserRate, AddressRate *rpc.RateLimit
	// PackageKeyFile is the Ed25519 key (PEM, from `casebridge audit
	// keygen`) that signs case packages (--package-signing-key); default
	// <data-dir>/package-signing.key, created 0600 when missing. Without
	// either, packages are signed with an ephemeral key.
	PackageKeyFile string
	// DeconflictionKeyFile holds the cases service's deconfliction keys
	// (--deconfliction-key-file; default <data-dir>/deconfliction.keys,
	// created 0600 with one random key). DeconflictionLookupsPerHour is
	// how many observables one user may record an hour
	// (--deconfliction-lookups-per-hour; 0: 500).
	DeconflictionKeyFile        string
	DeconflictionLookupsPerHour int
}

// GRPCTLS configures mutual TLS on the gRPC hop. The services present
// Cert/Key and require a client certificate signed by ClientCA; callers
// (the gateway, services calling each other) present ClientCert/ClientKey
// and verify the services against ServerCA (default ClientCA). With
// DevIssuer set and nothing given, the development CA under DataDir
// (internal/devca) issues all of them, so development and tests run the
// production path. Plaintext is refused unless Plaintext is set (behind a
// mesh that does mTLS itself), and then no peer is trusted to forward a
// client's address.
type GRPCTLS struct {
	Cert, Key, ClientCA             string
	ClientCert, ClientKey, ServerCA string
	Plaintext                       bool
}

func (g GRPCTLS) empty() bool {
	return g.Cert == "" && g.Key == "" && g.ClientCA == "" && g.ClientCert == "" && g.ClientKey == "" && g.ServerCA == ""
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
	if c.GRPC.empty() && !c.GRPC.Plaintext {
		if !c.DevIssuer {
			return errors.New("gRPC needs TLS: --grpc-tls-cert, --grpc-tls-key, --grpc-client-ca (services) and --grpc-client-cert, --grpc-client-key (callers); or --grpc-plaintext behind a mesh that encrypts")
		}
		// Development: the local CA issues everything.
		f, err := devca.Ensure(c.DataDir)
		if err != nil {
			return err
		}
		c.GRPC = GRPCTLS{Cert: f.ServerCert, Key: f.ServerKey, ClientCA: f.CA,
			ClientCert: f.GatewayCert, ClientKey: f.GatewayKey, ServerCA: f.CA}
		if c.DevHTTPS && c.TLSCert == "" {
			c.TLSCert, c.TLSKey = f.EdgeCert, f.EdgeKey
		}
	}
	if c.GRPC.ServerCA == "" {
		c.GRPC.ServerCA = c.GRPC.ClientCA
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("HTTPS needs both --tls-cert and --tls-key")
	}
	if c.SMTPURL != "" {
		if _, err := notifications.NewMailer(c.SMTPURL, c.SMTPFrom, nil); err != nil {
			return err
		}
	}
	return auth.ValidateIssuers(c.Issuers, authz.Roles...)
}

// serverTLS and dialCreds are the gRPC transport of this process.
func (c *Config) serverTLS() (*tls.Config, error) {
	if c.GRPC.Plaintext {
		return nil, nil
	}
	return rpc.ServerTLS(c.GRPC.Cert, c.GRPC.Key, c.GRPC.ClientCA)
}

func (c *Config) dialCreds() (credentials.TransportCredentials, error) {
	if c.GRPC.Plaintext {
		return insecure.NewCredentials(), nil
	}
	tc, err := rpc.ClientTLS(c.GRPC.ClientCert, c.GRPC.ClientKey, c.GRPC.ServerCA)
	if err != nil {
		return nil, err
	}
	return credentials.NewTLS(tc), nil
}

func rateOr(l *rpc.RateLimit, def rpc.RateLimit) rpc.RateLimit {
	if l == nil {
		return def
	}
	return *l
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
	healthLn net.Listener
	healthGS *grpc.Server
	gw       *gateway.Gateway
	pool     *pgxpool.Pool
	engine   *authz.Engine
	audit    *audit.Writer
	jobs     *jobs.Runner
	connsMu  sync.Mutex
	conns    map[string]*grpc.ClientConn
	creds    credentials.TransportCredentials
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
	if a.creds, err = cfg.dialCreds(); err != nil {
		return nil, err
	}

	if cfg.runsGateway() {
		if a.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
		}
		a.public = strings.TrimSuffix(cfg.PublicURL, "/")
		if a.public == "" {
			scheme := "http://"
			if cfg.TLSCert != "" {
				scheme = "https://"
			}
			a.public = scheme + a.httpLn.Addr().String()
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
	authOpts := []auth.Option{auth.WithLogger(cfg.Logger), auth.WithRejectionObserver(a.auditRejection), auth.WithChangeRecorder(recordRoleChange)}
	if c := a.issuerClient(); c != nil {
		authOpts = append(authOpts, auth.WithHTTPClient(c))
	}
	authn := auth.NewAuthenticator(issuers, auth.NewPostgresDirectory(a.pool), authOpts...)
	a.audit = audit.NewWriter(a.pool, cfg.Logger)
	auditor := audit.Interceptor(a.audit)
	if cfg.DisableAudit {
		auditor = nil
	}
	az := authz.NewAuthorizer(a.engine)
	stls, err := cfg.serverTLS()
	if err != nil {
		return err
	}
	a.grpcSrv = rpc.NewServer(rpc.Config{
		Logger:      cfg.Logger,
		Audit:       auditor,
		Auth:        []grpc.UnaryServerInterceptor{authn.UnaryInterceptor()},
		After:       []grpc.UnaryServerInterceptor{az.MethodInterceptor(methodRules())},
		TLS:         stls,
		Transport:   cfg.GRPCTransport,
		UserRate:    rateOr(cfg.UserRate, rpc.DefaultUserRateLimit),
		AddressRate: rateOr(cfg.AddressRate, rpc.DefaultAddressRateLimit),
	})
	pkgKey, err := loadPackageKey(&cfg)
	if err != nil {
		return err
	}
	ncfg := notifications.Config{PublicURL: a.public, WebhookAllowPrivate: cfg.WebhookAllowPrivate, RetryBase: cfg.WebhookRetryBase}
	if cfg.SMTPURL != "" {
		if ncfg.Mailer, err = notifications.NewMailer(cfg.SMTPURL, cfg.SMTPFrom, nil); err != nil {
			return err
		}
	}
	a.jobs = jobs.NewRunner()
	deps := Deps{Pool: a.pool, Authz: az, Logger: cfg.Logger, Conn: a.conn, ReferralAckDue: cfg.ReferralAckDue,
		PackageKey: pkgKey, Jobs: a.jobs, Notifications: ncfg,
		IncidentReports: cfg.IncidentReports, ReportNotifier: cfg.ReportNotifier,
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
	// Workers run in the processes of their services, on the pool of the
	// login role (SET ROLE casebridge_app like every request).
	if err := a.jobs.Start(ctx, a.pool, jobs.Options{Logger: cfg.Logger, FetchPollInterval: cfg.JobPollInterval}); err != nil {
		return err
	}
	a.grpcSrv.WatchReadiness(ctx, time.Second, a.pool.Ping, names...)
	if cfg.GRPCHealthAddr != "" {
		if a.healthLn, err = net.Listen("tcp", cfg.GRPCHealthAddr); err != nil {
			return fmt.Errorf("listen %s: %w", cfg.GRPCHealthAddr, err)
		}
		a.healthGS = a.grpcSrv.HealthOnly()
		go func() { _ = a.healthGS.Serve(a.healthLn) }()
	}
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
		TrustForwardedFor: a.cfg.TrustForwardedFor, DialOptions: a.dialOptions()}); err != nil {
		return err
	}
	hc := a.cfg.HTTP
	if a.cfg.TLSCert != "" {
		if hc.TLS, err = gateway.EdgeTLS(a.cfg.TLSCert, a.cfg.TLSKey); err != nil {
			return err
		}
	}
	if hc.ErrorLog == nil {
		hc.ErrorLog = slog.NewLogLogger(a.cfg.Logger.Handler(), slog.LevelDebug)
	}
	var ln net.Listener
	a.httpSrv, ln = gateway.NewServer(a.gw, a.httpLn, hc)
	go func() {
		if err := a.httpSrv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.served <- err
		}
	}()
	return nil
}

// webUI returns the web application's constructor, or nil when no OIDC
// client is configured for it (then "/" is not served).
func (a *App) webUI() (func(map[string]*grpc.ClientConn) (http.Handler, error), error) {
	cfg := a.cfg
	wc := web.Config{Logger: cfg.Logger, PublicURL: a.public, ClientID: cfg.WebClientID, ClientSecret: cfg.WebClientSecret,
		HTTPClient: a.issuerClient()}
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

// loadPackageKey reads the case-package signing key, creating it in the
// data directory when none is configured.
func loadPackageKey(cfg *Config) (ed25519.PrivateKey, error) {
	file := cfg.PackageKeyFile
	if file == "" && cfg.DataDir != "" {
		file = filepath.Join(cfg.DataDir, "package-signing.key")
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			if _, err := audit.GenerateKey(file); err != nil && !errors.Is(err, os.ErrExist) {
				return nil, fmt.Errorf("package signing key: %w", err)
			}
		}
	}
	if file == "" {
		return nil, nil
	}
	return audit.LoadKey(file)
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
	c, err := grpc.NewClient(a.upstream(name), a.dialOptions()...)
	if err != nil {
		panic(fmt.Sprintf("app: client for %s: %v", name, err))
	}
	if a.conns == nil {
		a.conns = map[string]*grpc.ClientConn{}
	}
	a.conns[name] = c
	return c
}

// issuerClient is the HTTP client for the development issuer when the
// gateway serves it over HTTPS with the development CA's certificate: it
// trusts that CA (and the system's roots). nil otherwise (the default
// client).
func (a *App) issuerClient() *http.Client {
	if !a.cfg.DevHTTPS || !a.cfg.DevIssuer {
		return nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if pem, err := os.ReadFile(devca.Paths(a.cfg.DataDir).CA); err == nil {
		pool.AppendCertsFromPEM(pem)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}}
}

// dialOptions are how this process reaches the services: mutual TLS and
// keepalive pings the services' enforcement accepts.
func (a *App) dialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithTransportCredentials(a.creds), grpc.WithKeepaliveParams(rpc.ClientKeepalive)}
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

// GRPCHealthAddr is the health-only port's address ("" when off).
func (a *App) GRPCHealthAddr() string {
	if a.healthLn == nil {
		return ""
	}
	return a.healthLn.Addr().String()
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
	errs = append(errs, a.jobs.Stop(ctx))
	a.closeAll()
	return errors.Join(errs...)
}

func (a *App) closeAll() {
	if a.jobs != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = a.jobs.Stop(sctx)
		cancel()
	}
	if a.stop != nil {
		a.stop()
	}
	if a.gw != nil {
		_ = a.gw.Close()
	}
	if a.grpcSrv != nil {
		a.grpcSrv.Stop()
	}
	if a.healthGS != nil {
		a.healthGS.Stop()
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
