package cases_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/pkg/authz"
)

const newhaven = "det.foster@newhaven.example"

func field(r *apptest.Response) string {
	d, _ := r.Get("details").([]any)
	if len(d) == 0 {
		return ""
	}
	f, _ := d[0].(map[string]any)["field"].(string)
	return f
}

// Must hold: opening a ransomware case with the CSP ransomware playbook
// gives its tasks with due times; closing with a mandatory task open → 400
// naming it; completing them then closing → 200.
func TestRansomwarePlaybookBlocksClose(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	pb := demo.PlaybookID("csp-ransomware")
	c := s.Do(t, detective, "POST", "/v1/cases?playbookId="+pb, map[string]any{
		"title": "Clinic encrypted", "classification": "CLASSIFICATION_RANSOMWARE"})
	require.Equal(t, http.StatusOK, c.Status, string(c.Raw))
	id := c.Str("id")
	require.Equal(t, "Ransomware: Clinic encrypted", c.Str("title"))
	require.Equal(t, "PRIORITY_HIGH", c.Str("priority"))
	opened, err := time.Parse(time.RFC3339Nano, c.Str("createTime"))
	require.NoError(t, err)

	tasks := s.Do(t, detective, "GET", "/v1/cases/"+id+"/tasks", nil).List("tasks")
	require.Len(t, tasks, len(demo.Playbooks[0].Tasks))
	require.Equal(t, "Take the victim's report and identify their point of contact", tasks[0]["title"])
	due, err := time.Parse(time.RFC3339Nano, tasks[0]["dueTime"].(string))
	require.NoError(t, err)
	require.Equal(t, 4*time.Hour, due.Sub(opened))
	require.Equal(t, "TASK_STATUS_WAITING", tasks[0]["status"])

	// Applying again adds nothing.
	again := s.Do(t, detective, "POST", "/v1/cases/"+id+":applyPlaybook", map[string]any{"playbookId": pb})
	require.Equal(t, http.StatusOK, again.Status, string(again.Raw))
	require.Empty(t, again.List("added"))
	require.Len(t, s.Do(t, detective, "GET", "/v1/cases/"+id+"/tasks", nil).List("tasks"), len(tasks))

	closed := s.Do(t, supervisor, "POST", "/v1/cases/"+id+":close", map[string]any{"reason": "done"})
	require.Equal(t, http.StatusBadRequest, closed.Status)
	require.Contains(t, closed.Str("message"), "Take the victim's report")
	require.Contains(t, closed.Str("message"), "Hold a hotwash")

	for _, tk := range tasks {
		if tk["mandatory"] != true {
			continue
		}
		tid := tk["id"].(string)
		if tk["requiresLog"] == true {
			// Completing without the log entry the template asks for: 400.
			r := s.Do(t, detective, "POST", "/v1/tasks/"+tid+":complete", map[string]any{})
			require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
			require.Equal(t, "note", field(r))
		}
		require.Equal(t, http.StatusOK, s.Do(t, detective, "POST", "/v1/tasks/"+tid+":start", map[string]any{}).Status)
		r := s.Do(t, detective, "POST", "/v1/tasks/"+tid+":complete", map[string]any{"note": "done as written"})
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		require.Equal(t, "TASK_STATUS_COMPLETED", r.Str("status"))
	}
	closed = s.Do(t, supervisor, "POST", "/v1/cases/"+id+":close", map[string]any{"reason": "done"})
	require.Equal(t, http.StatusOK, closed.Status, string(closed.Raw))

	// Status changes are on the timeline.
	n := 0
	for _, e := range s.Do(t, detective, "GET", "/v1/cases/"+id+"/notes?pageSize=100", nil).List("notes") {
		if e["kind"] == "NOTE_KIND_STATUS_CHANGE" {
			n++
		}
	}
	require.Greater(t, n, 6)
}

