package app_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/pkg/authz"
)

// TestCorrelationMatchesAuthorize holds the correlation of observables to
// List ≡ Authorize: on a generated world where one value sits on a sample
// of cases, every user listing the observables of a case they may read sees
// as correlations exactly the other cases holding it that Authorize lets
// them read.
func TestCorrelationMatchesAuthorize(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	w := generateWorld(t, s, 21, 16, 600)
	ctx := context.Background()
	pol, err := authz.LoadPolicyFile("")
	require.NoError(t, err)
	engine, err := authz.NewEngine(pol)
	require.NoError(t, err)
	az := authz.NewAuthorizer(engine)

	// The value on every 40th case (15 cases: under the 20 shown).
	var holding []string
	rows, err := s.Pool.Query(ctx, `SELECT id::text, lead_agency_id::text, lead_agency_ori FROM cases.cases ORDER BY id`)
	require.NoError(t, err)
	var obsRows [][]any
	i := 0
	for rows.Next() {
		var id, lead, ori string
		require.NoError(t, rows.Scan(&id, &lead, &ori))
		if i%40 == 0 {
			holding = append(holding, id)
			obsRows = append(obsRows, []any{uuid.NewString(), id, "EMAIL", "x@evil.example", "x@evil.example", "AMBER",
				time.Now(), uuid.NewString(), "seed@example", lead, ori})
		}
		i++
	}
	require.NoError(t, rows.Err())
	_, err = s.Pool.CopyFrom(ctx, pgx.Identifier{"cases", "observables"}, []string{"id", "case_id", "type", "value", "canonical",
		"tlp", "create_time", "create_user_id", "create_user_email", "agency_id", "agency_ori"}, pgx.CopyFromRows(obsRows))
	require.NoError(t, err)

	compared, nonEmpty := 0, 0
	for _, u := range w.users {
		var readable []string
		for _, id := range holding {
			if az.Authorize(ctx, s.Pool, u, "case", "read", authz.Resource{Type: "case", ID: id}) == nil {
				readable = append(readable, id)
			}
		}
		for _, from := range holding {
			if az.Authorize(ctx, s.Pool, u, "observable", "read", authz.Resource{Type: "case", ID: from}) != nil {
				continue
			}
			r := s.Do(t, u.Email, "GET", "/v1/cases/"+from+"/observables", nil)
			require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
			obs := r.List("observables")
			require.Len(t, obs, 1)
			shown := []string{}
			corr, _ := obs[0]["correlations"].([]any)
			for _, c := range corr {
				shown = append(shown, c.(map[string]any)["caseId"].(string))
			}
			want := slices.DeleteFunc(append([]string{}, readable...), func(id string) bool { return id == from })
			slices.Sort(shown)
			slices.Sort(want)
			require.Equal(t, want, shown, "user %s (%v) from case %s", u.Email, u.Roles, from)
			compared++
			if len(shown) > 0 {
				nonEmpty++
			}
			break // one case per user keeps the test short
		}
	}
	require.Positive(t, nonEmpty, "the world must make some correlations visible")
	t.Logf("%d users' correlations compared with Authorize (%d non-empty)", compared, nonEmpty)
}
