package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/casebridge/casebridge/gateway"
	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/reports"
)

// serveFlags are the flags of serve (and, in part, dev).
type serveFlags struct {
	target, addr, grpcAddr, databaseURL, dataDir, publicURL, policy, logLevel string
	debugAddr                                                                 string
	trustForwardedFor                                                         bool
	dbRole                                                                    string
	devIssuer                                                                 bool
	oidcIssuers                                                               []string
	oidcAudience, agencyClaim, rolesClaim                                     string
	oidcAgencies, oidcRoleMap                                                 []string
	oidcStateWide, oidcRequireMFA                                             bool
	issuersFile                                                               string
	upstreams                                                                 map[string]string
	referralAckDue, incidentDue, ransomDue, conclusionDue                     time.Duration
	incidentTriage                                                            []string
	webClientID, webClientSecret, sessionKeyFile                              string

	tlsCert, tlsKey      string
	devHTTPS             bool
	grpcTLS              app.GRPCTLS
	grpcHealthAddr       string
	grpcTransport        rpc.Transport
	http                 gateway.ServerConfig
	userRate             rpc.RateLimit
	addressRate          rpc.RateLimit
	packageKeyFile       string
	smtpURL, smtpFrom    string
	webhookAllowPrivate  bool
	deconflictionKeyFile string
	deconflictionLookups int
}

