package referrals_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
)

const (
	hartfordOfficer = "ofc.evans@hartford.example"
	hartfordSgt     = "sgt.fox@hartford.example"
	cspDetective    = "det.alvarez@csp.example"
	cspSupervisor   = "sgt.brooks@csp.example"
	cspLiaison      = "lt.chen@csp.example"
	fbiLiaison      = "sa.harris@fbi.example"
	newHaven        = "det.foster@newhaven.example"
)

func assistanceBody() map[string]any {
	return map[string]any{
		"kind":       "REFERRAL_KIND_ASSISTANCE_REQUEST",
		"toAgencyId": demo.AgencyID("csp"),
		"summary":    "Town hall file server encrypted overnight; ransom note demands 4 BTC.",
		"assistanceRequest": map[string]any{
			"helpWanted":      []string{"HELP_WANTED_DIGITAL_FORENSICS", "HELP_WANTED_TECHNICAL_ADVICE"},
			"urgency":         "URGENCY_PRIORITY",
			"contact":         map[string]any{"name": "Ofc. Evans", "phone": "+1 860 555 0142", "email": "ofc.evans@hartford.example"},
			"localCaseNumber": "HPD-26-004411",
		},
	}
}

func ok(t *testing.T, r *apptest.Response) *apptest.Response {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	return r
}

func fileRequest(t *testing.T, s *apptest.System, email string) string {
	t.Helper()
	return ok(t, s.Do(t, email, "POST", "/v1/referrals", assistanceBody())).Str("id")
}

func act(s *apptest.System, t *testing.T, email, id, verb string, body any) *apptest.Response {
	t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	return s.Do(t, email, "POST", "/v1/referrals/"+id+":"+verb, body)
}

func ids(r *apptest.Response) []string {
	var out []string
	for _, m := range r.List("referrals") {
		out = append(out, m["id"].(string))
	}
	return out
}

