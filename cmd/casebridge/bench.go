package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/casebridge/casebridge/internal/bench"
	"github.com/casebridge/casebridge/pkg/auth/devissuer"
	"github.com/casebridge/casebridge/pkg/postgres"
)

// benchFlags are shared by the bench subcommands: where the database is (to
// seed and for the baseline), where the gateway is, and the data dir holding
// the development issuer key (to mint the generated users' tokens).
type benchFlags struct {
	databaseURL, dataDir, url, jsonOut string
	seed                               bench.SeedOptions
}

func (f *benchFlags) register(cmd *cobra.Command, withURL bool) {
	fs := cmd.Flags()
	fs.StringVar(&f.databaseURL, "database-url", "", "PostgreSQL URL (default: the private cluster of --data-dir)")
	fs.StringVar(&f.dataDir, "data-dir", "./.casebridge", "data directory of `casebridge dev`")
	if withURL {
		fs.StringVar(&f.url, "url", "http://127.0.0.1:8080", "gateway base URL")
		fs.StringVar(&f.jsonOut, "json", "", "also write the result as JSON to this file")
	}
	fs.IntVar(&f.seed.Agencies, "agencies", bench.DefaultSeed.Agencies, "agencies to generate")
	fs.IntVar(&f.seed.UsersPerAgency, "users-per-agency", bench.DefaultSeed.UsersPerAgency, "detectives per agency (plus one supervisor)")
	fs.IntVar(&f.seed.NotesPerCase, "notes-per-case", bench.DefaultSeed.NotesPerCase, "timeline notes per generated case")
	fs.Float64Var(&f.seed.ShareRate, "share-rate", bench.DefaultSeed.ShareRate, "probability a generated case is shared with another agency")
	fs.Float64Var(&f.seed.EvidenceRate, "evidence-rate", bench.DefaultSeed.EvidenceRate, "probability a generated case has an exhibit")
	fs.Float64Var(&f.seed.ReferralRate, "referral-rate", bench.DefaultSeed.ReferralRate, "probability a generated case is referred to another agency")
	fs.Uint64Var(&f.seed.Seed, "seed", bench.DefaultSeed.Seed, "random seed (same seed, same world)")
}

func (f *benchFlags) pool(ctx context.Context) (*pgxpoolCloser, error) {
	url, stop, err := openDatabase(ctx, f.databaseURL, f.dataDir, newLogger("warn"))
	if err != nil {
		return nil, err
	}
	p, err := postgres.Open(ctx, url)
	if err != nil {
		_ = stop(context.Background())
		return nil, err
	}
	return &pgxpoolCloser{Pool: p, stop: stop}, nil
}

// users mints tokens for the first detective and the evidence custodian of
// n generated agencies.
func (f *benchFlags) users(n int) ([]bench.User, error) {
	iss, err := devissuer.Load(f.dataDir)
	if err != nil {
		return nil, err
	}
	issuerURL := devissuer.IssuerURL(strings.TrimSuffix(f.url, "/"))
	if b, err := os.ReadFile(filepath.Join(f.dataDir, issuerURLFile)); err == nil {
		issuerURL = strings.TrimSpace(string(b))
	}
	mint := func(email string) (string, error) { return iss.Mint(issuerURL, email, email, 12*time.Hour) }
	var out []bench.User
	for i := range n {
		det, err := mint(bench.UserEmail(i, 0))
		if err != nil {
			return nil, err
		}
		cust, err := mint(bench.UserEmail(i, f.seed.UsersPerAgency+1))
		if err != nil {
			return nil, err
		}
		out = append(out, bench.User{Detective: det, Custodian: cust})
	}
	return out, nil
}

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load tool: generate a world, drive the API, measure the scale curve",
		Long: `Load tool. Typical use, with ` + "`casebridge dev`" + ` running in another terminal:

  casebridge bench seed --cases 100000
  casebridge bench run --concurrency 16 --duration 30s --json result.json
  casebridge bench scale --sizes 10000,100000,1000000`,
	}
	cmd.AddCommand(newBenchSeedCmd(), newBenchRunCmd(), newBenchScaleCmd())
	return cmd
}

