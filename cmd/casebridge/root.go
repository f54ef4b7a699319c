package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "casebridge",
		Short:         "Case management for multi-jurisdiction cyber crime investigations",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newDevCmd(), newMigrateCmd(), newVersionCmd(), newAuditCmd(), newEvidenceCmd(), newPolicyCmd(), newBenchCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run: func(cmd *cobra.Command, _ []string) {
			rev := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						rev = " (" + s.Value + ")"
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "casebridge %s%s\n", version, rev)
		},
	}
}

// bindEnv gives every flag of fs an environment equivalent,
// CASEBRIDGE_<FLAG NAME IN CAPITALS WITH UNDERSCORES>, used when the flag is
// not on the command line. database-url also reads DATABASE_URL.
func bindEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		names := []string{"CASEBRIDGE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))}
		if f.Name == "database-url" {
			names = append(names, "DATABASE_URL")
		}
		for _, n := range names {
			if v, ok := os.LookupEnv(n); ok && v != "" {
				if e := fs.Set(f.Name, v); e != nil {
					err = fmt.Errorf("%s=%q: %w", n, v, e)
				}
				return
			}
		}
	})
	return err
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
