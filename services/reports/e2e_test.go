package reports_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/services/reports"
)

const (
	townReporter   = "it.director@townofexample.example"
	townAdmin      = "admin@townofexample.example"
	schoolReporter = "tech.coordinator@exampleschools.example"
	cticAnalyst    = "an.garcia@ctic.example"
	cspSupervisor  = "sgt.brooks@csp.example"
	cspDetective   = "det.alvarez@csp.example"
	newHaven       = "det.foster@newhaven.example"
	fbiLiaison     = "sa.harris@fbi.example"
)

func ok(t *testing.T, r *apptest.Response) *apptest.Response {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	return r
}

// ransomware is the Town of Example's report: discovered two hours ago,
// with a ransom demand, not paid.
func ransomware(discovered time.Time) map[string]any {
	return map[string]any{"details": map[string]any{
		"reporter":         map[string]any{"name": "Pat Rivera", "title": "IT Director", "phone": "860-555-0170", "email": townReporter},
		"technicalContact": map[string]any{"name": "Lee Park", "phone": "860-555-0171"},
		"incidentType":     "INCIDENT_TYPE_RANSOMWARE",
		"outcome":          "OUTCOME_SUCCESSFUL",
		"whatHappened":     "Town hall file server and tax billing encrypted overnight; ransom note on every screen.",
		"discoveryTime":    discovered.UTC().Format(time.RFC3339),
		"affectedSystems":  []any{map[string]any{"name": "FS01", "function": "town clerk records"}},
		"impact":           map[string]any{"servicesDown": []string{"online tax payments"}, "downSince": discovered.UTC().Format(time.RFC3339)},
		"dataCategories":   []string{"DATA_CATEGORY_PII", "DATA_CATEGORY_FINANCIAL"},
		"ransom":           map[string]any{"demanded": true, "amountMinor": "400000000", "currency": "BTC", "walletAddress": "bc1qexample0wallet"},
		"indicators":       []any{map[string]any{"type": "INDICATOR_TYPE_IP", "value": "203.0.113.7"}},
		"notified":         []any{map[string]any{"party": "NOTIFIED_PARTY_INSURER", "time": discovered.UTC().Format(time.RFC3339)}},
		"assistanceWanted": "Forensics and advice on whether to pay.",
	}}
}

func submitted(t *testing.T, s *apptest.System, discovered time.Time) *apptest.Response {
	t.Helper()
	id := ok(t, s.Do(t, townReporter, "POST", "/v1/incidentReports", ransomware(discovered))).Str("id")
	return ok(t, s.Do(t, townReporter, "POST", "/v1/incidentReports/"+id+":submit", map[string]any{}))
}

// Must hold: a reporter of the Town of Example submits a ransomware report
// with a ransom demand; it gets a report number and a 72 h deadline; CTIC's
// analyst sees it; New Haven PD and the school district do not (404), in a
// list neither.
func TestRansomwareReportNumberDeadlineVisibility(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	discovered := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	draft := ok(t, s.Do(t, townReporter, "POST", "/v1/incidentReports", ransomware(discovered)))
	id := draft.Str("id")
	require.Equal(t, "REPORT_STATE_DRAFT", draft.Str("state"))
	require.Empty(t, draft.Str("reportNumber"))
	// Nobody outside the town sees a draft, the triage desk neither.
	for _, u := range []string{cticAnalyst, cspSupervisor, schoolReporter, newHaven} {
		require.Equal(t, http.StatusNotFound, s.Do(t, u, "GET", "/v1/incidentReports/"+id, nil).Status, u)
	}

	sub := ok(t, s.Do(t, townReporter, "POST", "/v1/incidentReports/"+id+":submit", map[string]any{"etag": draft.Str("etag")}))
	require.Regexp(t, `^CTCTIC000-IR-\d{4}-00001$`, sub.Str("reportNumber"))
	require.Equal(t, "REPORT_STATE_SUBMITTED", sub.Str("state"))
	clocks := sub.List("clocks")
	require.Len(t, clocks, 1)
	require.Equal(t, "CLOCK_KIND_INCIDENT", clocks[0]["kind"])
	due, err := time.Parse(time.RFC3339, clocks[0]["dueTime"].(string))
	require.NoError(t, err)
	require.True(t, due.Equal(discovered.Add(72*time.Hour)), "due %s", due)
	require.Equal(t, false, clocks[0]["late"])
	require.NotEmpty(t, clocks[0]["reportTime"])

	// CTIC's analyst sees it, in a list too.
	got := ok(t, s.Do(t, cticAnalyst, "GET", "/v1/incidentReports/"+id, nil))
	require.Equal(t, "bc1qexample0wallet", got.Str("details.ransom.walletAddress"))
	require.True(t, listed(t, s, cticAnalyst, id))
	require.True(t, listed(t, s, townReporter, id))
	// New Haven PD and the school district do not: 404, and not listed.
	for _, u := range []string{newHaven, schoolReporter, fbiLiaison} {
		require.Equal(t, http.StatusNotFound, s.Do(t, u, "GET", "/v1/incidentReports/"+id, nil).Status, u)
		require.False(t, listed(t, s, u, id), u)
	}
	// The town's administrator manages its users and reads no report by
	// being an admin: refused before any lookup (no role of theirs could
	// read one).
	require.Equal(t, http.StatusForbidden, s.Do(t, townAdmin, "GET", "/v1/incidentReports/"+id, nil).Status)

	// A late report is recorded late.
	old := submitted(t, s, time.Now().Add(-80*time.Hour))
	require.Equal(t, true, old.List("clocks")[0]["late"])
	require.Regexp(t, `-00002$`, old.Str("reportNumber"))
}