func newBenchSeedCmd() *cobra.Command {
	f := &benchFlags{}
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Generate agencies, users, cases, sharing and notes straight into the database",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			p, err := f.pool(cmd.Context())
			if err != nil {
				return err
			}
			defer p.Close()
			start := time.Now()
			if err := bench.Seed(cmd.Context(), p.Pool, f.seed, cmd.ErrOrStderr()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "seeded %d agencies and %d cases in %s\n", f.seed.Agencies, f.seed.Cases, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	f.register(cmd, false)
	cmd.Flags().IntVar(&f.seed.Cases, "cases", bench.DefaultSeed.Cases, "cases to add")
	return cmd
}

func newBenchRunCmd() *cobra.Command {
	f := &benchFlags{}
	var concurrency, users int
	var duration time.Duration
	var noBaseline bool
	var mix string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Drive the HTTP API with a mix and compare with the database's raw limit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			if concurrency < 1 || duration <= 0 {
				return errors.New("--concurrency and --duration must be positive")
			}
			us, err := f.users(min(users, f.seed.Agencies))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "driving %s for %s at concurrency %d…\n", f.url, duration, concurrency)
			ops, err := bench.MixNamed(mix)
			if err != nil {
				return err
			}
			res, err := bench.Run(cmd.Context(), bench.RunOptions{BaseURL: f.url, Users: us, Concurrency: concurrency, Duration: duration, Seed: f.seed.Seed}, ops)
			if err != nil {
				return err
			}
			if !noBaseline {
				p, err := f.pool(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "measuring the raw SQL baseline for %s…\n", duration)
				b, err := bench.RunBaseline(cmd.Context(), p.Pool, f.seed.Agencies, concurrency, duration)
				p.Close()
				if err != nil {
					return err
				}
				res.Baseline = b
				for _, o := range res.Ops {
					if o.Name == "create_case" && b.TxPerSec > 0 {
						res.CreateVsBaseline = o.Throughput / b.TxPerSec
					}
				}
				res.TotalVsBaseline = res.Throughput / b.TxPerSec
			}
			bench.PrintTable(cmd.OutOrStdout(), res)
			return writeJSON(f.jsonOut, res)
		},
	}
	f.register(cmd, true)
	cmd.Flags().IntVar(&concurrency, "concurrency", 16, "concurrent clients")
	cmd.Flags().DurationVar(&duration, "duration", 30*time.Second, "how long to drive (and to measure the baseline)")
	cmd.Flags().IntVar(&users, "users", 20, "distinct users (first detective of each generated agency)")
	cmd.Flags().BoolVar(&noBaseline, "no-baseline", false, "skip the raw SQL baseline")
	cmd.Flags().StringVar(&mix, "mix", "default", "operation mix: default (create 15%, get 35%, list 25%, note 15%, evidence 5%, custody 5%) or create (create_case only, to compare with the baseline one to one)")
	return cmd
}

func newBenchScaleCmd() *cobra.Command {
	f := &benchFlags{}
	var sizes string
	var requests int
	cmd := &cobra.Command{
		Use:   "scale",
		Short: "Grow the world through sizes and time the first page of ListCases at each",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			var ns []int
			for _, s := range strings.Split(sizes, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || n <= 0 {
					return fmt.Errorf("--sizes: %q is not a positive number", s)
				}
				ns = append(ns, n)
			}
			us, err := f.users(1)
			if err != nil {
				return err
			}
			p, err := f.pool(cmd.Context())
			if err != nil {
				return err
			}
			defer p.Close()
			pts, err := bench.Scale(cmd.Context(), p.Pool, f.url, us[0].Detective, ns, f.seed, requests, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			bench.PrintScale(cmd.OutOrStdout(), pts)
			return writeJSON(f.jsonOut, pts)
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&sizes, "sizes", "10000,100000,1000000", "total case counts to measure at, ascending")
	cmd.Flags().IntVar(&requests, "requests", 200, "timed requests per size")
	return cmd
}

func writeJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
