package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/pkg/auth"
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
	upstreams                                                                 map[string]string
	referralAckDue, incidentDue, ransomDue, conclusionDue                     time.Duration
	incidentTriage                                                            []string
	webClientID, webClientSecret, sessionKeyFile                              string
}

func (f *serveFlags) register(fs *pflag.FlagSet, withTarget bool) {
	if withTarget {
		fs.StringVar(&f.target, "target", "all", "what this process runs: all, gateway, cases")
		fs.BoolVar(&f.devIssuer, "dev-issuer", false, "trust (and serve) the development token issuer; never in production")
		fs.StringArrayVar(&f.oidcIssuers, "oidc-issuer", nil, "trusted OIDC issuer URL (repeatable)")
		fs.StringVar(&f.oidcAudience, "oidc-audience", "", "audience the OIDC tokens must carry")
		fs.StringVar(&f.agencyClaim, "oidc-agency-claim", "ori", "claim carrying the user's agency ORI")
		fs.StringVar(&f.rolesClaim, "oidc-roles-claim", "roles", "claim carrying the user's roles")
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
	fs.DurationVar(&f.referralAckDue, "referral-ack-due", 72*time.Hour, "how long a recipient has to acknowledge a submitted referral before it is flagged overdue")
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
		ReferralAckDue:  f.referralAckDue,
		IncidentReports: reports.Regime{IncidentDue: f.incidentDue, RansomDue: f.ransomDue, ConclusionDue: f.conclusionDue, TriageORIs: f.incidentTriage},
		WebClientID:     f.webClientID, WebClientSecret: f.webClientSecret, SessionKeyFile: f.sessionKeyFile,
	}
	for _, u := range f.oidcIssuers {
		cfg.Issuers = append(cfg.Issuers, auth.IssuerConfig{
			Name: u, URL: u, Audience: f.oidcAudience, AgencyClaim: f.agencyClaim, RolesClaim: f.rolesClaim,
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