func listed(t *testing.T, s *apptest.System, email, id string) bool {
	t.Helper()
	for _, r := range ok(t, s.Do(t, email, "GET", "/v1/incidentReports?page_size=100", nil)).List("reports") {
		if r["id"] == id {
			return true
		}
	}
	return false
}

// Must hold: marking "ransom paid" in a supplemental report starts a 24 h
// clock on that supplement.
func TestRansomPaidSupplementStartsClock(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	id := submitted(t, s, time.Now().Add(-3*time.Hour)).Str("id")
	paid := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	r := ok(t, s.Do(t, townReporter, "POST", "/v1/incidentReports/"+id+"/supplements", map[string]any{
		"kind": "SUPPLEMENT_KIND_RANSOM_PAID", "text": "The insurer paid the ransom.",
		"paymentTime": paid.UTC().Format(time.RFC3339), "amountMinor": "400000000", "currency": "BTC"}))
	sups := r.List("supplements")
	require.Len(t, sups, 1)
	c := sups[0]["clock"].(map[string]any)
	require.Equal(t, "CLOCK_KIND_RANSOM_PAYMENT", c["kind"])
	due, err := time.Parse(time.RFC3339, c["dueTime"].(string))
	require.NoError(t, err)
	require.True(t, due.Equal(paid.Add(24*time.Hour)), "due %s", due)
	require.Equal(t, false, c["late"])
	require.EqualValues(t, 1, c["supplementSequence"])
	require.Len(t, r.List("clocks"), 2)

	// RANSOM_PAID without a payment time names the field.
	bad := s.Do(t, townReporter, "POST", "/v1/incidentReports/"+id+"/supplements", map[string]any{
		"kind": "SUPPLEMENT_KIND_RANSOM_PAID", "text": "paid"})
	require.Equal(t, http.StatusBadRequest, bad.Status)
	require.Contains(t, string(bad.Raw), "supplement.paymentTime")
	// The school district cannot add to the town's report.
	require.Equal(t, http.StatusNotFound, s.Do(t, schoolReporter, "POST", "/v1/incidentReports/"+id+"/supplements",
		map[string]any{"kind": "SUPPLEMENT_KIND_NEW_FACTS", "text": "x"}).Status)
}

// Must hold: CSP opens a case from the report; the case links the report;
// the reporter still sees only the report, whose status says a case was
// opened.
func TestOpenCaseFromReport(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	sub := submitted(t, s, time.Now().Add(-1*time.Hour))
	id, number := sub.Str("id"), sub.Str("reportNumber")
	ok(t, s.Do(t, cticAnalyst, "POST", "/v1/incidentReports/"+id+":acknowledge", map[string]any{"priority": "PRIORITY_HIGH"}))
	// An analyst cannot open a case; a CSP detective is not on the triage desk.
	require.Equal(t, http.StatusForbidden, s.Do(t, cticAnalyst, "POST", "/v1/incidentReports/"+id+":openCase", map[string]any{}).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, cspDetective, "POST", "/v1/incidentReports/"+id+":openCase", map[string]any{}).Status)

	opened := ok(t, s.Do(t, cspSupervisor, "POST", "/v1/incidentReports/"+id+":openCase", map[string]any{}))
	require.Equal(t, "REPORT_STATE_CASE_OPENED", opened.Str("state"))
	caseID := opened.Str("caseId")
	require.NoError(t, uuid.Validate(caseID))
	require.Regexp(t, `^CTCSP0000-\d{4}-\d{6}$`, opened.Str("caseNumber"))
	// The case links the report.
	c := ok(t, s.Do(t, cspSupervisor, "GET", "/v1/cases/"+caseID, nil))
	require.Contains(t, c.Str("summary"), number)
	require.Contains(t, c.Str("summary"), "/v1/incidentReports/"+id)
	require.Equal(t, "CLASSIFICATION_RANSOMWARE", c.Str("classification"))
	// Opening again makes no second case.
	again := s.Do(t, cspSupervisor, "POST", "/v1/incidentReports/"+id+":openCase", map[string]any{})
	require.Equal(t, http.StatusBadRequest, again.Status, string(again.Raw))
	require.Equal(t, caseID, ok(t, s.Do(t, cspSupervisor, "GET", "/v1/incidentReports/"+id, nil)).Str("caseId"))

	// The reporter sees the report, that a case was opened, and not the case.
	mine := ok(t, s.Do(t, townReporter, "GET", "/v1/incidentReports/"+id, nil))
	require.Equal(t, "REPORT_STATE_CASE_OPENED", mine.Str("state"))
	require.Equal(t, true, mine.Get("caseOpened"))
	require.Empty(t, mine.Str("caseId"))
	require.Empty(t, mine.Str("caseNumber"))
	require.NotContains(t, string(mine.Raw), caseID)
	// No role of a reporter reads cases: refused before any lookup.
	require.Equal(t, http.StatusForbidden, s.Do(t, townReporter, "GET", "/v1/cases/"+caseID, nil).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, townReporter, "GET", "/v1/cases", nil).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, townReporter, "GET", "/v1/cases/"+caseID+"/notes", nil).Status)
	for _, r := range ok(t, s.Do(t, townReporter, "GET", "/v1/incidentReports", nil)).List("reports") {
		require.Empty(t, r["caseId"])
	}
}