// Must hold: a task assigned to the FBI's agency is visible and workable
// by the FBI liaison only after the FBI is a contributor; New Haven never
// sees it.
func TestTaskForFBIOnlyOnceContributor(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	id := createCase(t, s, detective, map[string]any{"title": "Provider records"}).Str("id")
	fbiID := demo.AgencyID("fbi")

	// Not yet working the case: the FBI cannot be given the task.
	r := s.Do(t, detective, "POST", "/v1/cases/"+id+"/tasks", map[string]any{
		"title": "Serve the preservation request on the provider", "assignedAgencyId": fbiID})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Equal(t, "task.assignedAgencyId", field(r))

	// A referral recipient is not a contributor.
	_, err := authz.Grant(context.Background(), s.Pool, nil, authz.GrantRequest{Resource: authz.Resource{Type: "case", ID: id},
		AgencyID: fbiID, Relation: authz.RelRecipient, Source: "referral:x"})
	require.NoError(t, err)
	r = s.Do(t, detective, "POST", "/v1/cases/"+id+"/tasks", map[string]any{
		"title": "Serve the preservation request on the provider", "assignedAgencyId": fbiID})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	other := s.Do(t, detective, "POST", "/v1/cases/"+id+"/tasks", map[string]any{"title": "Image the server"})
	require.Equal(t, http.StatusOK, other.Status)

	share := s.Do(t, supervisor, "POST", "/v1/cases/"+id+"/participants", map[string]any{
		"agencyId": fbiID, "relation": "RELATION_CONTRIBUTOR", "reason": "provider is federal", "overrideReason": "joint case"})
	require.Equal(t, http.StatusOK, share.Status, string(share.Raw))
	r = s.Do(t, detective, "POST", "/v1/cases/"+id+"/tasks", map[string]any{
		"title": "Serve the preservation request on the provider", "assignedAgencyId": fbiID})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	tid := r.Str("id")

	require.Equal(t, http.StatusOK, s.Do(t, fbi, "GET", "/v1/tasks/"+tid, nil).Status)
	mine := s.Do(t, fbi, "GET", "/v1/tasks?filter=assignee%20%3D%20me%20AND%20status%20!%3D%20COMPLETED", nil)
	require.Equal(t, http.StatusOK, mine.Status, string(mine.Raw))
	require.Len(t, mine.List("tasks"), 1)
	require.Equal(t, tid, mine.List("tasks")[0]["id"])
	// The FBI works its own task, not the lead's other tasks.
	require.Equal(t, http.StatusForbidden, s.Do(t, fbi, "POST", "/v1/tasks/"+other.Str("id")+":start", map[string]any{}).Status)
	st := s.Do(t, fbi, "POST", "/v1/tasks/"+tid+":start", map[string]any{})
	require.Equal(t, http.StatusOK, st.Status, string(st.Raw))
	require.Equal(t, http.StatusOK, s.Do(t, fbi, "POST", "/v1/tasks/"+tid+"/log", map[string]any{"body": "sent to provider"}).Status)

	// New Haven never sees it.
	require.Equal(t, http.StatusNotFound, s.Do(t, newhaven, "GET", "/v1/tasks/"+tid, nil).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, newhaven, "POST", "/v1/tasks/"+tid+":complete", map[string]any{"note": "x"}).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, newhaven, "GET", "/v1/cases/"+id+"/tasks", nil).Status)
	require.Empty(t, s.Do(t, newhaven, "GET", "/v1/tasks", nil).List("tasks"))

	// Unshared: gone at once for the FBI too.
	del := s.Do(t, supervisor, "DELETE", "/v1/cases/"+id+"/participants/"+fbiID, nil)
	require.Equal(t, http.StatusOK, del.Status, string(del.Raw))
	require.Equal(t, http.StatusNotFound, s.Do(t, fbi, "GET", "/v1/tasks/"+tid, nil).Status)
	require.Empty(t, s.Do(t, fbi, "GET", "/v1/tasks?filter=assignee%20%3D%20me", nil).List("tasks"))
}

