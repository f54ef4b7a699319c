package referrals_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
)

// TestConcurrentAcceptsOpenOneCase: the recipient's two supervisors
// accept the same assistance request at once, several times each. Every
// accept answers the accepted request with the same case; exactly one case
// exists and it is linked; a later retry by either returns it again.
func TestConcurrentAcceptsOpenOneCase(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	id := inState(t, s, "ACKNOWLEDGED")
	var before int
	require.NoError(t, s.Pool.QueryRow(context.Background(), "SELECT count(*) FROM cases.cases").Scan(&before))

	// A second supervisor at CSP (the demo has one), so two users race.
	const second = "sgt.second@csp.example"
	_, err := s.Pool.Exec(context.Background(), `INSERT INTO liaison.users (id, agency_id, email, display_name, roles)
		VALUES (gen_random_uuid(), $1, $2, 'Second supervisor', '{supervisor}')`, demo.AgencyID("csp"), second)
	require.NoError(t, err)
	ok(t, s.Do(t, second, "GET", "/v1/me", nil)) // first sign-in binds the account

	start := time.Now()
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for i := range 8 {
		who := cspSupervisor
		if i%2 == 1 {
			who = second
		}
		wg.Go(func() {
			r := act(s, t, who, id, "accept", map[string]any{})
			mu.Lock()
			defer mu.Unlock()
			if r.Status != http.StatusOK {
				got["status "+http.StatusText(r.Status)+": "+string(r.Raw)]++
				return
			}
			got[r.Str("caseId")]++
		})
	}
	wg.Wait()
	t.Logf("8 concurrent accepts took %s", time.Since(start))
	require.Len(t, got, 1, "every accept answers the same case: %v", got)
	var caseID string
	for k := range got {
		caseID = k
	}
	require.Len(t, caseID, 36, "%v", got)

	var after, linked, requester int
	ctx := context.Background()
	require.NoError(t, s.Pool.QueryRow(ctx, "SELECT count(*) FROM cases.cases").Scan(&after))
	require.Equal(t, before+1, after, "one case, no orphan")
	require.NoError(t, s.Pool.QueryRow(ctx, "SELECT count(*) FROM referrals.referrals WHERE case_id = $1", caseID).Scan(&linked))
	require.Equal(t, 1, linked)
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM authz.relations WHERE resource_type = 'case' AND resource_id = $1 AND relation = 'requester'`, caseID).Scan(&requester))
	require.Equal(t, 1, requester)

	// A retry by anyone of the recipient agency returns the same case.
	require.Equal(t, caseID, ok(t, act(s, t, cspLiaison, id, "accept", map[string]any{})).Str("caseId"))
	require.Equal(t, caseID, ok(t, act(s, t, second, id, "accept", map[string]any{})).Str("caseId"))
	// The requester follows it.
	ok(t, s.Do(t, hartfordOfficer, "GET", "/v1/cases/"+caseID, nil))
}

// TestRefusedAcceptDoesNotBlockOthers: a liaison may accept but not open
// cases; the refused attempt opens nothing and the supervisor's accept right
// after goes through, into one case.
func TestRefusedAcceptDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	id := inState(t, s, "ACKNOWLEDGED")
	r := act(s, t, cspLiaison, id, "accept", map[string]any{})
	require.Equal(t, http.StatusForbidden, r.Status, string(r.Raw))
	var claims int
	require.NoError(t, s.Pool.QueryRow(context.Background(), "SELECT count(*) FROM referrals.accept_cases WHERE referral_id = $1", id).Scan(&claims))
	require.Zero(t, claims, "the refused attempt released its claim: nobody waits for it")
	caseID := ok(t, act(s, t, cspSupervisor, id, "accept", map[string]any{})).Str("caseId")
	require.Len(t, caseID, 36)
	require.Equal(t, caseID, ok(t, act(s, t, cspLiaison, id, "accept", map[string]any{})).Str("caseId"), "the liaison's retry returns the case")
}
