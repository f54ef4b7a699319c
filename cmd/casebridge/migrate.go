package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/casebridge/casebridge/migrations"
)

func newMigrateCmd() *cobra.Command {
	var databaseURL, dataDir, logLevel string
	cmd := &cobra.Command{
		Use:       "migrate up|down|status",
		Short:     "Apply, roll back (one version) or list schema migrations",
		Long:      "Without --database-url, migrate acts on the private PostgreSQL of --data-dir (as `casebridge dev` uses).",
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"up", "down", "status"},
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			ctx := cmd.Context()
			url, stop, err := openDatabase(ctx, databaseURL, dataDir, newLogger(logLevel))
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, stop(context.Background())) }()
			db, err := migrations.Open(url)
			if err != nil {
				return err
			}
			defer db.Close()
			p, err := migrations.NewProvider(db)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			switch args[0] {
			case "up":
				res, err := p.Up(ctx)
				for _, r := range res {
					fmt.Fprintf(w, "applied %s (%s)\n", r.Source.Path, r.Duration)
				}
				if err == nil && len(res) == 0 {
					fmt.Fprintln(w, "up to date")
				}
				if err != nil {
					return err
				}
				// River's tables live in schema river (00018) and are
				// migrated by River's own migrator, after goose.
				if err := migrations.UpRiver(ctx, url); err != nil {
					return err
				}
				v, err := migrations.RiverVersion(ctx, url)
				if err == nil {
					fmt.Fprintf(w, "river job queue at version %d\n", v)
				}
				return err
			case "down":
				r, err := p.Down(ctx)
				if r != nil {
					fmt.Fprintf(w, "rolled back %s\n", r.Source.Path)
				}
				return err
			default:
				st, err := p.Status(ctx)
				if err != nil {
					return err
				}
				for _, s := range st {
					applied := "pending"
					if !s.AppliedAt.IsZero() {
						applied = "applied " + s.AppliedAt.Format("2006-01-02 15:04:05")
					}
					fmt.Fprintf(w, "%-45s %s\n", s.Source.Path, applied)
				}
				if v, err := migrations.RiverVersion(ctx, url); err == nil {
					fmt.Fprintf(w, "%-45s version %d\n", "river (rivermigrate)", v)
				}
				return nil
			}
		},
	}
	cmd.Flags().StringVar(&databaseURL, "database-url", "", "PostgreSQL URL (also DATABASE_URL)")
	cmd.Flags().StringVar(&dataDir, "data-dir", "./.casebridge", "data directory with the private PostgreSQL")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	return cmd
}