func (f *serveFlags) register(fs *pflag.FlagSet, withTarget bool) {
	if withTarget {
		fs.StringVar(&f.target, "target", "all", "what this process runs: all, gateway, cases")
		fs.BoolVar(&f.devIssuer, "dev-issuer", false, "trust (and serve) the development token issuer; never in production")
		fs.StringArrayVar(&f.oidcIssuers, "oidc-issuer", nil, "trusted OIDC issuer URL (repeatable)")
		fs.StringVar(&f.oidcAudience, "oidc-audience", "", "audience the OIDC tokens must carry")
		fs.StringVar(&f.agencyClaim, "oidc-agency-claim", "ori", "claim carrying the user's agency ORI")
		fs.StringVar(&f.rolesClaim, "oidc-roles-claim", "roles", "claim carrying the user's IdP groups or roles (mapped by --oidc-role-map)")
		fs.StringSliceVar(&f.oidcAgencies, "oidc-agencies", nil, "ORIs the --oidc-issuer vouches for (comma-separated), or * with --oidc-state-wide; required with --oidc-issuer")
		fs.BoolVar(&f.oidcStateWide, "oidc-state-wide", false, "the --oidc-issuer is a state-wide IdP vouching for every agency (--oidc-agencies='*')")
		fs.StringArrayVar(&f.oidcRoleMap, "oidc-role-map", nil, "IdP group or role = Casebridge role, as GROUP=ROLE (repeatable); unmapped groups are ignored; without it roles never come from tokens")
		fs.BoolVar(&f.oidcRequireMFA, "oidc-require-mfa", false, "refuse --oidc-issuer tokens whose amr shows no second factor")
		fs.StringVar(&f.issuersFile, "issuers", "", "YAML file of trusted OIDC issuers, each bound to the agencies it vouches for (see README, Identity)")
		fs.StringVar(&f.webClientID, "oidc-client-id", "", "OIDC client id of the web application at the first --oidc-issuer (add it to --oidc-audience); without it and without --dev-issuer the web application is off")
		fs.StringVar(&f.webClientSecret, "oidc-client-secret", "", "OIDC client secret of the web application (optional: PKCE public client)")
		fs.StringToStringVar(&f.upstreams, "upstream", nil, "where a service runs when not in this process, as name=host:port (repeatable; default --grpc-addr)")
	}
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "HTTP listen address of the gateway")
	fs.StringVar(&f.grpcAddr, "grpc-addr", "127.0.0.1:9090", "gRPC listen address of the services")
	fs.StringVar(&f.databaseURL, "database-url", "", "PostgreSQL URL (also DATABASE_URL)")
	fs.StringVar(&f.dataDir, "data-dir", "./.casebridge", "directory for local state (development issuer key, private PostgreSQL)")
	fs.StringVar(&f.publicURL, "public-url", "", "the gateway's base URL as clients see it (default http://<addr>)")
	fs.StringVar(&f.policy, "policy", "", "authorization policy file (default: the embedded policy)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&f.trustForwardedFor, "trust-forwarded-for", false, "the gateway is behind a proxy that sets X-Forwarded-For: record it as the client address (otherwise a client's X-Forwarded-For is dropped)")
	fs.StringVar(&f.debugAddr, "debug-addr", "", "serve Go profiling endpoints (pprof) here, e.g. 127.0.0.1:6060; off when empty")
	fs.StringVar(&f.sessionKeyFile, "session-key-file", "", "file holding the web session key (32 bytes, mode 0600; created when missing; default <data-dir>/web-session.key)")
	fs.StringVar(&f.packageKeyFile, "package-signing-key", "", "Ed25519 key (PEM, from `casebridge audit keygen`) that signs case packages; default <data-dir>/package-signing.key, created when missing")
	fs.StringVar(&f.deconflictionKeyFile, "deconfliction-key-file", "", "file holding the deconfliction HMAC keys, one 'ID BASE64SECRET' a line, current first (mode 0600; created with one random key when missing; default <data-dir>/deconfliction.keys)")
	fs.IntVar(&f.deconflictionLookups, "deconfliction-lookups-per-hour", 500, "how many observables (each a deconfliction lookup) one user may record per hour")
	fs.DurationVar(&f.referralAckDue, "referral-ack-due", 72*time.Hour, "how long a recipient has to acknowledge a submitted referral before it is flagged overdue")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "HTTPS certificate of the gateway (PEM; with --tls-key): TLS 1.2+, HTTP/2")
	fs.StringVar(&f.tlsKey, "tls-key", "", "private key of --tls-cert (PEM)")
	fs.StringVar(&f.grpcTLS.Cert, "grpc-tls-cert", "", "the services' gRPC certificate (PEM; with --grpc-tls-key and --grpc-client-ca)")
	fs.StringVar(&f.grpcTLS.Key, "grpc-tls-key", "", "private key of --grpc-tls-cert")
	fs.StringVar(&f.grpcTLS.ClientCA, "grpc-client-ca", "", "CA whose client certificates the services require (mutual TLS); also verifies the services when --grpc-server-ca is empty")
	fs.StringVar(&f.grpcTLS.ClientCert, "grpc-client-cert", "", "certificate this process presents when calling services (the gateway's names casebridge-gateway)")
	fs.StringVar(&f.grpcTLS.ClientKey, "grpc-client-key", "", "private key of --grpc-client-cert")
	fs.StringVar(&f.grpcTLS.ServerCA, "grpc-server-ca", "", "CA that verifies the services' certificates (default --grpc-client-ca)")
	fs.StringVar(&f.grpcHealthAddr, "grpc-health-addr", "", "serve the gRPC health service alone, plaintext, here (e.g. 0.0.0.0:9091) for probes without a client certificate; off when empty")
	fs.BoolVar(&f.grpcTLS.Plaintext, "grpc-plaintext", false, "gRPC without TLS (only behind a mesh that encrypts; then no caller is trusted to forward client addresses)")
	fs.DurationVar(&f.grpcTransport.HandshakeTimeout, "grpc-handshake-timeout", rpc.DefaultTransport.HandshakeTimeout, "gRPC: close a connection that has not finished TLS and the HTTP/2 preface by then")
	fs.DurationVar(&f.grpcTransport.MaxConnectionIdle, "grpc-max-conn-idle", rpc.DefaultTransport.MaxConnectionIdle, "gRPC: close a connection without calls for this long")
	fs.DurationVar(&f.grpcTransport.MaxConnectionAge, "grpc-max-conn-age", rpc.DefaultTransport.MaxConnectionAge, "gRPC: close (GOAWAY) connections this old; clients reconnect")
	fs.DurationVar(&f.http.ReadHeaderTimeout, "http-read-header-timeout", gateway.DefaultServerConfig.ReadHeaderTimeout, "HTTP: TLS handshake and request headers must arrive within this")
	fs.DurationVar(&f.http.ReadTimeout, "http-read-timeout", gateway.DefaultServerConfig.ReadTimeout, "HTTP: a whole request, body included, must arrive within this")
	fs.DurationVar(&f.http.WriteTimeout, "http-write-timeout", gateway.DefaultServerConfig.WriteTimeout, "HTTP: a response must be written within this (exports: each chunk)")
	fs.DurationVar(&f.http.IdleTimeout, "http-idle-timeout", gateway.DefaultServerConfig.IdleTimeout, "HTTP: close a keep-alive connection idle this long")
	fs.IntVar(&f.http.MaxConnsPerClient, "max-conns-per-client", gateway.DefaultServerConfig.MaxConnsPerClient, "HTTP: concurrent connections one client address may hold (-1: no cap)")
	fs.Float64Var(&f.userRate.Rate, "rate-limit-user", rpc.DefaultUserRateLimit.Rate, "requests per second one user may make, sustained (0: off)")
	fs.IntVar(&f.userRate.Burst, "rate-limit-user-burst", rpc.DefaultUserRateLimit.Burst, "requests one user may make at once")
	fs.Float64Var(&f.addressRate.Rate, "rate-limit-address", rpc.DefaultAddressRateLimit.Rate, "requests per second one client address may make, sustained (0: off)")
	fs.IntVar(&f.addressRate.Burst, "rate-limit-address-burst", rpc.DefaultAddressRateLimit.Burst, "requests one client address may make at once")
	fs.StringVar(&f.smtpURL, "smtp-url", "", "SMTP server for notification e-mail: smtps://user:pass@host:465 (TLS), smtp+starttls://user:pass@host:587 (STARTTLS) or smtp://host:25 (plain, local relay); empty: no e-mail")
	fs.StringVar(&f.smtpFrom, "smtp-from", "", "From address of notification e-mail (required with --smtp-url)")
	fs.BoolVar(&f.webhookAllowPrivate, "webhook-allow-private", false, "let agency webhooks target loopback, private and link-local addresses (development only)")
	fs.DurationVar(&f.incidentDue, "incident-report-due", reports.DefaultIncidentDue, "incident reporting regime: time from discovery to the initial incident report")
	fs.DurationVar(&f.ransomDue, "ransom-payment-report-due", reports.DefaultRansomDue, "incident reporting regime: time from a ransom payment to its report")
	fs.DurationVar(&f.conclusionDue, "incident-conclusion-report-due", 0, "incident reporting regime: time from recovery to the concluding report (0: no such clock; Texas: 240h)")
	fs.StringSliceVar(&f.incidentTriage, "incident-report-triage", reports.DefaultTriageORIs, "ORIs of the agencies that triage every submitted incident report; the first receives it and numbers it (<ORI>-IR-<YYYY>-<NNNNN>)")
	defRole := "" // serve: the login's own role (give it casebridge_app's rights)
	if !withTarget {
		defRole = "casebridge_app" // dev: the superuser of the private cluster SET ROLEs
	}
	fs.StringVar(&f.dbRole, "db-role", defRole, "database role the services SET ROLE to (casebridge_app: may only INSERT and SELECT the audit trail); empty keeps the login's role")
}

