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
	"github.com/casebridge/casebridge/pkg/pgtest"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/services/liaison/internal/store"
	"github.com/casebridge/casebridge/services/liaison/taskforceshare"
)

// BenchmarkMembershipFanOut measures what a membership change costs when
// the task force has n cases shared with it: one add (n relations written)
// plus one remove (n relations deleted), each in its own transaction.
func BenchmarkMembershipFanOut(b *testing.B) {
	ctx := context.Background()
	pool, err := postgres.Open(ctx, pgtest.NewDatabase(b))
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	_, err = demo.Seed(ctx, pool)
	require.NoError(b, err)
	for _, n := range []int{10, 100, 1000} {
		tf := demo.TaskforceID("ctcyber")
		_, err := pool.Exec(ctx, `DELETE FROM liaison.taskforce_shares`)
		require.NoError(b, err)
		for range n {
			require.NoError(b, postgres.WithTx(ctx, pool, func(tx pgx.Tx) error {
				_, err := taskforceshare.Share(ctx, tx, taskforceshare.Request{CaseID: uuid.NewString(),
					LeadAgencyID: demo.AgencyID("csp"), TaskforceID: tf, Relation: "viewer", Now: time.Now()})
				return err
			}))
		}
		b.Run(fmt.Sprintf("cases=%d", n), func(b *testing.B) {
			member := demo.AgencyID("newhaven")
			for b.Loop() {
				require.NoError(b, postgres.WithTx(ctx, pool, func(tx pgx.Tx) error {
					if _, err := store.LockTaskforce(ctx, tx, tf); err != nil {
						return err
					}
					got, err := store.UpsertMember(ctx, tx, tf, member, time.Now(), nil)
					if err == nil && got != int64(n) {
						err = fmt.Errorf("granted %d, want %d", got, n)
					}
					return err
				}))
				require.NoError(b, postgres.WithTx(ctx, pool, func(tx pgx.Tx) error {
					if _, err := store.LockTaskforce(ctx, tx, tf); err != nil {
						return err
					}
					_, err := store.DeleteMember(ctx, tx, tf, member)
					return err
				}))
			}
		})
	}
}