// Triage: request information, answered by a supplement; share with a
// partner through the door (the FBI then reads it, the reporter does not
// see the sharing step); close as informational.
func TestTriageSteps(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	id := submitted(t, s, time.Now().Add(-1*time.Hour)).Str("id")
	r := ok(t, s.Do(t, cticAnalyst, "POST", "/v1/incidentReports/"+id+":requestInformation", map[string]any{"message": "Which backups do you have?"}))
	require.Equal(t, "REPORT_STATE_INFORMATION_REQUESTED", r.Str("state"))
	mine := ok(t, s.Do(t, townReporter, "GET", "/v1/incidentReports/"+id, nil))
	require.Equal(t, "Which backups do you have?", mine.Str("informationRequest"))
	r = ok(t, s.Do(t, townReporter, "POST", "/v1/incidentReports/"+id+"/supplements", map[string]any{
		"kind": "SUPPLEMENT_KIND_NEW_FACTS", "text": "Weekly tape backups, last one Sunday."}))
	require.Equal(t, "REPORT_STATE_ACKNOWLEDGED", r.Str("state"))
	require.Empty(t, r.Str("informationRequest"))

	require.Equal(t, http.StatusNotFound, s.Do(t, fbiLiaison, "GET", "/v1/incidentReports/"+id, nil).Status)
	ok(t, s.Do(t, cticAnalyst, "POST", "/v1/incidentReports/"+id+":share", map[string]any{"agencyId": demo.AgencyID("fbi"), "reason": "BTC wallet seen in FBI case"}))
	fbi := ok(t, s.Do(t, fbiLiaison, "GET", "/v1/incidentReports/"+id, nil))
	require.Equal(t, "bc1qexample0wallet", fbi.Str("details.ransom.walletAddress"))
	require.Equal(t, false, fbi.Get("triage"), "a partner reads, it does not triage")
	require.Equal(t, true, ok(t, s.Do(t, cticAnalyst, "GET", "/v1/incidentReports/"+id, nil)).Get("triage"))
	require.Equal(t, false, ok(t, s.Do(t, townReporter, "GET", "/v1/incidentReports/"+id, nil)).Get("triage"))
	require.True(t, listed(t, s, fbiLiaison, id))
	// The FBI reads; it does not triage.
	require.Equal(t, http.StatusForbidden, s.Do(t, fbiLiaison, "POST", "/v1/incidentReports/"+id+":close", map[string]any{"reason": "x"}).Status)
	// Sharing with another public entity is refused, naming the field.
	bad := s.Do(t, cticAnalyst, "POST", "/v1/incidentReports/"+id+":share", map[string]any{"agencyId": demo.AgencyID("exampleschools"), "reason": "x"})
	require.Equal(t, http.StatusBadRequest, bad.Status)
	require.Contains(t, string(bad.Raw), "agencyId")

	mine = ok(t, s.Do(t, townReporter, "GET", "/v1/incidentReports/"+id, nil))
	for _, e := range mine.List("history") {
		require.NotEqual(t, "share", e["action"])
	}
	tri := ok(t, s.Do(t, cticAnalyst, "GET", "/v1/incidentReports/"+id, nil))
	actions := []any{}
	for _, e := range tri.List("history") {
		actions = append(actions, e["action"])
	}
	require.Equal(t, []any{"create", "submit", "request_information", "supplement", "share"}, actions)

	r = ok(t, s.Do(t, cticAnalyst, "POST", "/v1/incidentReports/"+id+":close", map[string]any{"reason": "Informational: restored from backup"}))
	require.Equal(t, "REPORT_STATE_CLOSED", r.Str("state"))
	// Closed: no more updates.
	require.Equal(t, http.StatusBadRequest, s.Do(t, townReporter, "POST", "/v1/incidentReports/"+id+"/supplements",
		map[string]any{"kind": "SUPPLEMENT_KIND_NEW_FACTS", "text": "x"}).Status)
}

