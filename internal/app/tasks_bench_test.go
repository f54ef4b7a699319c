package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
)

// BenchmarkMyTasks measures GET /v1/tasks through the gateway (issue 17)
// with three tasks a case, for a Hartford officer whose agency views 1% of
// the cases and is given one task on each of those (and on 1% of the
// others, as after shares that ended): "my tasks" (assignee = me AND
// status != COMPLETED) and every visible task, first page.
func BenchmarkMyTasks(b *testing.B) {
	for _, n := range []int{10000, 50000} {
		s := apptest.Start(b)
		rng := rand.New(rand.NewPCG(5, 6))
		users := seedAgencies(b, s, 200, 1)
		seedCases(b, s, n, users, rng)
		hartford := demo.AgencyID("hartford")
		seedViewer(b, s, hartford, n/100)
		ctx := context.Background()
		_, err := s.Pool.Exec(ctx, `INSERT INTO cases.tasks (id, case_id, title, status, assigned_agency_id, due_time, sort_order,
			create_time, update_time, create_user_email, update_user_email)
			SELECT gen_random_uuid(), c.id, 'bench', 'WAITING', CASE WHEN k = 1 AND (random() < 0.01
					OR EXISTS (SELECT 1 FROM authz.relations r WHERE r.resource_type = 'case' AND r.resource_id = c.id AND r.agency_id = $1::uuid))
				THEN $1::uuid ELSE c.lead_agency_id END,
				now() + (random() - 0.3) * interval '30 days', k, now(), now(), 'bench', 'bench'
			FROM cases.cases c CROSS JOIN generate_series(1, 3) k`, hartford)
		require.NoError(b, err)
		_, err = s.Pool.Exec(ctx, "ANALYZE")
		require.NoError(b, err)
		tok := s.Token(b, "ofc.evans@hartford.example")
		client := &http.Client{}
		for _, q := range []struct{ name, filter string }{{"mine", "assignee = me AND status != COMPLETED"}, {"all", ""}} {
			b.Run(fmt.Sprintf("cases=%d/tasks=%d/%s", n, 3*n, q.name), func(b *testing.B) {
				for b.Loop() {
					req, _ := http.NewRequest("GET", s.URL+"/v1/tasks?pageSize=25&filter="+url.QueryEscape(q.filter), nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					resp, err := client.Do(req)
					if err != nil || resp.StatusCode != http.StatusOK {
						b.Fatalf("list: %v %v", err, resp)
					}
					resp.Body.Close()
				}
			})
		}
	}
}