// TestStory is the story over HTTP with the demo users.
func TestStory(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)

	// Hartford's officer files an assistance request (a retry with the same
	// request_id returns the same draft) and submits it.
	reqID := uuid.NewString()
	r := ok(t, s.Do(t, hartfordOfficer, "POST", "/v1/referrals?request_id="+reqID, assistanceBody()))
	arID := r.Str("id")
	require.Equal(t, "REFERRAL_STATE_DRAFT", r.Str("state"))
	require.Equal(t, "CT0006400", r.Str("fromAgencyOri"))
	require.Equal(t, "CTCSP0000", r.Str("toAgencyOri"))
	again := ok(t, s.Do(t, hartfordOfficer, "POST", "/v1/referrals?request_id="+reqID, assistanceBody()))
	require.Equal(t, arID, again.Str("id"))
	var n int
	require.NoError(t, s.Pool.QueryRow(context.Background(), "SELECT count(*) FROM referrals.referrals").Scan(&n))
	require.Equal(t, 1, n, "a retry must not create a second request")

	// A draft is the sender's alone.
	require.Equal(t, http.StatusNotFound, s.Do(t, cspSupervisor, "GET", "/v1/referrals/"+arID, nil).Status)
	require.Empty(t, ids(ok(t, s.Do(t, cspSupervisor, "GET", "/v1/referrals?view=inbox", nil))))

	r = ok(t, act(s, t, hartfordOfficer, arID, "submit", nil))
	require.Equal(t, "REFERRAL_STATE_SUBMITTED", r.Str("state"))
	require.NotEmpty(t, r.Str("ackDueTime"))
	require.Equal(t, false, r.Get("overdue"))

	// The unit's supervisor sees it in the inbox, acknowledges and accepts it
	// into a new case.
	require.Equal(t, []string{arID}, ids(ok(t, s.Do(t, cspSupervisor, "GET", "/v1/referrals?view=inbox", nil))))
	require.Empty(t, ids(ok(t, s.Do(t, cspSupervisor, "GET", "/v1/referrals?view=outbox", nil))))
	require.Equal(t, []string{arID}, ids(ok(t, s.Do(t, hartfordOfficer, "GET", "/v1/referrals?view=outbox", nil))))
	// The unit's detectives do not work the inbox.
	require.Equal(t, http.StatusNotFound, s.Do(t, cspDetective, "GET", "/v1/referrals/"+arID, nil).Status)
	ok(t, act(s, t, cspSupervisor, arID, "acknowledge", map[string]any{"comment": "Forensics on call notified"}))
	r = ok(t, act(s, t, cspSupervisor, arID, "accept", nil))
	require.Equal(t, "REFERRAL_STATE_ACCEPTED", r.Str("state"))
	caseID := r.Str("caseId")
	require.NoError(t, uuid.Validate(caseID))
	hist := r.Get("history").([]any)
	require.Len(t, hist, 4) // create, submit, acknowledge, accept
	last := hist[3].(map[string]any)
	require.Equal(t, "accept", last["action"])
	require.Equal(t, cspSupervisor, last["user"])
	require.Equal(t, "REFERRAL_STATE_ACKNOWLEDGED", last["fromState"])
	require.Equal(t, "Forensics on call notified", hist[2].(map[string]any)["reason"])

	c := ok(t, s.Do(t, cspSupervisor, "GET", "/v1/cases/"+caseID, nil))
	require.Equal(t, "CTCSP0000", c.Str("leadAgencyOri"))
	require.Contains(t, c.Str("summary"), "Town hall file server")

	// The unit works the case; one note will be shared with the FBI, one not.
	shared := ok(t, s.Do(t, cspSupervisor, "POST", "/v1/cases/"+caseID+"/notes", map[string]any{"body": "BTC wallet traced to an exchange in Delaware"})).Str("id")
	ok(t, s.Do(t, cspSupervisor, "POST", "/v1/cases/"+caseID+"/notes", map[string]any{"body": "Informant name: do not disseminate"}))
	exhibit := ok(t, s.Do(t, cspSupervisor, "POST", "/v1/cases/"+caseID+"/evidence", map[string]any{
		"description": "Image of the town hall file server", "kind": "KIND_DISK_IMAGE", "sha256": strings.Repeat("ab", 32)}))

	// Hartford follows the case: its referral shows the case; it reads the
	// status and summary, never the unit's notes.
	require.Equal(t, caseID, ok(t, s.Do(t, hartfordOfficer, "GET", "/v1/referrals/"+arID, nil)).Str("caseId"))
	hc := ok(t, s.Do(t, hartfordOfficer, "GET", "/v1/cases/"+caseID, nil))
	require.Equal(t, "STATUS_OPEN", hc.Str("status"))
	require.Contains(t, hc.Str("summary"), "Town hall file server")
	require.Contains(t, []int{http.StatusForbidden, http.StatusNotFound}, s.Do(t, hartfordOfficer, "GET", "/v1/cases/"+caseID+"/notes", nil).Status)

	// The unit's liaison refers the case to the FBI: summary and one note.
	rf := ok(t, s.Do(t, cspLiaison, "POST", "/v1/referrals", map[string]any{
		"kind": "REFERRAL_KIND_REFERRAL", "toAgencyId": demo.AgencyID("fbi"), "caseId": caseID,
		"summary": "Proceeds moved to an out-of-state exchange; loss above the federal threshold.",
		"caseReferral": map[string]any{
			"reason": "REFERRAL_REASON_INTERSTATE", "requestedAction": "Open a federal investigation and serve the exchange",
			"package": map[string]any{"includeSummary": true, "noteIds": []string{shared}, "includeEvidenceList": true},
		},
	}))
	refID := rf.Str("id")
	// The FBI sees nothing before submission.
	require.Equal(t, http.StatusNotFound, s.Do(t, fbiLiaison, "GET", "/v1/referrals/"+refID, nil).Status)
	r = ok(t, act(s, t, cspLiaison, refID, "submit", nil))
	require.Equal(t, "REFERRAL_STATE_SUBMITTED", r.Str("state"))

	// The FBI liaison sees the package — summary and the one note — but not
	// the case.
	fr := ok(t, s.Do(t, fbiLiaison, "GET", "/v1/referrals/"+refID, nil))
	require.Contains(t, fr.Str("package.summary"), "Town hall file server")
	require.Equal(t, c.Str("caseNumber"), fr.Str("package.caseNumber"))
	notes := fr.Get("package.notes").([]any)
	require.Len(t, notes, 1)
	require.Equal(t, "BTC wallet traced to an exchange in Delaware", notes[0].(map[string]any)["body"])
	require.NotContains(t, string(fr.Raw), "Informant")
	require.Equal(t, true, fr.Get("package.evidenceListIncluded"))
	ev := fr.Get("package.evidence").([]any)
	require.Len(t, ev, 1)
	require.Equal(t, exhibit.Str("exhibitNumber"), ev[0].(map[string]any)["exhibitNumber"])
	require.Equal(t, strings.Repeat("ab", 32), ev[0].(map[string]any)["sha256"])
	require.Equal(t, http.StatusNotFound, s.Do(t, fbiLiaison, "GET", "/v1/evidence/"+exhibit.Str("id"), nil).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, fbiLiaison, "GET", "/v1/cases/"+caseID, nil).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, fbiLiaison, "GET", "/v1/cases/"+caseID+"/notes", nil).Status)
	require.Equal(t, []string{refID}, ids(ok(t, s.Do(t, fbiLiaison, "GET", "/v1/referrals?view=inbox", nil))))

	// The submission is recorded as a dissemination to the FBI.
	var disseminated int
	require.NoError(t, s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit.events
		WHERE method LIKE '%SubmitReferral' AND recipient_agency_id = $1 AND case_id = $2 AND purpose <> ''`,
		demo.AgencyID("fbi"), caseID).Scan(&disseminated))
	require.Equal(t, 1, disseminated)

	// After acceptance the FBI reads the case and its timeline.
	ok(t, act(s, t, fbiLiaison, refID, "acknowledge", nil))
	r = ok(t, act(s, t, fbiLiaison, refID, "accept", map[string]any{"comment": "Assigned to CY-2 squad"}))
	require.Equal(t, "REFERRAL_STATE_ACCEPTED", r.Str("state"))
	ok(t, s.Do(t, fbiLiaison, "GET", "/v1/cases/"+caseID, nil))
	tl := ok(t, s.Do(t, fbiLiaison, "GET", "/v1/cases/"+caseID+"/notes", nil))
	require.Contains(t, string(tl.Raw), "Informant name", "a contributor reads the whole timeline")
	parts := ok(t, s.Do(t, cspSupervisor, "GET", "/v1/cases/"+caseID+"/participants", nil))
	require.Contains(t, string(parts.Raw), "RELATION_CONTRIBUTOR")
	require.Contains(t, string(parts.Raw), "RELATION_REQUESTER")
	require.NoError(t, s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit.events
		WHERE method LIKE '%AcceptReferral' AND recipient_agency_id = $1 AND case_id = $2`,
		demo.AgencyID("fbi"), caseID).Scan(&disseminated))
	require.Equal(t, 1, disseminated)

	// New Haven sees nothing, at the end as at every step.
	for _, id := range []string{arID, refID} {
		require.Equal(t, http.StatusNotFound, s.Do(t, newHaven, "GET", "/v1/referrals/"+id, nil).Status)
	}
	require.Equal(t, http.StatusNotFound, s.Do(t, newHaven, "GET", "/v1/cases/"+caseID, nil).Status)
	for _, view := range []string{"inbox", "outbox", ""} {
		require.Empty(t, ids(ok(t, s.Do(t, newHaven, "GET", "/v1/referrals?view="+view, nil))))
	}
	require.EqualValues(t, 0, ok(t, s.Do(t, newHaven, "GET", "/v1/referrals:stats", nil)).Get("total"))

	// Stats from the unit's side: one received from Hartford, one sent to the FBI.
	st := ok(t, s.Do(t, cspLiaison, "GET", "/v1/referrals:stats", nil))
	require.EqualValues(t, 2, st.Get("total"))
	require.EqualValues(t, 2, st.Get("byState.REFERRAL_STATE_ACCEPTED"))
	require.EqualValues(t, 1, st.Get("byKind.REFERRAL_KIND_REFERRAL"))
	byAgency := map[string]map[string]any{}
	for _, a := range st.Get("byAgency").([]any) {
		m := a.(map[string]any)
		byAgency[m["agencyOri"].(string)] = m
	}
	require.EqualValues(t, 1, byAgency["CT0006400"]["received"])
	require.EqualValues(t, 1, byAgency["CTFBINH00"]["sent"])

	// Every listed referral can be read, and what each user can read is
	// listed (the list and Authorize agree).
	for _, u := range []string{hartfordOfficer, hartfordSgt, cspSupervisor, cspLiaison, cspDetective, fbiLiaison, newHaven} {
		listed := ids(ok(t, s.Do(t, u, "GET", "/v1/referrals", nil)))
		for _, id := range []string{arID, refID} {
			readable := s.Do(t, u, "GET", "/v1/referrals/"+id, nil).Status == http.StatusOK
			require.Equal(t, readable, contains(listed, id), "%s %s", u, id)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// inState files an assistance request (Hartford → CSP) and moves it to state.
func inState(t *testing.T, s *apptest.System, state string) string {
	t.Helper()
	id := fileRequest(t, s, hartfordOfficer)
	steps := map[string][][2]string{
		"DRAFT":        nil,
		"SUBMITTED":    {{hartfordOfficer, "submit"}},
		"ACKNOWLEDGED": {{hartfordOfficer, "submit"}, {cspSupervisor, "acknowledge"}},
		"ACCEPTED":     {{hartfordOfficer, "submit"}, {cspSupervisor, "acknowledge"}, {cspSupervisor, "accept"}},
		"DECLINED":     {{hartfordOfficer, "submit"}, {cspSupervisor, "acknowledge"}, {cspSupervisor, "decline"}},
		"RETURNED":     {{hartfordOfficer, "submit"}, {cspSupervisor, "acknowledge"}, {cspSupervisor, "return"}},
		"WITHDRAWN":    {{hartfordOfficer, "withdraw"}},
	}[state]
	for _, st := range steps {
		ok(t, act(s, t, st[0], id, st[1], bodyFor(st[1])))
	}
	return id
}

// bodyFor is a valid body for action.
func bodyFor(action string) map[string]any {
	switch action {
	case "decline", "return", "withdraw":
		return map[string]any{"reason": "because"}
	case "acknowledge", "accept":
		return map[string]any{"comment": "noted"}
	}
	return map[string]any{}
}

func TestIllegalTransitionsAreRefused(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	legal := map[string][]string{
		"submit":      {"DRAFT", "RETURNED"},
		"acknowledge": {"SUBMITTED"},
		"accept":      {"ACKNOWLEDGED"},
		"decline":     {"ACKNOWLEDGED"},
		"return":      {"ACKNOWLEDGED"},
		"withdraw":    {"DRAFT", "SUBMITTED", "ACKNOWLEDGED", "RETURNED"},
		"edit":        {"DRAFT", "RETURNED"},
	}
	actor := map[string]string{
		"submit": hartfordOfficer, "withdraw": hartfordOfficer, "edit": hartfordOfficer,
		"acknowledge": cspSupervisor, "accept": cspSupervisor, "decline": cspSupervisor, "return": cspSupervisor,
	}
	// The recipient does not see drafts, nor what was declined or withdrawn.
	invisibleToRecipient := []string{"DRAFT", "DECLINED", "WITHDRAWN"}
	for _, state := range []string{"DRAFT", "SUBMITTED", "ACKNOWLEDGED", "ACCEPTED", "DECLINED", "RETURNED", "WITHDRAWN"} {
		id := inState(t, s, state)
		before := ok(t, s.Do(t, hartfordOfficer, "GET", "/v1/referrals/"+id, nil))
		for action, from := range legal {
			if contains(from, state) {
				continue
			}
			if action == "accept" && state == "ACCEPTED" {
				// Idempotent (issue 18): a retry returns the accepted
				// request and its case; TestConcurrentAcceptsOpenOneCase.
				r := ok(t, act(s, t, actor[action], id, action, bodyFor(action)))
				require.Equal(t, "REFERRAL_STATE_ACCEPTED", r.Str("state"))
				continue
			}
			var r *apptest.Response
			if action == "edit" {
				r = s.Do(t, actor[action], "PATCH", "/v1/referrals/"+id, map[string]any{"summary": "changed"})
			} else {
				r = act(s, t, actor[action], id, action, bodyFor(action))
			}
			want, code := http.StatusBadRequest, "FAILED_PRECONDITION"
			if actor[action] == cspSupervisor && contains(invisibleToRecipient, state) {
				want, code = http.StatusNotFound, "NOT_FOUND"
			}
			require.Equal(t, want, r.Status, "%s on %s: %s", action, state, r.Raw)
			require.Equal(t, code, r.Str("status"), "%s on %s", action, state)
		}
		after := ok(t, s.Do(t, hartfordOfficer, "GET", "/v1/referrals/"+id, nil))
		require.Equal(t, before.Str("etag"), after.Str("etag"), "a refused transition changes nothing (%s)", state)
		require.Equal(t, "REFERRAL_STATE_"+state, after.Str("state"))
	}
}

func TestWhoMayAct(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	id := inState(t, s, "SUBMITTED")
	// The sender may not decide its own request; the recipient may not
	// withdraw or edit it; visible → 403.
	require.Equal(t, http.StatusForbidden, act(s, t, hartfordOfficer, id, "acknowledge", nil).Status)
	require.Equal(t, http.StatusForbidden, act(s, t, cspSupervisor, id, "withdraw", nil).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, cspSupervisor, "PATCH", "/v1/referrals/"+id, map[string]any{"summary": "x"}).Status)
	// Others do not learn it exists: 404; a role that may never
	// acknowledge anything is refused before any lookup (403 naming the
	// role, the same for every id).
	for _, u := range []string{newHaven, fbiLiaison, cspDetective} {
		require.Equal(t, http.StatusNotFound, s.Do(t, u, "GET", "/v1/referrals/"+id, nil).Status, u)
	}
	require.Equal(t, http.StatusNotFound, act(s, t, fbiLiaison, id, "acknowledge", nil).Status)
	r := act(s, t, newHaven, id, "acknowledge", nil)
	require.Equal(t, http.StatusForbidden, r.Status)
	require.Equal(t, r.Str("message"), act(s, t, newHaven, uuid.NewString(), "acknowledge", nil).Str("message"))
	// A colleague of the filing officer (the supervisor) may withdraw it; the
	// recipient's access ends.
	require.Equal(t, http.StatusForbidden, act(s, t, hartfordSgt, id, "acknowledge", nil).Status)
	r = ok(t, act(s, t, hartfordSgt, id, "withdraw", map[string]any{"reason": "Resolved locally"}))
	require.Equal(t, "REFERRAL_STATE_WITHDRAWN", r.Str("state"))
	require.Equal(t, "Resolved locally", r.Str("stateReason"))
	require.Equal(t, http.StatusNotFound, s.Do(t, cspSupervisor, "GET", "/v1/referrals/"+id, nil).Status)

	// Referring a case: only supervisors and liaisons of the lead agency.
	c := ok(t, s.Do(t, cspDetective, "POST", "/v1/cases", map[string]any{"title": "Sextortion ring"})).Str("id")
	body := map[string]any{
		"kind": "REFERRAL_KIND_REFERRAL", "toAgencyId": demo.AgencyID("fbi"), "caseId": c, "summary": "Victims in 6 states",
		"caseReferral": map[string]any{"reason": "REFERRAL_REASON_CHILD_EXPLOITATION", "shareRelation": "SHARE_RELATION_VIEWER"},
	}
	require.Equal(t, http.StatusForbidden, s.Do(t, cspDetective, "POST", "/v1/referrals", body).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, hartfordSgt, "POST", "/v1/referrals", body).Status)
	refID := ok(t, s.Do(t, cspSupervisor, "POST", "/v1/referrals", body)).Str("id")
	ok(t, act(s, t, cspSupervisor, refID, "submit", nil))
	// The FBI declines: a reason is required, and the FBI's access ends.
	r = act(s, t, fbiLiaison, refID, "acknowledge", nil)
	ok(t, r)
	r = act(s, t, fbiLiaison, refID, "decline", map[string]any{})
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, "INVALID_ARGUMENT", r.Str("status"))
	require.Equal(t, "reason", r.Get("details").([]any)[0].(map[string]any)["field"])
	r = act(s, t, fbiLiaison, refID, "decline", map[string]any{"reason": "   "})
	require.Equal(t, http.StatusBadRequest, r.Status, "a blank reason is no reason")
	r = ok(t, act(s, t, fbiLiaison, refID, "decline", map[string]any{"reason": "Below our threshold; USSS may take it"}))
	require.Equal(t, "REFERRAL_STATE_DECLINED", r.Str("state"))
	require.Equal(t, http.StatusNotFound, s.Do(t, fbiLiaison, "GET", "/v1/referrals/"+refID, nil).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, fbiLiaison, "GET", "/v1/cases/"+c, nil).Status)
	// The sender reads why.
	require.Equal(t, "Below our threshold; USSS may take it",
		ok(t, s.Do(t, cspSupervisor, "GET", "/v1/referrals/"+refID, nil)).Str("stateReason"))
}