// Must hold: a preservation request served today shows expiry in 90 days;
// an extension moves it to 180; it is flagged for renewal 14 days before.
func TestPreservationClock(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	id := createCase(t, s, detective, map[string]any{"title": "Mailbox"}).Str("id")
	served := time.Now().UTC().Truncate(time.Second)
	r := s.Do(t, detective, "POST", "/v1/cases/"+id+"/legalProcess", map[string]any{
		"kind": "LEGAL_PROCESS_KIND_PRESERVATION_REQUEST", "recipient": "Example Mail, Inc.",
		"status": "LEGAL_PROCESS_STATUS_SERVED", "serveTime": served.Format(time.RFC3339)})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	at := func(r *apptest.Response, f string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, r.Str(f))
		require.NoError(t, err, f)
		return v
	}
	require.Equal(t, served.Add(90*24*time.Hour), at(r, "expireTime"))
	require.Equal(t, served.Add(76*24*time.Hour), at(r, "renewalDueTime"))
	require.Equal(t, false, r.Get("dueForRenewal"))
	require.Equal(t, "LEGAL_PROCESS_STATUS_SERVED", r.Str("status"))
	lp := r.Str("id")

	ext := s.Do(t, detective, "POST", "/v1/legalProcess/"+lp+":extend", map[string]any{})
	require.Equal(t, http.StatusOK, ext.Status, string(ext.Raw))
	require.Equal(t, served.Add(180*24*time.Hour), at(ext, "expireTime"))
	require.Equal(t, "LEGAL_PROCESS_STATUS_EXTENDED", ext.Str("status"))
	require.Equal(t, http.StatusBadRequest, s.Do(t, detective, "POST", "/v1/legalProcess/"+lp+":extend", map[string]any{}).Status, "one extension only")

	// Served 77 days ago: inside the 14-day window, flagged; 91 days ago: lapsed.
	for _, c := range []struct {
		days   int
		due    bool
		status string
	}{{75, false, "LEGAL_PROCESS_STATUS_SERVED"}, {77, true, "LEGAL_PROCESS_STATUS_SERVED"}, {91, false, "LEGAL_PROCESS_STATUS_EXPIRED"}} {
		r := s.Do(t, detective, "POST", "/v1/cases/"+id+"/legalProcess", map[string]any{
			"kind": "LEGAL_PROCESS_KIND_PRESERVATION_REQUEST", "recipient": "Example Cloud",
			"serveTime": time.Now().Add(-time.Duration(c.days) * 24 * time.Hour).Format(time.RFC3339)})
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		require.Equal(t, c.due, r.Get("dueForRenewal") == true, "served %d days ago", c.days)
		require.Equal(t, c.status, r.Str("status"), "served %d days ago", c.days)
	}
	// The provider's return: an exhibit whose legal authority names the
	// item, linked back from the item. Another case's item is refused.
	ev := s.Do(t, detective, "POST", "/v1/cases/"+id+"/evidence", map[string]any{"description": "Mailbox export",
		"kind": "KIND_CLOUD_ACCOUNT_RETURN", "sha256": strings.Repeat("cd", 32),
		"legalAuthority": map[string]any{"type": "LEGAL_AUTHORITY_TYPE_PRESERVATION_REQUEST", "legalProcessId": lp}})
	require.Equal(t, http.StatusOK, ev.Status, string(ev.Raw))
	require.Equal(t, lp, ev.Str("legalAuthority.legalProcessId"))
	otherCase := createCase(t, s, detective, map[string]any{"title": "other"}).Str("id")
	bad := s.Do(t, detective, "POST", "/v1/cases/"+otherCase+"/evidence", map[string]any{"description": "x",
		"kind": "KIND_CLOUD_ACCOUNT_RETURN", "sha256": strings.Repeat("cd", 32),
		"legalAuthority": map[string]any{"type": "LEGAL_AUTHORITY_TYPE_PRESERVATION_REQUEST", "legalProcessId": lp}})
	require.Equal(t, http.StatusBadRequest, bad.Status, string(bad.Raw))
	require.Equal(t, "evidence.legalAuthority.legalProcessId", field(bad))
	link := s.Do(t, detective, "PATCH", "/v1/legalProcess/"+lp, map[string]any{"exhibitIds": []string{ev.Str("id")}, "status": "LEGAL_PROCESS_STATUS_RETURNED"})
	require.Equal(t, http.StatusOK, link.Status, string(link.Raw))
	require.Equal(t, "LEGAL_PROCESS_STATUS_RETURNED", link.Str("status"))
	require.Equal(t, false, link.Get("dueForRenewal"))
	link = s.Do(t, detective, "PATCH", "/v1/legalProcess/"+lp, map[string]any{"exhibitIds": []string{uuid.NewString()}})
	require.Equal(t, http.StatusBadRequest, link.Status, string(link.Raw))
	require.Equal(t, "legalProcess.exhibitIds", field(link))

	// New Haven sees none of it.
	require.Equal(t, http.StatusNotFound, s.Do(t, newhaven, "GET", "/v1/legalProcess/"+lp, nil).Status)
}