func (f *serveFlags) config() app.Config {
	cfg := app.Config{
		Target: f.target, HTTPAddr: f.addr, GRPCAddr: f.grpcAddr, DatabaseURL: f.databaseURL,
		DataDir: f.dataDir, DevIssuer: f.devIssuer, PublicURL: f.publicURL, PolicyFile: f.policy,
		Logger: newLogger(f.logLevel), Upstreams: f.upstreams, DBRole: f.dbRole, TrustForwardedFor: f.trustForwardedFor,
		ReferralAckDue: f.referralAckDue,
		WebClientID:    f.webClientID, WebClientSecret: f.webClientSecret, SessionKeyFile: f.sessionKeyFile,
		TLSCert: f.tlsCert, TLSKey: f.tlsKey, DevHTTPS: f.devHTTPS, GRPC: f.grpcTLS, GRPCTransport: f.grpcTransport, GRPCHealthAddr: f.grpcHealthAddr,
		HTTP: f.http, UserRate: &f.userRate, AddressRate: &f.addressRate, PackageKeyFile: f.packageKeyFile,
		SMTPURL: f.smtpURL, SMTPFrom: f.smtpFrom, WebhookAllowPrivate: f.webhookAllowPrivate,
		IncidentReports:      reports.Regime{IncidentDue: f.incidentDue, RansomDue: f.ransomDue, ConclusionDue: f.conclusionDue, TriageORIs: f.incidentTriage},
		DeconflictionKeyFile: f.deconflictionKeyFile, DeconflictionLookupsPerHour: f.deconflictionLookups,
	}
	cfg.IssuersFile = f.issuersFile
	var roleMap map[string][]string
	for _, m := range f.oidcRoleMap {
		group, role, _ := strings.Cut(m, "=")
		if roleMap == nil {
			roleMap = map[string][]string{}
		}
		if role = strings.TrimSpace(role); role != "" {
			roleMap[group] = append(roleMap[group], role)
		} else {
			roleMap[group] = roleMap[group][:0:0] // "GROUP" without "=ROLE": Validate refuses it
		}
	}
	for _, u := range f.oidcIssuers {
		cfg.Issuers = append(cfg.Issuers, auth.IssuerConfig{
			Name: u, URL: u, Audience: f.oidcAudience, AgencyClaim: f.agencyClaim, RolesClaim: f.rolesClaim,
			Agencies: slices.Clone(f.oidcAgencies), StateWide: f.oidcStateWide, RoleMap: roleMap, RequireMFA: f.oidcRequireMFA,
		})
	}
	return cfg
}

func newServeCmd() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run services and/or the gateway (--target)",
		Long: `Run Casebridge. --target=all runs every service and the gateway in one
process; --target=cases or --target=gateway runs one part, for deployments
that scale each separately. The schema must be migrated first
(casebridge migrate up).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			cfg := f.config()
			startDebug(f.debugAddr, cfg.Logger)
			a, err := app.Start(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			cfg.Logger.Info("casebridge serving", "target", f.target, "http", a.HTTPURL(), "grpc", a.GRPCAddr())
			return runUntilSignal(cmd.Context(), a)
		},
	}
	f.register(cmd.Flags(), true)
	return cmd
}

// runUntilSignal serves until SIGINT/SIGTERM (ctx) and reloads the policy on
// SIGHUP; then it drains in-flight requests for up to 15 seconds.
func runUntilSignal(ctx context.Context, a *app.App) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var failed error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-a.Failed():
			failed = fmt.Errorf("listener stopped: %w", err)
			break loop
		case <-hup:
			if err := a.ReloadPolicy(); err != nil {
				fmt.Fprintln(os.Stderr, "casebridge: policy reload refused, keeping the current policy:", err)
			} else {
				fmt.Fprintln(os.Stderr, "casebridge: policy reloaded")
			}
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil && failed == nil {
		return err
	}
	return failed
}
