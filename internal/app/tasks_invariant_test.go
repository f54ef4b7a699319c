package app_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/pkg/authz"
)

// TestSearchTasksMatchesAuthorize holds "my tasks" across cases (GET
// /v1/tasks, issue 17) to Authorize: for every user of a generated world,
// the listed tasks are exactly those on cases where Authorize permits task
// read, across all pages, and with "assignee = me" only those also
// assigned to the user or (without named assignees) to their agency.
func TestSearchTasksMatchesAuthorize(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	w := generateWorld(t, s, 17, 12, 300)
	ctx := context.Background()
	// Two tasks a case: one given to a random agency, one to a random
	// user, with some undated and some overdue, so paging crosses both.
	_, err := s.Pool.Exec(ctx, `INSERT INTO cases.tasks (id, case_id, title, status, assigned_agency_id, due_time,
		create_time, update_time, create_user_email, update_user_email)
		SELECT gen_random_uuid(), c.id, 'gen', 'WAITING', (SELECT id FROM liaison.agencies ORDER BY md5(c.id::text || id::text) LIMIT 1),
			CASE WHEN random() < 0.3 THEN NULL ELSE now() + (random() - 0.5) * interval '10 days' END, now(), now(), 'gen', 'gen'
		FROM cases.cases c`)
	require.NoError(t, err)
	_, err = s.Pool.Exec(ctx, `INSERT INTO cases.tasks (id, case_id, title, status, assignee_user_ids, due_time,
		create_time, update_time, create_user_email, update_user_email)
		SELECT gen_random_uuid(), c.id, 'gen', 'IN_PROGRESS', ARRAY[(SELECT id FROM liaison.users ORDER BY md5(c.id::text || id::text) LIMIT 1)],
			now() + (random() - 0.5) * interval '10 days', now(), now(), 'gen', 'gen'
		FROM cases.cases c`)
	require.NoError(t, err)

	pol, err := authz.LoadPolicyFile("")
	require.NoError(t, err)
	engine, err := authz.NewEngine(pol)
	require.NoError(t, err)
	az := authz.NewAuthorizer(engine)

	type task struct {
		id, caseID string
		agency     *string
		users      []string
	}
	var all []task
	rows, err := s.Pool.Query(ctx, `SELECT id::text, case_id::text, assigned_agency_id::text, assignee_user_ids::text[] FROM cases.tasks`)
	require.NoError(t, err)
	for rows.Next() {
		var tk task
		require.NoError(t, rows.Scan(&tk.id, &tk.caseID, &tk.agency, &tk.users))
		all = append(all, tk)
	}
	require.NoError(t, rows.Err())

	compared := 0
	for _, u := range w.users {
		for _, mine := range []bool{false, true} {
			var listed []string
			token := ""
			for {
				q := url.Values{"pageSize": {"37"}, "pageToken": {token}}
				if mine {
					q.Set("filter", "assignee = me")
				}
				r := s.Do(t, u.Email, "GET", "/v1/tasks?"+q.Encode(), nil)
				if slices.Equal(u.Roles, []string{"auditor"}) {
					require.Equal(t, http.StatusForbidden, r.Status)
					break
				}
				require.Equal(t, http.StatusOK, r.Status, "%s: %s", u.Email, r.Raw)
				var prevDue string
				for _, tk := range r.List("tasks") {
					listed = append(listed, tk["id"].(string))
					due, _ := tk["dueTime"].(string)
					require.True(t, prevDue == "" || due == "" || prevDue <= due, "due order")
					prevDue = due
				}
				if token = r.Str("nextPageToken"); token == "" {
					break
				}
			}
			if slices.Equal(u.Roles, []string{"auditor"}) {
				continue
			}
			readable := map[string]bool{}
			var want []string
			for _, tk := range all {
				ok, seen := readable[tk.caseID]
				if !seen {
					ok = az.Authorize(ctx, s.Pool, u, "task", "read", authz.Resource{Type: "case", ID: tk.caseID}) == nil
					readable[tk.caseID] = ok
				}
				if !ok {
					continue
				}
				if mine && !slices.Contains(tk.users, u.UserID) && (tk.agency == nil || *tk.agency != u.AgencyID || len(tk.users) > 0) {
					continue
				}
				want = append(want, tk.id)
			}
			slices.Sort(listed)
			slices.Sort(want)
			require.Equal(t, want, listed, "user %s (%v) mine=%v", u.Email, u.Roles, mine)
			compared += len(want)
		}
	}
	t.Logf("%d users, %d tasks, %d listed tasks compared with Authorize", len(w.users), len(all), compared)
}