// Bad input answers 400 naming the field and changes nothing; retries with
// a request_id create one task; a stale etag answers 409.
func TestTaskInputAndConcurrency(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	id := createCase(t, s, detective, map[string]any{"title": "inputs"}).Str("id")
	for _, c := range []struct {
		path  string
		body  map[string]any
		field string
	}{
		{"/v1/cases/" + id + "/tasks", map[string]any{"title": "  "}, ""},
		{"/v1/cases/" + id + "/tasks", map[string]any{"title": "x", "assigneeUserIds": []string{"nope"}}, "task.assigneeUserIds[0]"},
		{"/v1/cases/" + id + "/tasks", map[string]any{"title": "x", "assigneeUserIds": []string{demo.UserID(newhaven)}}, "task.assigneeUserIds"},
		{"/v1/cases/" + id + "/legalProcess", map[string]any{"recipient": "x"}, ""},
		{"/v1/cases/" + id + "/legalProcess", map[string]any{"kind": "LEGAL_PROCESS_KIND_SUBPOENA", "recipient": "x",
			"issueTime": "2026-02-01T00:00:00Z", "serveTime": "2026-01-01T00:00:00Z"}, "legalProcess.serveTime"},
		{"/v1/playbooks", map[string]any{"name": "x", "tasks": []map[string]any{{"key": "Bad Key", "title": "t"}}}, "playbook.tasks[0].key"},
	} {
		email := detective
		if strings.HasPrefix(c.path, "/v1/playbooks") {
			email = supervisor
		}
		r := s.Do(t, email, "POST", c.path, c.body)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s %v: %s", c.path, c.body, r.Raw)
		if c.field != "" {
			require.Equal(t, c.field, field(r), "%s %v: %s", c.path, c.body, r.Raw)
		}
	}
	require.Empty(t, s.Do(t, detective, "GET", "/v1/cases/"+id+"/tasks", nil).List("tasks"))
	require.Empty(t, s.Do(t, detective, "GET", "/v1/cases/"+id+"/legalProcess", nil).List("legalProcess"))

	rid := uuid.NewString()
	a := s.Do(t, detective, "POST", "/v1/cases/"+id+"/tasks?requestId="+rid, map[string]any{"title": "once"})
	b := s.Do(t, detective, "POST", "/v1/cases/"+id+"/tasks?requestId="+rid, map[string]any{"title": "once"})
	require.Equal(t, http.StatusOK, a.Status, string(a.Raw))
	require.Equal(t, a.Str("id"), b.Str("id"))
	require.Len(t, s.Do(t, detective, "GET", "/v1/cases/"+id+"/tasks", nil).List("tasks"), 1)
	lpA := s.Do(t, detective, "POST", "/v1/cases/"+id+"/legalProcess?requestId="+rid, map[string]any{"kind": "LEGAL_PROCESS_KIND_SUBPOENA", "recipient": "Bank"})
	lpB := s.Do(t, detective, "POST", "/v1/cases/"+id+"/legalProcess?requestId="+rid, map[string]any{"kind": "LEGAL_PROCESS_KIND_SUBPOENA", "recipient": "Bank"})
	require.Equal(t, http.StatusOK, lpA.Status, string(lpA.Raw))
	require.Equal(t, lpA.Str("id"), lpB.Str("id"))
	require.Equal(t, "LEGAL_PROCESS_STATUS_DRAFT", lpA.Str("status"))
	pbA := s.Do(t, supervisor, "POST", "/v1/playbooks?requestId="+rid, map[string]any{"name": "Sextortion"})
	pbB := s.Do(t, supervisor, "POST", "/v1/playbooks?requestId="+rid, map[string]any{"name": "Sextortion"})
	require.Equal(t, http.StatusOK, pbA.Status, string(pbA.Raw))
	require.Equal(t, pbA.Str("id"), pbB.Str("id"))
	// Another agency's supervisor does not see it.
	require.Equal(t, http.StatusNotFound, s.Do(t, "sgt.fox@hartford.example", "GET", "/v1/playbooks/"+pbA.Str("id"), nil).Status)
	for _, p := range s.Do(t, "sgt.fox@hartford.example", "GET", "/v1/playbooks", nil).List("playbooks") {
		require.NotEqual(t, pbA.Str("id"), p["id"])
	}

	tid, etag := a.Str("id"), a.Str("etag")
	require.Equal(t, http.StatusOK, s.Do(t, detective, "PATCH", "/v1/tasks/"+tid, map[string]any{"etag": etag, "order": 5}).Status)
	stale := s.Do(t, detective, "PATCH", "/v1/tasks/"+tid, map[string]any{"etag": etag, "order": 6})
	require.Equal(t, http.StatusConflict, stale.Status, string(stale.Raw))
	require.Equal(t, http.StatusConflict, s.Do(t, detective, "POST", "/v1/tasks/"+tid+":start", map[string]any{"etag": etag}).Status)
	// A task cannot be completed twice.
	require.Equal(t, http.StatusOK, s.Do(t, detective, "POST", "/v1/tasks/"+tid+":complete", map[string]any{}).Status)
	require.Equal(t, http.StatusBadRequest, s.Do(t, detective, "POST", "/v1/tasks/"+tid+":complete", map[string]any{}).Status)
	// The assignee (a colleague) finds it in "my tasks" only while open.
	ua := s.Do(t, detective, "POST", "/v1/cases/"+id+"/tasks", map[string]any{"title": "for brooks",
		"assigneeUserIds": []string{demo.UserID(supervisor)}, "dueTime": "2020-01-01T00:00:00Z"})
	require.Equal(t, http.StatusOK, ua.Status, string(ua.Raw))
	require.Equal(t, true, ua.Get("overdue"))
	mine := s.Do(t, supervisor, "GET", "/v1/tasks?filter="+url.QueryEscape("assignee = me AND status != COMPLETED"), nil).List("tasks")
	require.Len(t, mine, 1)
	require.Equal(t, "for brooks", mine[0]["title"])
	require.Empty(t, s.Do(t, detective, "GET", "/v1/tasks?filter="+url.QueryEscape("assignee = me AND status != COMPLETED"), nil).List("tasks"))
	bad := s.Do(t, detective, "GET", "/v1/tasks?filter="+url.QueryEscape("status = DONE"), nil)
	require.Equal(t, http.StatusBadRequest, bad.Status)
	require.Equal(t, "filter", field(bad))
}

