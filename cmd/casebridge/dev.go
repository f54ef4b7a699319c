package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/internal/devca"
	"github.com/casebridge/casebridge/migrations"
	"github.com/casebridge/casebridge/pkg/auth/devissuer"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
)

// issuerURLFile records, in the data dir, the development issuer URL of the
// last `casebridge dev`, so `dev token` mints tokens that server accepts even
// when it runs on another --addr.
const issuerURLFile = "dev-issuer/issuer-url"

func newDevCmd() *cobra.Command {
	f := &serveFlags{target: "all", devIssuer: true}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything locally with a private PostgreSQL and the demo world",
		Long: `Run every service and the gateway in one process for development and
demonstration. Without --database-url it starts a private PostgreSQL from the
installed server binaries, keeps its data under --data-dir and listens on a
Unix socket only. It applies migrations, seeds the demo world (once), and
stops everything, PostgreSQL included, on Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			return runDev(cmd, f)
		},
	}
	f.register(cmd.Flags(), false)
	cmd.Flags().BoolVar(&f.devHTTPS, "https", false, "serve the gateway over HTTPS with the development CA's certificate (trust <data-dir>/tls/ca.pem)")
	cmd.AddCommand(newDevTokenCmd(), newDevCertCmd())
	return cmd
}

func runDev(cmd *cobra.Command, f *serveFlags) (err error) {
	ctx := cmd.Context()
	cfg := f.config()
	logger := cfg.Logger
	url, stopDB, err := openDatabaseOwned(ctx, f.databaseURL, f.dataDir, logger, true)
	if err != nil {
		return err
	}
	defer func() {
		logger.Info("stopping private PostgreSQL")
		if e := stopDB(context.Background()); e != nil {
			err = errors.Join(err, e)
		}
	}()
	if err := migrations.Up(ctx, url); err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, url)
	if err != nil {
		return err
	}
	added, err := demo.Seed(ctx, pool)
	pool.Close()
	if err != nil {
		return err
	}
	if added {
		logger.Info("seeded the demo world")
	}
	cfg.DatabaseURL = url
	startDebug(f.debugAddr, logger)
	a, err := app.Start(ctx, cfg)
	if err != nil {
		return err
	}
	if err := writeIssuerURL(f.dataDir, a.DevIssuerURL()); err != nil {
		logger.Warn("cannot record the issuer URL for `dev token`", "err", err)
	}
	printWelcome(cmd, a, f)
	return runUntilSignal(ctx, a)
}

func writeIssuerURL(dataDir, url string) error {
	p := filepath.Join(dataDir, issuerURLFile)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(url+"\n"), 0o600)
}

func printWelcome(cmd *cobra.Command, a *app.App, f *serveFlags) {
	w := cmd.OutOrStdout()
	self := "go run ./cmd/casebridge"
	dd := ""
	if f.dataDir != "./.casebridge" {
		dd = " --data-dir " + f.dataDir
	}
	fmt.Fprintf(w, `
Casebridge is running with the demo world.

  web application      %s/  (sign in as any demo user)
  gateway (HTTP/JSON)  %s
  gRPC (mutual TLS)    %s  (CA and certificates: %s dev cert%s)
  OpenAPI              %s/openapi.json
  token issuer (dev)   %s

Get a token for a demo user, then call the API:

  TOKEN=$(%s dev token%s det.alvarez@csp.example | tail -n1)
  curl -s -H "Authorization: Bearer $TOKEN" %s/v1/cases

Demo users: %s

Press Ctrl-C to stop (PostgreSQL stops too).
`, a.HTTPURL(), a.HTTPURL(), a.GRPCAddr(), self, dd, a.HTTPURL(), a.DevIssuerURL(), self, dd, a.HTTPURL(), demoEmails())
}

func demoEmails() string {
	var out []string
	for _, u := range demo.Users {
		out = append(out, u.Email)
	}
	return strings.Join(out, ", ")
}

func newDevTokenCmd() *cobra.Command {
	var dataDir, addr string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token EMAIL",
		Short: "Print a bearer token for a demo user (last line of output)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			// The subject is the address exactly as the directory binds it
			// (demo users are lower case); no case folding here.
			email := strings.TrimSpace(args[0])
			if !strings.Contains(email, "@") {
				return fmt.Errorf("EMAIL: %q is not an e-mail address", args[0])
			}
			iss, err := devissuer.Load(dataDir)
			if err != nil {
				return err
			}
			issuerURL := devissuer.IssuerURL("http://" + addr)
			if b, err := os.ReadFile(filepath.Join(dataDir, issuerURLFile)); err == nil && !cmd.Flags().Changed("addr") {
				issuerURL = strings.TrimSpace(string(b))
			}
			tok, err := iss.Mint(issuerURL, email, email, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "token for %s from %s, valid %s:\n", email, issuerURL, ttl)
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "./.casebridge", "data directory of `casebridge dev` (holds the issuer key)")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "gateway address, when no `casebridge dev` has recorded its issuer URL")
	cmd.Flags().DurationVar(&ttl, "ttl", 8*time.Hour, "token lifetime")
	return cmd
}

func newDevCertCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Print where the development CA and certificates are (created if missing), for grpcurl and other clients",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			f, err := devca.Ensure(dataDir)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), `CA certificate        %s
client certificate    %s
client key            %s
gateway certificate   %s  (identifies as %s: trusted to forward client addresses)
services certificate  %s
HTTPS certificate     %s  (casebridge dev --https)

  grpcurl -cacert %s -cert %s -key %s 127.0.0.1:9090 list
`, f.CA, f.ClientCert, f.ClientKey, f.GatewayCert, rpc.GatewayIdentity, f.ServerCert, f.EdgeCert,
				f.CA, f.ClientCert, f.ClientKey)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "./.casebridge", "data directory of `casebridge dev`")
	return cmd
}
