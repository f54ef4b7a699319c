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

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/pkg/auth"
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
	referralAckDue                                                            time.Duration
	webClientID, webClientSecret, sessionKeyFile                              string
	deconflictionKeyFile                                                      string
	deconflictionLookups                                                      int
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
	fs.StringVar(&f.deconflictionKeyFile, "deconfliction-key-file", "", "file holding the deconfliction HMAC keys, one 'ID BASE64SECRET' a line, current first (mode 0600; created with one random key when missing; default <data-dir>/deconfliction.keys)")
	fs.IntVar(&f.deconflictionLookups, "deconfliction-lookups-per-hour", 500, "how many observables (each a deconfliction lookup) one user may record per hour")
	fs.DurationVar(&f.referralAckDue, "referral-ack-due", 72*time.Hour, "how long a recipient has to acknowledge a submitted referral before it is flagged overdue")
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
		ReferralAckDue:       f.referralAckDue,
		DeconflictionKeyFile: f.deconflictionKeyFile, DeconflictionLookupsPerHour: f.deconflictionLookups,
		WebClientID: f.webClientID, WebClientSecret: f.webClientSecret, SessionKeyFile: f.sessionKeyFile,
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