// A task given to an agency working the case notifies that agency's
// supervisors and liaisons (pkg/notify), with the case number only; New
// Haven hears nothing.
func TestTaskAssignmentNotifies(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t, func(c *app.Config) { c.JobPollInterval = 50 * time.Millisecond })
	c := createCase(t, s, detective, map[string]any{"title": "Provider records"})
	id := c.Str("id")
	fbiID := demo.AgencyID("fbi")
	share := s.Do(t, supervisor, "POST", "/v1/cases/"+id+"/participants", map[string]any{
		"agencyId": fbiID, "relation": "RELATION_CONTRIBUTOR", "reason": "provider is federal"})
	require.Equal(t, http.StatusOK, share.Status, string(share.Raw))
	r := s.Do(t, detective, "POST", "/v1/cases/"+id+"/tasks", map[string]any{
		"title": "Serve the preservation request on the provider", "assignedAgencyId": fbiID})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	told := func(email string) bool {
		for _, n := range s.Do(t, email, "GET", "/v1/notifications", nil).List("notifications") {
			if n["event"] == "task.assigned" && n["subjectNumber"] == c.Str("caseNumber") {
				require.NotContains(t, n["title"], "preservation")
				return true
			}
		}
		return false
	}
	require.Eventually(t, func() bool { return told(fbi) }, 30*time.Second, 100*time.Millisecond)
	require.False(t, told(newhaven))
}