func TestReturnEditResubmit(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	id := inState(t, s, "DRAFT")
	// Edits in DRAFT, by the sender only; server-owned fields sent back are
	// ignored.
	r := ok(t, s.Do(t, hartfordOfficer, "PATCH", "/v1/referrals/"+id, map[string]any{"summary": "Two servers now", "state": "REFERRAL_STATE_ACCEPTED"}))
	require.Equal(t, "Two servers now", r.Str("summary"))
	require.Equal(t, "REFERRAL_STATE_DRAFT", r.Str("state"))
	// A stale etag changes nothing.
	stale := r.Str("etag")
	ok(t, s.Do(t, hartfordOfficer, "PATCH", "/v1/referrals/"+id, map[string]any{"summary": "Three servers"}))
	r = s.Do(t, hartfordOfficer, "PATCH", "/v1/referrals/"+id, map[string]any{"summary": "lost update", "etag": stale})
	require.Equal(t, http.StatusConflict, r.Status, string(r.Raw))
	// The kind's details are replaced whole and validated as on create.
	r = s.Do(t, hartfordOfficer, "PATCH", "/v1/referrals/"+id, map[string]any{"assistanceRequest": map[string]any{"urgency": "URGENCY_IMMEDIATE"}})
	require.Equal(t, http.StatusBadRequest, r.Status)
	ar := assistanceBody()["assistanceRequest"].(map[string]any)
	ar["urgency"] = "URGENCY_IMMEDIATE"
	r = ok(t, s.Do(t, hartfordOfficer, "PATCH", "/v1/referrals/"+id, map[string]any{"assistanceRequest": ar}))
	require.Equal(t, "URGENCY_IMMEDIATE", r.Str("assistanceRequest.urgency"))
	require.Equal(t, "HPD-26-004411", r.Str("assistanceRequest.localCaseNumber"))

	ok(t, act(s, t, hartfordOfficer, id, "submit", nil))
	ok(t, act(s, t, cspSupervisor, id, "acknowledge", nil))
	r = act(s, t, cspSupervisor, id, "return", map[string]any{})
	require.Equal(t, http.StatusBadRequest, r.Status, "return needs a reason")
	r = ok(t, act(s, t, cspSupervisor, id, "return", map[string]any{"reason": "Attach the ransom note text"}))
	require.Equal(t, "REFERRAL_STATE_RETURNED", r.Str("state"))
	// The recipient of a submitted request cannot change: withdraw and refile.
	r = s.Do(t, hartfordOfficer, "PATCH", "/v1/referrals/"+id, map[string]any{"toAgencyId": demo.AgencyID("fbi")})
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, "FAILED_PRECONDITION", r.Str("status"))
	ok(t, s.Do(t, hartfordOfficer, "PATCH", "/v1/referrals/"+id, map[string]any{"summary": "Ransom note: 'Your files are encrypted…'"}))
	r = ok(t, act(s, t, hartfordOfficer, id, "submit", nil))
	require.Equal(t, "REFERRAL_STATE_SUBMITTED", r.Str("state"))
	require.Empty(t, r.Str("stateReason"))
	var actions []string
	for _, h := range r.Get("history").([]any) {
		actions = append(actions, h.(map[string]any)["action"].(string))
	}
	require.Equal(t, []string{"create", "update", "update", "update", "submit", "acknowledge", "return", "update", "submit"}, actions)
}