// Bad input names the field and changes nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"details": map[string]any{"incidentType": "INCIDENT_TYPE_NOPE"}}, "incidentType"},
		{map[string]any{"details": map[string]any{"discoveryTime": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)}}, "details.discoveryTime"},
		{map[string]any{"details": map[string]any{"indicators": []any{map[string]any{"type": "INDICATOR_TYPE_IP"}}}}, "value"},
		{map[string]any{"details": map[string]any{"reporter": map[string]any{"phone": "call me"}}}, "phone"},
		{map[string]any{"details": map[string]any{"ransom": map[string]any{"paid": true}}}, "ransom.demanded"},
	} {
		r := s.Do(t, townReporter, "POST", "/v1/incidentReports", c.body)
		require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
		require.Contains(t, string(r.Raw), c.field)
	}
	require.Empty(t, ok(t, s.Do(t, townReporter, "GET", "/v1/incidentReports", nil)).List("reports"))
	// A draft missing what a submission needs is refused naming the field.
	id := ok(t, s.Do(t, townReporter, "POST", "/v1/incidentReports", map[string]any{"details": map[string]any{"incidentType": "INCIDENT_TYPE_PHISHING_ATTEMPT"}})).Str("id")
	r := s.Do(t, townReporter, "POST", "/v1/incidentReports/"+id+":submit", map[string]any{})
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Contains(t, string(r.Raw), "whatHappened")
	require.Equal(t, "REPORT_STATE_DRAFT", ok(t, s.Do(t, townReporter, "GET", "/v1/incidentReports/"+id, nil)).Str("state"))
	// The town's admin adds reporters, and nothing that could reach a case.
	users := "/v1/agencies/" + demo.AgencyID("townofexample") + "/users"
	r = s.Do(t, townAdmin, "POST", users, map[string]any{"email": "clerk@townofexample.example", "roles": []string{"detective"}})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), "user.roles")
	ok(t, s.Do(t, townAdmin, "POST", users, map[string]any{"email": "clerk@townofexample.example", "roles": []string{"reporter"}}))
	// A police department cannot make reporters.
	r = s.Do(t, "admin@csp.example", "POST", "/v1/agencies/"+demo.AgencyID("csp")+"/users",
		map[string]any{"email": "x@csp.example", "roles": []string{"reporter"}})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	// Only public entities' reporters file reports.
	require.Equal(t, http.StatusForbidden, s.Do(t, cspSupervisor, "POST", "/v1/incidentReports", ransomware(time.Now())).Status)
}

// A configured regime (Texas: 48 h for the incident, details within 10
// days after recovery) sets the clocks; recorded clocks keep their times.
func TestTexasRegime(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t, func(c *app.Config) {
		c.IncidentReports = reports.Regime{IncidentDue: 48 * time.Hour, ConclusionDue: 240 * time.Hour}
	})
	discovered := time.Now().Add(-50 * time.Hour).Truncate(time.Second)
	sub := submitted(t, s, discovered)
	c := sub.List("clocks")[0]
	require.Equal(t, discovered.Add(48*time.Hour).UTC().Format(time.RFC3339), c["dueTime"])
	require.Equal(t, true, c["late"], "50 hours after discovery is late under a 48-hour rule")
	recovered := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	r := ok(t, s.Do(t, townReporter, "POST", "/v1/incidentReports/"+sub.Str("id")+"/supplements", map[string]any{
		"kind": "SUPPLEMENT_KIND_CONCLUDED", "text": "Restored from backups; all services back.",
		"recoveryTime": recovered.UTC().Format(time.RFC3339)}))
	cl := r.List("supplements")[0]["clock"].(map[string]any)
	require.Equal(t, "CLOCK_KIND_CONCLUSION", cl["kind"])
	require.Equal(t, recovered.Add(240*time.Hour).UTC().Format(time.RFC3339), cl["dueTime"])
	require.Equal(t, false, cl["late"])
	bad := s.Do(t, townReporter, "POST", "/v1/incidentReports/"+sub.Str("id")+"/supplements", map[string]any{
		"kind": "SUPPLEMENT_KIND_NEW_FACTS", "text": "x", "recoveryTime": recovered.UTC().Format(time.RFC3339)})
	require.Equal(t, http.StatusBadRequest, bad.Status)
	require.Contains(t, string(bad.Raw), "supplement.recoveryTime")
}
