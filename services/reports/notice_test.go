package reports_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/services/reports"
)

// The notices (events.go) reach the notifier inside the change's
// transaction, with what notifications need to route them; a notifier that
// fails rolls the change back (so a River job and its change commit
// together).
func TestNoticesInTransaction(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []reports.Notice
	fail := false
	s := apptest.Start(t, func(c *app.Config) {
		c.ReportNotifier = func(ctx context.Context, tx pgx.Tx, n reports.Notice) error {
			// Inside the transaction: the report's row is written already.
			var state string
			if err := tx.QueryRow(ctx, `SELECT state FROM reports.reports WHERE id = $1`, n.ReportID).Scan(&state); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if fail {
				return errors.New("notification queue refused")
			}
			got = append(got, n)
			return nil
		}
	})
	sub := submitted(t, s, time.Now().Add(-time.Hour))
	id := sub.Str("id")
	ok(t, s.Do(t, cticAnalyst, "POST", "/v1/incidentReports/"+id+":acknowledge", map[string]any{}))
	mu.Lock()
	require.Len(t, got, 2)
	n := got[0]
	require.Equal(t, reports.NoticeSubmitted, n.Kind)
	require.Equal(t, sub.Str("reportNumber"), n.ReportNumber)
	require.True(t, n.Ransomware)
	require.Equal(t, demo.AgencyID("townofexample"), n.OrgAgencyID)
	require.Equal(t, demo.UserID(townReporter), n.ReporterUserID)
	require.ElementsMatch(t, []string{demo.AgencyID("ctic"), demo.AgencyID("csp")}, n.TriageAgencyIDs)
	require.Equal(t, reports.NoticeAcknowledged, got[1].Kind)
	fail = true
	mu.Unlock()

	r := s.Do(t, townReporter, "POST", "/v1/incidentReports/"+id+"/supplements", map[string]any{
		"kind": "SUPPLEMENT_KIND_RANSOM_PAID", "text": "paid", "paymentTime": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)})
	require.Equal(t, http.StatusInternalServerError, r.Status)
	require.Empty(t, ok(t, s.Do(t, townReporter, "GET", "/v1/incidentReports/"+id, nil)).List("supplements"), "rolled back")

	// Every step is in the audit trail, the submission naming CTIC as the
	// recipient.
	var n1, n2 int
	require.NoError(t, s.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE method LIKE '%SubmitIncidentReport' AND recipient_agency_id = $2),
		count(*) FILTER (WHERE method LIKE '%AcknowledgeIncidentReport' AND outcome = 'ALLOWED')
		FROM audit.events WHERE resource_type = 'incident_report' AND resource_id = $1`, id, demo.AgencyID("ctic")).Scan(&n1, &n2))
	require.Equal(t, 1, n1)
	require.Equal(t, 1, n2)
}

// Wired to notifications (pkg/notify): a ransomware report tells CTIC's
// analysts and CSP's supervisors and acknowledges receipt to the town's
// reporter; nobody else hears of it.
func TestSubmittedReportNotifies(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t, func(c *app.Config) { c.JobPollInterval = 50 * time.Millisecond })
	number := submitted(t, s, time.Now().Add(-time.Hour)).Str("reportNumber")
	told := func(email string) bool {
		for _, n := range ok(t, s.Do(t, email, "GET", "/v1/notifications", nil)).List("notifications") {
			if n["event"] == "incident_report.submitted" && n["subjectNumber"] == number {
				return true
			}
		}
		return false
	}
	require.Eventually(t, func() bool { return told(cticAnalyst) && told("sgt.brooks@csp.example") && told(townReporter) },
		30*time.Second, 100*time.Millisecond)
	for _, other := range []string{"det.foster@newhaven.example", "tech.coordinator@exampleschools.example", "sa.harris@fbi.example"} {
		require.False(t, told(other), other)
	}
}

// A case's observables can be imported from an incident report its user
// may read (issue 21): the indicators arrive typed; a user who cannot read
// the report gets the field error a missing report gets.
func TestImportIndicatorsIntoCase(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	rep := submitted(t, s, time.Now().Add(-time.Hour))
	c := ok(t, s.Do(t, cspSupervisor, "POST", "/v1/cases", map[string]any{"title": "Town of Example ransomware"}))
	r := ok(t, s.Do(t, cspSupervisor, "POST", "/v1/cases/"+c.Str("id")+"/observables:batchCreate",
		map[string]any{"fromIncidentReportId": rep.Str("id")}))
	obs := r.List("observables")
	require.Len(t, obs, 1)
	require.Equal(t, "IPV4", obs[0]["type"])
	require.Equal(t, "203.0.113.7", obs[0]["value"])
	require.Contains(t, obs[0]["description"], rep.Str("reportNumber"))

	// New Haven's detective cannot read the report (nor does the case exist for them).
	nh := ok(t, s.Do(t, "det.foster@newhaven.example", "POST", "/v1/cases", map[string]any{"title": "NHPD case"}))
	bad := s.Do(t, "det.foster@newhaven.example", "POST", "/v1/cases/"+nh.Str("id")+"/observables:batchCreate",
		map[string]any{"fromIncidentReportId": rep.Str("id")})
	require.Equal(t, http.StatusBadRequest, bad.Status, string(bad.Raw))
	require.Equal(t, "fromIncidentReportId", bad.Get("details").([]any)[0].(map[string]any)["field"])
}
