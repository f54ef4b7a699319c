package liaison_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
)

// A task force sponsored by another agency than the case's lead: the
// sponsor's membership changes reach the lead's case only under
// MEMBERSHIP_FOLLOW, and each change shows in the case's disclosure report.
func TestSponsorOtherThanLeadFollowAndSnapshot(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	tf := s.Do(t, fbi, "POST", "/v1/taskforces", map[string]any{"name": "FBI New Haven Cyber Task Force",
		"members": []map[string]any{{"agencyId": demo.AgencyID("fbi")}}})
	require.Equal(t, http.StatusOK, tf.Status, string(tf.Raw))
	tfID := tf.Str("id")
	follow := newCase(t, s, detective, "BEC ring (follow)")
	snapshot := newCase(t, s, detective, "BEC ring (snapshot)")

	// CSP has no agreement with the FBI's task force: a share needs an
	// override.
	body := map[string]any{"taskforceId": tfID, "relation": "RELATION_CONTRIBUTOR", "reason": "federal nexus"}
	r := s.Do(t, supervisor, "POST", "/v1/cases/"+follow+"/participants", body)
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Equal(t, "overrideReason", r.Get("details").([]any)[0].(map[string]any)["field"])
	body["overrideReason"] = "FBI task force MOU in signature"
	r = s.Do(t, supervisor, "POST", "/v1/cases/"+follow+"/participants", body)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, "MEMBERSHIP_FOLLOW", r.Str("membership"))
	require.Equal(t, []any{demo.AgencyID("fbi")}, r.Get("memberAgencyIds"))
	body["membership"] = "MEMBERSHIP_SNAPSHOT"
	r = s.Do(t, supervisor, "POST", "/v1/cases/"+snapshot+"/participants", body)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, "MEMBERSHIP_SNAPSHOT", r.Str("membership"))
	for _, id := range []string{follow, snapshot} {
		require.Equal(t, http.StatusOK, s.Do(t, fbi, "GET", "/v1/cases/"+id, nil).Status)
		require.Equal(t, http.StatusNotFound, s.Do(t, usss, "GET", "/v1/cases/"+id, nil).Status)
	}

	// The FBI adds USSS: it reaches the follow case, not the snapshot one.
	add := s.Do(t, fbi, "POST", "/v1/taskforces/"+tfID+"/members", map[string]any{"agencyId": demo.AgencyID("usss")})
	require.Equal(t, http.StatusOK, add.Status, string(add.Raw))
	require.Equal(t, http.StatusOK, s.Do(t, usss, "GET", "/v1/cases/"+follow, nil).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, usss, "GET", "/v1/cases/"+snapshot, nil).Status)
	listed := s.Do(t, usss, "GET", "/v1/cases", nil).List("cases")
	require.Len(t, listed, 1)
	require.Equal(t, follow, listed[0]["id"])

	// The lead's disclosure report shows the sponsor's action on the follow
	// case only; the lead's timeline names it.
	addedBy := func(caseID string) bool {
		for _, e := range s.Do(t, "aud.ellis@csp.example", "GET", "/v1/cases/"+caseID+"/audit?page_size=100", nil).List("events") {
			if e["method"] == "AddTaskforceMember" && e["userEmail"] == fbi && e["recipientAgencyId"] == demo.AgencyID("usss") {
				return true
			}
		}
		return false
	}
	require.True(t, addedBy(follow))
	require.False(t, addedBy(snapshot))
	notes := sharingNotes(t, s, detective, follow)
	require.Contains(t, notes[len(notes)-1], "CTUSSS000")
	require.Contains(t, notes[len(notes)-1], "membership changed by "+fbi)

	// Removed, it loses the case on the next request, and that is recorded too.
	rm := s.Do(t, fbi, "DELETE", "/v1/taskforces/"+tfID+"/members/"+demo.AgencyID("usss"), nil)
	require.Equal(t, http.StatusOK, rm.Status, string(rm.Raw))
	require.Equal(t, http.StatusNotFound, s.Do(t, usss, "GET", "/v1/cases/"+follow, nil).Status)
	notes = sharingNotes(t, s, detective, follow)
	require.Contains(t, notes[len(notes)-1], "no longer reaches this case")
}

// Ending an agreement early revokes what it governed when its expireTime
// passes: no sweep, the partner's next request decides.
func TestAgreementEndedEarlyRevokesOnNextRequest(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	id := newCase(t, s, detective, "Phishing kit sold to Connecticut crews")
	r := s.Do(t, supervisor, "POST", "/v1/cases/"+id+"/participants", map[string]any{
		"agencyId": demo.AgencyID("ctic"), "relation": "RELATION_CONTRIBUTOR", "reason": "fusion center analysis"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, demo.AgreementID("ctic"), r.Str("agreementId"))
	require.Equal(t, http.StatusOK, s.Do(t, analyst, "GET", "/v1/cases/"+id, nil).Status)

	ag := s.Do(t, liaisonOfc, "GET", "/v1/agreements/"+demo.AgreementID("ctic"), nil)
	end := time.Now().Add(2 * time.Second).UTC()
	p := s.Do(t, liaisonOfc, "PATCH", "/v1/agreements/"+demo.AgreementID("ctic")+"?update_mask=expireTime", map[string]any{
		"expireTime": end.Format(time.RFC3339Nano), "etag": ag.Str("etag")})
	require.Equal(t, http.StatusOK, p.Status, string(p.Raw))
	require.Equal(t, http.StatusOK, s.Do(t, analyst, "GET", "/v1/cases/"+id, nil).Status)
	time.Sleep(time.Until(end) + 200*time.Millisecond)
	require.Equal(t, http.StatusNotFound, s.Do(t, analyst, "GET", "/v1/cases/"+id, nil).Status)
	require.Empty(t, s.Do(t, analyst, "GET", "/v1/cases", nil).List("cases"))
	// The grant stays recorded; it counts for nothing without an agreement
	// or an override.
	for _, pt := range s.Do(t, supervisor, "GET", "/v1/cases/"+id+"/participants", nil).List("participants") {
		if pt["agencyId"] == demo.AgencyID("ctic") {
			require.Equal(t, "RELATION_CONTRIBUTOR", pt["relation"])
			require.Equal(t, "RELATION_UNSPECIFIED", pt["effectiveRelation"])
		}
	}
}
