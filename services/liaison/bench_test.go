package liaison

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/pgtest"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/services/liaison/internal/store"
)

// BenchmarkMembershipChange measures what a membership change costs when
// the task force has n cases shared with it: one add plus one remove, each
// in its own transaction. Access itself is decided at decision time (no
// relation is copied); the cost is the door's record of the change — a
// timeline entry on each of the n cases whose access changed and their ids
// in the audit record.
func BenchmarkMembershipChange(b *testing.B) {
	ctx := context.Background()
	pool, err := postgres.Open(ctx, pgtest.NewDatabase(b))
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	_, err = demo.Seed(ctx, pool)
	require.NoError(b, err)
	tf := demo.TaskforceID("ctcyber")
	csp := uuid.MustParse(demo.AgencyID("csp"))
	p := &auth.Principal{UserID: demo.UserID("lt.chen@csp.example"), Email: "lt.chen@csp.example", AgencyID: csp.String(), AgencyORI: "CTCSP0000"}
	shared := 0
	for _, n := range []int{10, 100, 1000} {
		var cases [][]any
		var grants []authz.SeedGrant
		for i := shared; i < n; i++ {
			id := uuid.New()
			now := time.Now()
			cases = append(cases, []any{id, fmt.Sprintf("CTCSP0000-2026-B%06d", i), csp, "CTCSP0000", "bench", "OPEN", "MEDIUM", now, now, p.UserID, p.Email, p.Email})
			grants = append(grants, authz.SeedGrant{ResourceType: "case", ResourceID: id, AgencyID: uuid.MustParse(tf), Group: true,
				Relation: authz.RelViewer, LeadAgencyID: &csp})
		}
		shared = n
		require.NoError(b, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cases", "cases"}, []string{"id", "case_number", "lead_agency_id", "lead_agency_ori",
				"title", "status", "priority", "create_time", "update_time", "create_user_id", "create_user_email", "update_user_email"}, pgx.CopyFromRows(cases)); err != nil {
				return err
			}
			return authz.SeedGrants(ctx, tx, grants)
		}))
		b.Run(fmt.Sprintf("cases=%d", n), func(b *testing.B) {
			m := authz.Membership{GroupID: tf, AgencyID: demo.AgencyID("newhaven"), GroupLabel: "task force", AgencyLabel: "CT0009300"}
			for b.Loop() {
				require.NoError(b, postgres.WithTx(ctx, pool, func(tx pgx.Tx) error {
					if _, err := store.LockTaskforce(ctx, tx, tf); err != nil {
						return err
					}
					m.StartTime = time.Now()
					got, err := authz.PutMember(ctx, tx, p, m)
					if err == nil && len(got) != n {
						err = fmt.Errorf("recorded %d cases, want %d", len(got), n)
					}
					return err
				}))
				require.NoError(b, postgres.WithTx(ctx, pool, func(tx pgx.Tx) error {
					if _, err := store.LockTaskforce(ctx, tx, tf); err != nil {
						return err
					}
					_, err := authz.RemoveMember(ctx, tx, p, m)
					return err
				}))
			}
		})
	}
}
