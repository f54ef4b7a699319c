package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/services/evidence"
)

// errEvidenceVerifyFailed makes `evidence verify` exit non-zero after
// printing its findings.
var errEvidenceVerifyFailed = errors.New("evidence verification FAILED")

func newEvidenceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "evidence",
		Short: "Verify and checkpoint the chains of custody; verify case packages",
	}
	cmd.AddCommand(newEvidenceVerifyCmd(), newEvidenceCheckpointCmd())
	return cmd
}

func newEvidenceVerifyCmd() *cobra.Command {
	var db dbFlags
	var checkpoint, pkg, pubkey string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute every exhibit's chain of custody and sealed record, or check a case package offline",
		Long: `Without --package: walk every exhibit's chain of custody in the database,
recomputing every hash, check that the exhibit's registration record is the
one its INTAKE event sealed and that its custody fields (status, holder,
custodian, storage location, compromised, last check) are what the chain
replays to; name the first broken event or changed field of each exhibit.
With --checkpoint FILE, also check the signed checkpoint (from 'casebridge
evidence checkpoint') and that every exhibit still holds the event it names,
which detects a cut tail or a rewritten chain.

With --package FILE: check a case package (GET /v1/cases/{case_id}:export)
offline, without a database: the signature, every file's SHA-256, every
chain, sealed record and head. Pin the sender's key with --checkpoint-pubkey.`,
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
			w := cmd.OutOrStdout()
			if pkg != "" {
				if checkpoint != "" {
					return errors.New("--package carries its own checkpoint: give --package or --checkpoint, not both")
				}
				data, err := os.ReadFile(pkg)
				if err != nil {
					return err
				}
				rep, err := evidence.VerifyPackage(data, pinned)
				if err != nil {
					return err
				}
				cp := rep.Checkpoint
				fmt.Fprintf(w, "case package of case %s, made %s for %s (%s)\n", cp.CaseNumber, cp.Time.Format(time.RFC3339), cp.Recipient, cp.Purpose)
				if pinned == nil {
					fmt.Fprintf(w, "signed by key %s (not pinned: pass --checkpoint-pubkey)\n", cp.PublicKey)
				}
				for _, r := range rep.Items {
					fmt.Fprintln(w, r)
				}
				for _, p := range rep.Problems {
					fmt.Fprintln(w, "FAILED:", p)
				}
				if !rep.OK() {
					return errEvidenceVerifyFailed
				}
				fmt.Fprintln(w, "case package verified")
				return nil
			}
			var cp *evidence.Checkpoint
			if checkpoint != "" {
				var err error
				if cp, err = evidence.ReadCheckpoint(checkpoint); err != nil {
					return err
				}
				if err := cp.CheckSignature(pinned); err != nil {
					return fmt.Errorf("%s: %w", checkpoint, err)
				}
			}
			return db.withDB(cmd, func(ctx context.Context, q postgres.Querier) error {
				reps, err := evidence.VerifyAll(ctx, q)
				if err != nil {
					return err
				}
				failed := false
				for _, r := range reps {
					fmt.Fprintln(w, r)
					failed = failed || !r.OK()
				}
				if cp != nil {
					creps, err := cp.VerifyAgainst(ctx, q)
					if err != nil {
						return err
					}
					fmt.Fprintf(w, "checkpoint of %s (signature ok):\n", cp.Time.Format(time.RFC3339))
					for i, r := range creps {
						if r.OK() {
							fmt.Fprintf(w, "  %s: holds checkpointed event %d\n", r.ExhibitNumber, cp.Items[i].Seq)
						} else {
							fmt.Fprintf(w, "  %s: BROKEN at event %d: %s\n", r.ExhibitNumber, r.FirstBroken, r.Problem)
							failed = true
						}
					}
				}
				if failed {
					return errEvidenceVerifyFailed
				}
				fmt.Fprintln(w, "chains of custody verified")
				return nil
			})
		},
	}
	db.register(cmd)
	cmd.Flags().StringVar(&checkpoint, "checkpoint", "", "signed custody checkpoint (from `casebridge evidence checkpoint`) to check against")
	cmd.Flags().StringVar(&pkg, "package", "", "case package (zip) to verify offline, without a database")
	cmd.Flags().StringVar(&pubkey, "checkpoint-pubkey", "", "base64 Ed25519 public key the checkpoint or package must be signed with (pinning)")
	return cmd
}

func newEvidenceCheckpointCmd() *cobra.Command {
	var db dbFlags
	var keyFile string
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Verify every exhibit and print every chain's head, signed (JSON)",
		Long: `Verify every exhibit's chain of custody and sealed record, then print a JSON
checkpoint of each chain's head (exhibit, event, hash) and the time, signed
with the Ed25519 key of --checkpoint-key (CASEBRIDGE_CHECKPOINT_KEY; create
one with 'casebridge audit keygen'). It refuses to sign over a broken
exhibit. Keep checkpoints outside the database; 'evidence verify --checkpoint
FILE' then detects a cut tail or a rewritten chain.`,
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
				cp, err := evidence.MakeCheckpoint(ctx, q, key, time.Now())
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
	return cmd
}
