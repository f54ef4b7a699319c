package bench_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/bench"
	"github.com/casebridge/casebridge/pkg/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The generated world is usable through the API as generated: its users
// sign in, its exhibits' custody chains verify, its referrals are in the
// recipients' inboxes; and the same seed gives the same world.
func TestSeedMakesAWorkingWorld(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	ctx := context.Background()
	o := bench.SeedOptions{Agencies: 6, UsersPerAgency: 2, Cases: 300, NotesPerCase: 1, ShareRate: 0.3,
		EvidenceRate: 0.3, ReferralRate: 0.2, Seed: 7}
	require.NoError(t, bench.Seed(ctx, s.Pool, o, io.Discard))

	count := func(sql string) int {
		var n int
		require.NoError(t, s.Pool.QueryRow(ctx, sql).Scan(&n))
		return n
	}
	require.Equal(t, 300, count(`SELECT count(*) FROM cases.cases`))
	require.Positive(t, count(`SELECT count(*) FROM evidence.items`))
	require.Positive(t, count(`SELECT count(*) FROM referrals.referrals WHERE state = 'SUBMITTED'`))

	// An exhibit's chain verifies for its holding agency's custodian.
	var item string
	var holder int
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT id::text, substr(holding_agency_ori, 3)::int FROM evidence.items LIMIT 1`).Scan(&item, &holder))
	v := s.Do(t, bench.UserEmail(holder, o.UsersPerAgency+1), "GET", "/v1/evidence/"+item+"/custody:verify", nil)
	require.Equal(t, http.StatusOK, v.Status, string(v.Raw))
	require.Equal(t, true, v.Get("valid"), string(v.Raw))

	// A referral is in its recipient's inbox.
	var to int
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT substr(to_agency_ori, 3)::int FROM referrals.referrals LIMIT 1`).Scan(&to))
	inbox := s.Do(t, bench.UserEmail(to, o.UsersPerAgency), "GET", "/v1/referrals?view=inbox", nil)
	require.Equal(t, http.StatusOK, inbox.Status, string(inbox.Raw))
	require.NotEmpty(t, inbox.List("referrals"))

	// A generated detective lists the cases of their agency.
	l := s.Do(t, bench.UserEmail(0, 0), "GET", "/v1/cases?page_size=100", nil)
	require.Equal(t, http.StatusOK, l.Status, string(l.Raw))
	require.NotEmpty(t, l.List("cases"))

	// Deterministic: the same seed in another database gives the same cases.
	s2 := apptest.Start(t)
	require.NoError(t, bench.Seed(ctx, s2.Pool, o, io.Discard))
	titles := func(sys *apptest.System) []string {
		rows, err := sys.Pool.Query(ctx, `SELECT case_number || ' ' || title FROM cases.cases ORDER BY case_number`)
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var x string
			require.NoError(t, rows.Scan(&x))
			out = append(out, x)
		}
		return out
	}
	require.Equal(t, titles(s), titles(s2))
}