func TestOverdueAndStats(t *testing.T) {
	t.Parallel()
	// A one-microsecond acknowledgement deadline: every submitted request is
	// overdue by the next request.
	s := apptest.Start(t, func(c *app.Config) { c.ReferralAckDue = time.Microsecond })
	late := inState(t, s, "SUBMITTED")
	acked := inState(t, s, "ACKNOWLEDGED")
	inState(t, s, "DRAFT")

	r := ok(t, s.Do(t, cspSupervisor, "GET", "/v1/referrals/"+late, nil))
	require.Equal(t, true, r.Get("overdue"))
	require.Equal(t, false, ok(t, s.Do(t, cspSupervisor, "GET", "/v1/referrals/"+acked, nil)).Get("overdue"))
	require.Equal(t, []string{late}, ids(ok(t, s.Do(t, cspSupervisor, "GET", "/v1/referrals?view=inbox&filter=overdue%20%3D%20true", nil))))
	require.Equal(t, []string{acked}, ids(ok(t, s.Do(t, cspSupervisor, "GET", "/v1/referrals?view=inbox&filter=overdue%20%3D%20false", nil))))

	st := ok(t, s.Do(t, cspSupervisor, "GET", "/v1/referrals:stats?view=inbox", nil))
	require.EqualValues(t, 2, st.Get("total"), "drafts are not in the recipient's counts")
	require.EqualValues(t, 1, st.Get("overdue"))
	require.EqualValues(t, 1, st.Get("byState.REFERRAL_STATE_SUBMITTED"))
	require.EqualValues(t, 2, st.Get("byKind.REFERRAL_KIND_ASSISTANCE_REQUEST"))
	st = ok(t, s.Do(t, hartfordOfficer, "GET", "/v1/referrals:stats?view=outbox", nil))
	require.EqualValues(t, 3, st.Get("total"))
	require.EqualValues(t, 1, st.Get("byState.REFERRAL_STATE_DRAFT"))

	// Acknowledging clears the flag.
	r = ok(t, act(s, t, cspSupervisor, late, "acknowledge", nil))
	require.Equal(t, false, r.Get("overdue"))
	require.EqualValues(t, 0, ok(t, s.Do(t, cspSupervisor, "GET", "/v1/referrals:stats", nil)).Get("overdue"))
}

