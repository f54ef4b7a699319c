package referrals_test

import (
	"context"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
)

const (
	newHavenSgt = "sgt.nolan@newhaven.example"
	cspAuditor  = "aud.ellis@csp.example"
)

func referCase(t *testing.T, s *apptest.System, to string) (caseID, refID string) {
	t.Helper()
	caseID = ok(t, s.Do(t, cspDetective, "POST", "/v1/cases", map[string]any{"title": "Skimming crew"})).Str("id")
	r := ok(t, s.Do(t, cspLiaison, "POST", "/v1/referrals", map[string]any{
		"kind": "REFERRAL_KIND_REFERRAL", "toAgencyId": demo.AgencyID(to), "caseId": caseID, "summary": "Suspects live in town",
		"caseReferral": map[string]any{"reason": "REFERRAL_REASON_OTHER", "shareRelation": "SHARE_RELATION_CONTRIBUTOR",
			"package": map[string]any{"includeSummary": true}}}))
	require.Regexp(t, regexp.MustCompile(`^CTCSP0000-\d{4}-R\d{6}$`), r.Str("referralNumber"))
	return caseID, r.Str("id")
}

func participant(t *testing.T, s *apptest.System, caseID, agencyID string) map[string]any {
	t.Helper()
	for _, p := range ok(t, s.Do(t, cspSupervisor, "GET", "/v1/cases/"+caseID+"/participants", nil)).List("participants") {
		if p["agencyId"] == agencyID {
			return p
		}
	}
	t.Fatalf("no participant %s", agencyID)
	return nil
}

// A referral cannot give more than a direct share may: under the
// CSP–New Haven agreement (viewer at most) an accepted contributor referral
// leaves New Haven a viewer.
func TestReferralIsCappedByAgreement(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	caseID, id := referCase(t, s, "newhaven")
	ok(t, act(s, t, cspLiaison, id, "submit", nil))
	ok(t, act(s, t, newHavenSgt, id, "acknowledge", nil))
	acc := ok(t, act(s, t, newHavenSgt, id, "accept", nil))
	number := acc.Str("referralNumber")

	require.Equal(t, http.StatusOK, s.Do(t, newHaven, "GET", "/v1/cases/"+caseID, nil).Status)
	note := s.Do(t, newHaven, "POST", "/v1/cases/"+caseID+"/notes", map[string]any{"body": "NHPD: suspect vehicle seen"})
	require.Equal(t, http.StatusForbidden, note.Status, string(note.Raw))

	p := participant(t, s, caseID, demo.AgencyID("newhaven"))
	require.Equal(t, "RELATION_CONTRIBUTOR", p["relation"])
	require.Equal(t, "RELATION_VIEWER", p["effectiveRelation"])
	require.Equal(t, "referral "+number, p["via"])
	require.Equal(t, demo.AgreementID("newhaven"), p["agreementId"])
	require.NotContains(t, p["via"], "referral:")
}

// Without an agreement in force (CSP–Hartford's lapsed) a referral needs
// the supervisor's overrideReason at submission, and carries it.
func TestReferralWithoutAgreementNeedsOverride(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	caseID, id := referCase(t, s, "hartford")
	r := act(s, t, cspLiaison, id, "submit", nil)
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Equal(t, "overrideReason", r.Get("details").([]any)[0].(map[string]any)["field"])
	require.Contains(t, r.Str("message"), "expired on 2026-06-30")
	got := ok(t, s.Do(t, cspLiaison, "GET", "/v1/referrals/"+id, nil))
	require.Equal(t, "REFERRAL_STATE_DRAFT", got.Str("state"))
	require.Equal(t, http.StatusNotFound, s.Do(t, hartfordSgt, "GET", "/v1/referrals/"+id, nil).Status)

	ok(t, act(s, t, cspLiaison, id, "submit", map[string]any{"overrideReason": "Victims are Hartford residents; MOU renewal pending"}))
	ok(t, act(s, t, hartfordSgt, id, "acknowledge", nil))
	ok(t, act(s, t, hartfordSgt, id, "accept", nil))
	ok(t, s.Do(t, hartfordOfficer, "POST", "/v1/cases/"+caseID+"/notes", map[string]any{"body": "HPD: victim interviews done"}))

	p := participant(t, s, caseID, demo.AgencyID("hartford"))
	require.Equal(t, "RELATION_CONTRIBUTOR", p["effectiveRelation"])
	require.Equal(t, "Victims are Hartford residents; MOU renewal pending", p["overrideReason"])
	require.Empty(t, p["agreementId"])

	var purpose string
	require.NoError(t, s.Pool.QueryRow(context.Background(), `SELECT purpose FROM audit.events
		WHERE method = 'SubmitReferral' AND recipient_agency_id = $1 AND outcome = 'ALLOWED'`, demo.AgencyID("hartford")).Scan(&purpose))
	require.Contains(t, purpose, "override: Victims are Hartford residents")
	// The lead's disclosure report names the acceptance that gave Hartford the case.
	var accepted bool
	for _, e := range ok(t, s.Do(t, cspAuditor, "GET", "/v1/cases/"+caseID+"/audit?page_size=100", nil)).List("events") {
		if e["method"] == "AcceptReferral" && e["recipientAgencyId"] == demo.AgencyID("hartford") {
			accepted = true
		}
	}
	require.True(t, accepted)
}