// A task still open at its due time is announced once, by a job scheduled
// for that time: to the assigned agency (no polling sweep).
func TestTaskOverdueIsAnnouncedOnce(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t, func(c *app.Config) { c.JobPollInterval = 50 * time.Millisecond })
	c := createCase(t, s, detective, map[string]any{"title": "Provider records"})
	id := c.Str("id")
	fbiID := demo.AgencyID("fbi")
	require.Equal(t, http.StatusOK, s.Do(t, supervisor, "POST", "/v1/cases/"+id+"/participants", map[string]any{
		"agencyId": fbiID, "relation": "RELATION_CONTRIBUTOR", "reason": "provider is federal"}).Status)
	due := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	r := s.Do(t, detective, "POST", "/v1/cases/"+id+"/tasks", map[string]any{
		"title": "Serve the preservation request", "assignedAgencyId": fbiID, "dueTime": due})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	count := func() int {
		n := 0
		for _, x := range s.Do(t, fbi, "GET", "/v1/notifications", nil).List("notifications") {
			if x["event"] == "task.overdue" && x["subjectNumber"] == c.Str("caseNumber") {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return count() == 1 }, 30*time.Second, 100*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, 1, count())
	require.Empty(t, s.Do(t, newhaven, "GET", "/v1/notifications", nil).List("notifications"))
}

// A served item's renewal window opening is announced once, by a job
// scheduled for it, to the lead agency's supervisors and the recorder.
func TestLegalProcessRenewalIsAnnounced(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t, func(c *app.Config) { c.JobPollInterval = 50 * time.Millisecond })
	c := createCase(t, s, detective, map[string]any{"title": "Mailbox"})
	expire := time.Now().Add(14*24*time.Hour + 1500*time.Millisecond).UTC()
	r := s.Do(t, detective, "POST", "/v1/cases/"+c.Str("id")+"/legalProcess", map[string]any{
		"kind": "LEGAL_PROCESS_KIND_COURT_ORDER", "recipient": "Example Mail, Inc.",
		"status": "LEGAL_PROCESS_STATUS_SERVED", "serveTime": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
		"expireTime": expire.Format(time.RFC3339Nano)})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	told := func(email string) int {
		n := 0
		for _, x := range s.Do(t, email, "GET", "/v1/notifications", nil).List("notifications") {
			if x["event"] == "legal_process.renewal_due" && x["subjectNumber"] == c.Str("caseNumber") {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return told(supervisor) == 1 && told(detective) == 1 }, 30*time.Second, 100*time.Millisecond)
	require.Empty(t, s.Do(t, newhaven, "GET", "/v1/notifications", nil).List("notifications"))
}

// A task-force share tells each member agency it reaches, and only those:
// Hartford, a member with no agreement in force with CSP, gets nothing
// from the share (and so no notice naming the case); the FBI is told.
func TestTaskforceShareNotifiesOnlyMembersItReaches(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t, func(c *app.Config) { c.JobPollInterval = 50 * time.Millisecond })
	ctf := demo.TaskforceID("ctcyber")
	add := s.Do(t, "lt.chen@csp.example", "POST", "/v1/taskforces/"+ctf+"/members", map[string]any{"agencyId": demo.AgencyID("hartford")})
	require.Equal(t, http.StatusOK, add.Status, string(add.Raw))
	c := createCase(t, s, detective, map[string]any{"title": "Botnet"})
	r := s.Do(t, supervisor, "POST", "/v1/cases/"+c.Str("id")+"/participants", map[string]any{
		"taskforceId": ctf, "relation": "RELATION_VIEWER", "reason": "task force case"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.NotContains(t, r.Get("memberAgencyIds"), demo.AgencyID("hartford"))
	told := func(email string) bool {
		for _, n := range s.Do(t, email, "GET", "/v1/notifications", nil).List("notifications") {
			if n["event"] == "case.shared" && n["subjectNumber"] == c.Str("caseNumber") {
				return true
			}
		}
		return false
	}
	require.Eventually(t, func() bool { return told(fbi) }, 30*time.Second, 100*time.Millisecond)
	require.False(t, told("sgt.fox@hartford.example"))
	require.Equal(t, http.StatusNotFound, s.Do(t, "sgt.fox@hartford.example", "GET", "/v1/cases/"+c.Str("id"), nil).Status)
}