func TestRoutesListAndValidation(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	var made []string
	for range 5 {
		made = append(made, fileRequest(t, s, hartfordOfficer))
	}
	// :stats, {id} and the list do not shadow each other.
	require.NotNil(t, ok(t, s.Do(t, hartfordOfficer, "GET", "/v1/referrals:stats", nil)).Get("total"))
	require.Equal(t, made[0], ok(t, s.Do(t, hartfordOfficer, "GET", "/v1/referrals/"+made[0], nil)).Str("id"))
	r := s.Do(t, hartfordOfficer, "GET", "/v1/referrals/stats", nil)
	require.Equal(t, http.StatusBadRequest, r.Status, "not a UUID, and not the stats route")

	// Pages of 2, 2, 1, newest first, no repeats; a token is bound to its
	// view and filter.
	var seen []string
	token, pages := "", 0
	for {
		r := ok(t, s.Do(t, hartfordOfficer, "GET", "/v1/referrals?view=outbox&page_size=2&page_token="+token, nil))
		seen = append(seen, ids(r)...)
		pages++
		if token = r.Str("nextPageToken"); token == "" {
			break
		}
		bad := s.Do(t, hartfordOfficer, "GET", "/v1/referrals?view=inbox&page_size=2&page_token="+token, nil)
		require.Equal(t, http.StatusBadRequest, bad.Status)
	}
	require.Equal(t, 3, pages)
	require.Len(t, seen, 5)
	require.ElementsMatch(t, made, seen)
	require.Equal(t, made[4], seen[0])

	// Filters.
	require.Len(t, ids(ok(t, s.Do(t, hartfordOfficer, "GET", "/v1/referrals?filter=state%20%3D%20DRAFT%20AND%20kind%20%3D%20ASSISTANCE_REQUEST%20AND%20agency%20%3D%20CTCSP0000", nil))), 5)
	require.Empty(t, ids(ok(t, s.Do(t, hartfordOfficer, "GET", "/v1/referrals?filter=state%20%3D%20SUBMITTED", nil))))
	require.Equal(t, http.StatusBadRequest, s.Do(t, hartfordOfficer, "GET", "/v1/referrals?filter=colour%20%3D%20red", nil).Status)
	require.Equal(t, http.StatusBadRequest, s.Do(t, hartfordOfficer, "GET", "/v1/referrals?view=sideways", nil).Status)

	// Bad input is 400 naming the field, and creates nothing.
	field := func(r *apptest.Response) string {
		d, _ := r.Get("details").([]any)
		require.NotEmpty(t, d, string(r.Raw))
		return d[0].(map[string]any)["field"].(string)
	}
	for name, tc := range map[string]struct {
		edit  func(map[string]any)
		field string
	}{
		"no kind":        {func(b map[string]any) { delete(b, "kind") }, "referral.kind"},
		"no recipient":   {func(b map[string]any) { delete(b, "toAgencyId") }, "referral.toAgencyId"},
		"blank summary":  {func(b map[string]any) { b["summary"] = "  " }, "referral.summary"},
		"no details":     {func(b map[string]any) { delete(b, "assistanceRequest") }, "referral.assistanceRequest"},
		"no help wanted": {func(b map[string]any) { b["assistanceRequest"].(map[string]any)["helpWanted"] = []string{} }, "referral.assistanceRequest.helpWanted"},
		"no contact means": {func(b map[string]any) {
			b["assistanceRequest"].(map[string]any)["contact"] = map[string]any{"name": "X"}
		}, "referral.assistanceRequest.contact"},
		"own agency":      {func(b map[string]any) { b["toAgencyId"] = demo.AgencyID("hartford") }, "referral.toAgencyId"},
		"unknown agency":  {func(b map[string]any) { b["toAgencyId"] = uuid.NewString() }, "referral.toAgencyId"},
		"case on request": {func(b map[string]any) { b["caseId"] = uuid.NewString() }, "referral.caseId"},
		"referral no case": {func(b map[string]any) {
			b["kind"] = "REFERRAL_KIND_REFERRAL"
			delete(b, "assistanceRequest")
			b["caseReferral"] = map[string]any{"reason": "REFERRAL_REASON_OTHER"}
		}, "referral.caseId"},
	} {
		b := assistanceBody()
		tc.edit(b)
		r := s.Do(t, hartfordOfficer, "POST", "/v1/referrals", b)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", name, r.Raw)
		require.Equal(t, tc.field, field(r), name)
	}
	var n int
	require.NoError(t, s.Pool.QueryRow(context.Background(), "SELECT count(*) FROM referrals.referrals").Scan(&n))
	require.Equal(t, 5, n)
}

func TestAcceptIntoExistingCase(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	own := ok(t, s.Do(t, cspDetective, "POST", "/v1/cases", map[string]any{"title": "Regional ransomware wave"})).Str("id")
	other := ok(t, s.Do(t, newHaven, "POST", "/v1/cases", map[string]any{"title": "New Haven case"})).Str("id")
	id := inState(t, s, "ACKNOWLEDGED")
	r := act(s, t, cspSupervisor, id, "accept", map[string]any{"caseId": other})
	require.Equal(t, http.StatusBadRequest, r.Status, "another agency's case cannot be linked")
	r = ok(t, act(s, t, cspSupervisor, id, "accept", map[string]any{"caseId": own}))
	require.Equal(t, own, r.Str("caseId"))
	require.Equal(t, "Regional ransomware wave", ok(t, s.Do(t, hartfordOfficer, "GET", "/v1/cases/"+own, nil)).Str("title"))
	var cases int
	require.NoError(t, s.Pool.QueryRow(context.Background(), "SELECT count(*) FROM cases.cases").Scan(&cases))
	require.Equal(t, 2, cases, "linking opens no case")
}
