package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/postgres"
)

// errVerifyFailed makes `audit verify` exit non-zero after printing its findings.
var errVerifyFailed = errors.New("audit trail verification FAILED")

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify and checkpoint the audit trail",
	}
	cmd.AddCommand(newAuditVerifyCmd(), newAuditCheckpointCmd(), newAuditKeygenCmd())
	return cmd
}

// dbFlags are the database flags of the audit commands (as migrate's).
type dbFlags struct{ databaseURL, dataDir, logLevel string }

func (f *dbFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.databaseURL, "database-url", "", "PostgreSQL URL (also DATABASE_URL)")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "./.casebridge", "data directory with the private PostgreSQL (when no --database-url)")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "warn", "debug, info, warn or error")
}

// withDB runs fn on a pool of the configured database.
func (f *dbFlags) withDB(cmd *cobra.Command, fn func(ctx context.Context, db postgres.Querier) error) (err error) {
	ctx := cmd.Context()
	url, stop, err := openDatabase(ctx, f.databaseURL, f.dataDir, newLogger(f.logLevel))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stop(context.Background())) }()
	pool, err := postgres.Open(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	return fn(ctx, pool)
}

func newAuditVerifyCmd() *cobra.Command {
	var db dbFlags
	var agency, checkpoint, pubkey string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute every audit chain; exit non-zero on any edited, deleted, inserted or reordered record",
		Long: `Walk each agency's audit chain (or one, with --agency ORI; "anonymous" for
calls made without a valid identity) from its first record, recomputing every
hash from the stored columns, and name the first broken position of each
chain. With --checkpoint, also check the signed checkpoint and that every
chain still holds the record it names (which detects a cut tail).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			var pinned ed25519.PublicKey
			if pubkey != "" {
				var err error
				if pinned, err = audit.ParsePublicKey(pubkey); err != nil {
					return fmt.Errorf("--checkpoint-pubkey: %w", err)
				}
			}
			var cp *audit.Checkpoint
			if checkpoint != "" {
				var err error
				if cp, err = audit.ReadCheckpoint(checkpoint); err != nil {
					return err
				}
				if err := cp.CheckSignature(pinned); err != nil {
					return fmt.Errorf("%s: %w", checkpoint, err)
				}
			}
			w := cmd.OutOrStdout()
			return db.withDB(cmd, func(ctx context.Context, q postgres.Querier) error {
				var reps []audit.Report
				agencyID := ""
				if agency != "" {
					id, err := audit.ResolveChain(ctx, q, agency)
					if err != nil {
						return err
					}
					agencyID = id
					r, err := audit.Verify(ctx, q, id)
					if err != nil {
						return err
					}
					reps = append(reps, r)
				} else {
					var err error
					if reps, err = audit.VerifyAll(ctx, q); err != nil {
						return err
					}
				}
				failed := false
				for _, r := range reps {
					fmt.Fprintln(w, r)
					failed = failed || !r.OK()
				}
				if cp != nil {
					creps, err := cp.VerifyAgainst(ctx, q, agencyID)
					if err != nil {
						return err
					}
					fmt.Fprintf(w, "checkpoint of %s (signature ok):\n", cp.Time.Format(time.RFC3339))
					for _, r := range creps {
						if r.OK() {
							fmt.Fprintf(w, "  %s: holds checkpointed seq %d\n", r.Name(), r.HeadSeq)
						} else {
							fmt.Fprintf(w, "  %s: BROKEN at seq %d: %s\n", r.Name(), r.Problem.Seq, r.Problem.Reason)
							failed = true
						}
					}
				}
				if failed {
					return errVerifyFailed
				}
				fmt.Fprintln(w, "audit trail verified")
				return nil
			})
		},
	}
	db.register(cmd)
	cmd.Flags().StringVar(&agency, "agency", "", "verify only this agency's chain (ORI, agency id, or \"anonymous\")")
	cmd.Flags().StringVar(&checkpoint, "checkpoint", "", "signed checkpoint file (from `casebridge audit checkpoint`) to check against")
	cmd.Flags().StringVar(&pubkey, "checkpoint-pubkey", "", "base64 Ed25519 public key the checkpoint must be signed with (pinning)")
	return cmd
}

func newAuditCheckpointCmd() *cobra.Command {
	var db dbFlags
	var keyFile string
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Verify every chain and print its head, signed (JSON)",
		Long: `Verify every audit chain, then print a JSON checkpoint of each chain's head
(agency, seq, hash), record count and the time, signed with the Ed25519 key of
--checkpoint-key (CASEBRIDGE_CHECKPOINT_KEY; create one with
'casebridge audit keygen'). Keep checkpoints outside the database; 'audit
verify --checkpoint FILE' then detects a cut tail.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			if keyFile == "" {
				return errors.New("--checkpoint-key (CASEBRIDGE_CHECKPOINT_KEY) is required")
			}
			key, err := audit.LoadKey(keyFile)
			if err != nil {
				return err
			}
			return db.withDB(cmd, func(ctx context.Context, q postgres.Querier) error {
				cp, err := audit.MakeCheckpoint(ctx, q, key, time.Now())
				if err != nil {
					return err
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(cp)
			})
		},
	}
	db.register(cmd)
	cmd.Flags().StringVar(&keyFile, "checkpoint-key", "", "Ed25519 signing key file (PEM, from `casebridge audit keygen`)")
	cmd.Flags().StringVar(&keyFile, "key", "", "same as --checkpoint-key")
	_ = cmd.Flags().MarkHidden("key")
	return cmd
}

func newAuditKeygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Create an Ed25519 checkpoint signing key (mode 0600) and print its public key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out is required")
			}
			pub, err := audit.GenerateKey(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s; its public key (pin it with --checkpoint-pubkey):\n", out)
			fmt.Fprintln(cmd.OutOrStdout(), base64.StdEncoding.EncodeToString(pub))
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to create (refuses to overwrite)")
	return cmd
}
