package liaison_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/pkg/authz"
)

const (
	detective  = "det.alvarez@csp.example"
	supervisor = "sgt.brooks@csp.example"
	liaisonOfc = "lt.chen@csp.example"
	cspAdmin   = "admin@csp.example"
	hfdOfc     = "ofc.evans@hartford.example"
	hfdSgt     = "sgt.fox@hartford.example"
	nhDet      = "det.foster@newhaven.example"
	analyst    = "an.garcia@ctic.example"
	fbi        = "sa.harris@fbi.example"
	usss       = "sa.ito@usss.example"
)

func newCase(t *testing.T, s *apptest.System, email, title string) string {
	t.Helper()
	r := s.Do(t, email, "POST", "/v1/cases", map[string]any{"title": title})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	return r.Str("id")
}

func sharingNotes(t *testing.T, s *apptest.System, email, caseID string) []string {
	t.Helper()
	var out []string
	for _, n := range s.Do(t, email, "GET", "/v1/cases/"+caseID+"/notes", nil).List("notes") {
		if n["kind"] == "NOTE_KIND_SHARING" {
			out = append(out, n["body"].(string))
		}
	}
	return out
}

func TestTaskforceShareReachesMembersOnlyAndFollowsMembership(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	ctf := demo.TaskforceID("ctcyber")
	id := newCase(t, s, detective, "Ransomware crew targeting Connecticut hospitals")

	r := s.Do(t, supervisor, "POST", "/v1/cases/"+id+"/participants", map[string]any{
		"taskforceId": ctf, "relation": "RELATION_CONTRIBUTOR", "reason": "Task force case"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, ctf, r.Str("taskforceId"))
	require.ElementsMatch(t, []any{demo.AgencyID("fbi"), demo.AgencyID("usss"), demo.AgencyID("ctic")}, r.Get("memberAgencyIds"))

	// Every member reaches the case…
	for _, who := range []string{fbi, usss, analyst} {
		require.Equal(t, http.StatusOK, s.Do(t, who, "GET", "/v1/cases/"+id, nil).Status, who)
	}
	require.Len(t, s.Do(t, analyst, "GET", "/v1/cases", nil).List("cases"), 1)
	// …and no one else: New Haven and Hartford sit on the committee, not on
	// the Cyber Task Force.
	require.Equal(t, http.StatusNotFound, s.Do(t, nhDet, "GET", "/v1/cases/"+id, nil).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, hfdOfc, "GET", "/v1/cases/"+id, nil).Status)
	require.Empty(t, s.Do(t, nhDet, "GET", "/v1/cases", nil).List("cases"))

	// The share and the agreement's exclusions are in the timeline.
	notes := sharingNotes(t, s, detective, id)
	require.Len(t, notes, 1)
	require.Contains(t, notes[0], "Connecticut Cyber Task Force")
	require.Contains(t, notes[0], "JUVENILE_RECORDS")

	// Removing a member revokes at once.
	rm := s.Do(t, liaisonOfc, "DELETE", "/v1/taskforces/"+ctf+"/members/"+demo.AgencyID("usss"), nil)
	require.Equal(t, http.StatusOK, rm.Status, string(rm.Raw))
	require.Len(t, rm.List("members"), 3) // the task force, without USSS
	require.Equal(t, http.StatusNotFound, s.Do(t, usss, "GET", "/v1/cases/"+id, nil).Status)
	require.Equal(t, http.StatusOK, s.Do(t, fbi, "GET", "/v1/cases/"+id, nil).Status)

	// Adding a member reaches every case shared with the task force at once
	// — capped by the new member's own agreement with the lead: New Haven's
	// allows viewer, so the contributor share gives it viewer.
	end := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	add := s.Do(t, liaisonOfc, "POST", "/v1/taskforces/"+ctf+"/members", map[string]any{
		"agencyId": demo.AgencyID("newhaven"), "endTime": end.Format(time.RFC3339)})
	require.Equal(t, http.StatusOK, add.Status, string(add.Raw))
	g := s.Do(t, nhDet, "GET", "/v1/cases/"+id, nil)
	require.Equal(t, http.StatusOK, g.Status, string(g.Raw))
	require.Equal(t, http.StatusForbidden, s.Do(t, nhDet, "POST", "/v1/cases/"+id+"/notes", map[string]any{"body": "x"}).Status)
	require.Equal(t, http.StatusOK, s.Do(t, analyst, "POST", "/v1/cases/"+id+"/notes", map[string]any{"body": "CTIC: IOCs attached"}).Status)
	// The participants view says so: held contributor, effective viewer,
	// through the task force, until the member's end date, under New
	// Haven's own agreement.
	var nh map[string]any
	for _, p := range s.Do(t, supervisor, "GET", "/v1/cases/"+id+"/participants", nil).List("participants") {
		if p["agencyId"] == demo.AgencyID("newhaven") {
			nh = p
		}
	}
	require.NotNil(t, nh)
	require.Equal(t, "RELATION_CONTRIBUTOR", nh["relation"])
	require.Equal(t, "RELATION_VIEWER", nh["effectiveRelation"])
	require.Equal(t, "Connecticut Cyber Task Force", nh["via"])
	require.Equal(t, demo.AgreementID("newhaven"), nh["agreementId"])
	require.Equal(t, end.Format(time.RFC3339), nh["expireTime"])
	// The membership change is on the case's timeline and in its
	// disclosure report, by whose action.
	notes = sharingNotes(t, s, detective, id)
	require.Contains(t, notes[len(notes)-1], "CT0009300")
	require.Contains(t, notes[len(notes)-1], "now reaches this case as viewer through task force Connecticut Cyber Task Force")
	var found bool
	for _, e := range s.Do(t, "aud.ellis@csp.example", "GET", "/v1/cases/"+id+"/audit?page_size=100", nil).List("events") {
		if e["method"] == "AddTaskforceMember" && e["recipientAgencyId"] == demo.AgencyID("newhaven") {
			found = true
		}
	}
	require.True(t, found, "the member's addition is in the case's disclosure report")

	// Only the sponsor's admins and liaisons manage membership.
	require.Equal(t, http.StatusForbidden, s.Do(t, supervisor, "POST", "/v1/taskforces/"+ctf+"/members",
		map[string]any{"agencyId": demo.AgencyID("hartford")}).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, fbi, "DELETE", "/v1/taskforces/"+ctf+"/members/"+demo.AgencyID("csp"), nil).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, hfdOfc, "GET", "/v1/cases/"+id, nil).Status)

	// Unsharing from the task force ends every member's access.
	del := s.Do(t, supervisor, "DELETE", "/v1/cases/"+id+"/participants/"+ctf, nil)
	require.Equal(t, http.StatusOK, del.Status, string(del.Raw))
	for _, who := range []string{fbi, analyst, nhDet} {
		require.Equal(t, http.StatusNotFound, s.Do(t, who, "GET", "/v1/cases/"+id, nil).Status, who)
	}
	// A later member gets nothing from the ended share.
	require.Equal(t, http.StatusOK, s.Do(t, liaisonOfc, "POST", "/v1/taskforces/"+ctf+"/members",
		map[string]any{"agencyId": demo.AgencyID("usss")}).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, usss, "GET", "/v1/cases/"+id, nil).Status)
}

func TestAgreementLimitsShares(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	id := newCase(t, s, detective, "BEC against a New Haven contractor")

	// Over-broad: the New Haven agreement allows viewer only.
	r := s.Do(t, supervisor, "POST", "/v1/cases/"+id+"/participants", map[string]any{
		"agencyId": demo.AgencyID("newhaven"), "relation": "RELATION_CONTRIBUTOR", "reason": "joint work"})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Equal(t, "FAILED_PRECONDITION", r.Str("status"))
	require.Contains(t, r.Str("message"), "allows at most viewer")
	require.Equal(t, http.StatusNotFound, s.Do(t, nhDet, "GET", "/v1/cases/"+id, nil).Status)
	// The partner cannot loosen the terms by recording its own, newer,
	// broader agreement: the most restrictive active one governs.
	require.NoError(t, authz.PutAgreement(context.Background(), s.Pool, authz.Agreement{ID: uuid.NewString(),
		PartyA: demo.AgencyID("newhaven"), PartyB: demo.AgencyID("csp"), Title: "New Haven terms", MaxRelation: "contributor",
		EffectiveTime: time.Now().Add(-time.Minute)}))
	r = s.Do(t, supervisor, "POST", "/v1/cases/"+id+"/participants", map[string]any{
		"agencyId": demo.AgencyID("newhaven"), "relation": "RELATION_CONTRIBUTOR", "reason": "joint work"})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Contains(t, r.Str("message"), "allows at most viewer")
	// An override does not lift an agreement in force.
	r = s.Do(t, supervisor, "POST", "/v1/cases/"+id+"/participants", map[string]any{
		"agencyId": demo.AgencyID("newhaven"), "relation": "RELATION_CONTRIBUTOR", "reason": "joint work", "overrideReason": "urgent"})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	// Within the agreement it goes through.
	r = s.Do(t, supervisor, "POST", "/v1/cases/"+id+"/participants", map[string]any{
		"agencyId": demo.AgencyID("newhaven"), "relation": "RELATION_VIEWER", "reason": "victim is in New Haven"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, http.StatusOK, s.Do(t, nhDet, "GET", "/v1/cases/"+id, nil).Status)

	// The same with a task force: the committee's terms allow viewer only.
	r = s.Do(t, supervisor, "POST", "/v1/cases/"+id+"/participants", map[string]any{
		"taskforceId": demo.TaskforceID("cybercommittee"), "relation": "RELATION_CONTRIBUTOR", "reason": "x"})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Contains(t, r.Str("message"), "allows at most viewer")

	// An expired agreement blocks a new share. The FBI agreement is ended
	// by its recording agency's liaison officer.
	ag := s.Do(t, liaisonOfc, "GET", "/v1/agreements/"+demo.AgreementID("fbi"), nil)
	require.Equal(t, http.StatusOK, ag.Status, string(ag.Raw))
	require.Equal(t, true, ag.Get("active"))
	ended := s.Do(t, liaisonOfc, "PATCH", "/v1/agreements/"+demo.AgreementID("fbi")+"?update_mask=expireTime", map[string]any{
		"expireTime": time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339), "etag": ag.Str("etag")})
	require.Equal(t, http.StatusOK, ended.Status, string(ended.Raw))
	r = s.Do(t, supervisor, "POST", "/v1/cases/"+id+"/participants", map[string]any{
		"agencyId": demo.AgencyID("fbi"), "relation": "RELATION_VIEWER", "reason": "x"})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Equal(t, "overrideReason", r.Get("details").([]any)[0].(map[string]any)["field"])
	require.Contains(t, r.Str("message"), "expired on")
	require.Equal(t, http.StatusNotFound, s.Do(t, fbi, "GET", "/v1/cases/"+id, nil).Status)

	// Exactly one of agencyId and taskforceId.
	r = s.Do(t, supervisor, "POST", "/v1/cases/"+id+"/participants", map[string]any{
		"agencyId": demo.AgencyID("fbi"), "taskforceId": demo.TaskforceID("ctcyber"), "relation": "RELATION_VIEWER", "reason": "x"})
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, "agencyId", r.Get("details").([]any)[0].(map[string]any)["field"])
}

func TestShareWithoutAgreementNeedsOverride(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	// Hartford and New Haven have no agreement with each other.
	id := newCase(t, s, hfdOfc, "Skimmers at Hartford and New Haven gas stations")
	body := map[string]any{"agencyId": demo.AgencyID("newhaven"), "relation": "RELATION_VIEWER", "reason": "same crew"}
	r := s.Do(t, hfdSgt, "POST", "/v1/cases/"+id+"/participants", body)
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Contains(t, r.Str("message"), "overrideReason")
	require.Equal(t, http.StatusNotFound, s.Do(t, nhDet, "GET", "/v1/cases/"+id, nil).Status)

	body["overrideReason"] = "Suspects active tonight; MOU pending signature"
	r = s.Do(t, hfdSgt, "POST", "/v1/cases/"+id+"/participants", body)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, http.StatusOK, s.Do(t, nhDet, "GET", "/v1/cases/"+id, nil).Status)
	notes := sharingNotes(t, s, hfdOfc, id)
	require.Len(t, notes, 1)
	require.Contains(t, notes[0], "override: Suspects active tonight; MOU pending signature")

	var purpose string
	require.NoError(t, s.Pool.QueryRow(context.Background(), `SELECT purpose FROM audit.events
		WHERE case_id = $1 AND recipient_agency_id = $2 AND outcome = 'ALLOWED'`, id, demo.AgencyID("newhaven")).Scan(&purpose))
	require.Contains(t, purpose, "override: Suspects active tonight")
}

func TestContactsEditableByOwnAdminsAndLiaisonsOnly(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	csp := demo.AgencyID("csp")
	hfd := demo.AgencyID("hartford")

	// Everyone reads every agency's contacts.
	l := s.Do(t, nhDet, "GET", "/v1/agencies/"+csp+"/contacts", nil)
	require.Equal(t, http.StatusOK, l.Status, string(l.Raw))
	require.Len(t, l.List("contacts"), 2)
	require.Equal(t, "860-555-0199", l.List("contacts")[0]["dutyPhone"])

	c := map[string]any{"name": "Det. Pat Quinn", "title": "On-call investigator", "phone": "860-555-0177",
		"email": "p.quinn@csp.example", "dutyPhone": "860-555-0199", "topics": []string{"sextortion"}}
	rid := uuid.NewString()
	created := s.Do(t, liaisonOfc, "POST", "/v1/agencies/"+csp+"/contacts?request_id="+rid, c)
	require.Equal(t, http.StatusOK, created.Status, string(created.Raw))
	cid := created.Str("id")
	again := s.Do(t, liaisonOfc, "POST", "/v1/agencies/"+csp+"/contacts?request_id="+rid, c)
	require.Equal(t, cid, again.Str("id"))
	require.Len(t, s.Do(t, fbi, "GET", "/v1/agencies/"+csp+"/contacts", nil).List("contacts"), 3)

	// A detective of the agency, and another agency's admin or liaison, may not.
	for _, who := range []string{detective, supervisor} {
		require.Equal(t, http.StatusForbidden, s.Do(t, who, "POST", "/v1/agencies/"+csp+"/contacts", c).Status, who)
		require.Equal(t, http.StatusForbidden, s.Do(t, who, "PATCH", "/v1/agencies/"+csp+"/contacts/"+cid,
			map[string]any{"title": "x"}).Status, who)
		require.Equal(t, http.StatusForbidden, s.Do(t, who, "DELETE", "/v1/agencies/"+csp+"/contacts/"+cid, nil).Status, who)
	}
	hc := s.Do(t, nhDet, "GET", "/v1/agencies/"+hfd+"/contacts", nil).List("contacts")
	require.Len(t, hc, 1)
	hid := hc[0]["id"].(string)
	require.Equal(t, http.StatusForbidden, s.Do(t, cspAdmin, "PATCH", "/v1/agencies/"+hfd+"/contacts/"+hid,
		map[string]any{"title": "x"}).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, cspAdmin, "POST", "/v1/agencies/"+hfd+"/contacts", c).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, fbi, "DELETE", "/v1/agencies/"+hfd+"/contacts/"+hid, nil).Status)
	// Nothing changed.
	require.Len(t, s.Do(t, nhDet, "GET", "/v1/agencies/"+hfd+"/contacts", nil).List("contacts"), 1)

	// The agency's admin edits with the etag; a stale etag is refused.
	etag := created.Str("etag")
	u := s.Do(t, cspAdmin, "PATCH", "/v1/agencies/"+csp+"/contacts/"+cid, map[string]any{"title": "Night desk", "etag": etag})
	require.Equal(t, http.StatusOK, u.Status, string(u.Raw))
	require.Equal(t, "Night desk", u.Str("title"))
	require.Equal(t, "p.quinn@csp.example", u.Str("email"))
	require.Equal(t, http.StatusConflict, s.Do(t, cspAdmin, "PATCH", "/v1/agencies/"+csp+"/contacts/"+cid,
		map[string]any{"title": "x", "etag": etag}).Status)
	bad := s.Do(t, cspAdmin, "POST", "/v1/agencies/"+csp+"/contacts", map[string]any{"name": "x", "email": "not-an-email"})
	require.Equal(t, http.StatusBadRequest, bad.Status)
	require.Equal(t, http.StatusOK, s.Do(t, cspAdmin, "DELETE", "/v1/agencies/"+csp+"/contacts/"+cid, nil).Status)
	require.Len(t, s.Do(t, fbi, "GET", "/v1/agencies/"+csp+"/contacts", nil).List("contacts"), 2)
}

func TestEngagementsVisibleToInvolvedAndOverdueListed(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	past := time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)
	future := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
	mk := func(email, summary, due string, agencies ...string) string {
		t.Helper()
		body := map[string]any{"agencyIds": agencies, "channel": "CHANNEL_MEETING", "summary": summary}
		if due != "" {
			body["followUpDueTime"] = due
		}
		r := s.Do(t, email, "POST", "/v1/engagements", body)
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		return r.Str("id")
	}
	overdue := mk(liaisonOfc, "Quarterly sync with FBI cyber squad", past, demo.AgencyID("fbi"))
	later := mk(liaisonOfc, "USSS crypto tracing training", future, demo.AgencyID("usss"))
	none := mk(detective, "Call with Hartford about skimmers", "", demo.AgencyID("hartford"))

	ids := func(r *apptest.Response) []string {
		var out []string
		for _, e := range r.List("engagements") {
			out = append(out, e["id"].(string))
		}
		return out
	}
	require.ElementsMatch(t, []string{overdue, later, none}, ids(s.Do(t, supervisor, "GET", "/v1/engagements", nil)))
	require.Equal(t, []string{overdue}, ids(s.Do(t, liaisonOfc, "GET", "/v1/engagements?view=overdue", nil)))
	// The FBI sees its own engagement with the unit, overdue too; USSS sees
	// only its own; New Haven, not involved, sees nothing.
	require.Equal(t, []string{overdue}, ids(s.Do(t, fbi, "GET", "/v1/engagements?view=overdue", nil)))
	require.Equal(t, []string{later}, ids(s.Do(t, usss, "GET", "/v1/engagements", nil)))
	require.Empty(t, ids(s.Do(t, nhDet, "GET", "/v1/engagements", nil)))
	require.Equal(t, http.StatusNotFound, s.Do(t, nhDet, "GET", "/v1/engagements/"+overdue, nil).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, fbi, "PATCH", "/v1/engagements/"+overdue,
		map[string]any{"followUpDone": true}).Status)

	// Completing the follow-up takes it off the overdue list.
	done := s.Do(t, liaisonOfc, "PATCH", "/v1/engagements/"+overdue, map[string]any{"followUpDone": true})
	require.Equal(t, http.StatusOK, done.Status, string(done.Raw))
	require.Empty(t, ids(s.Do(t, liaisonOfc, "GET", "/v1/engagements?view=overdue", nil)))
	require.Equal(t, http.StatusBadRequest, s.Do(t, liaisonOfc, "GET", "/v1/engagements?view=late", nil).Status)
}

func TestDemoTaskforcesAgreementsAndLiaisons(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	tfs := s.Do(t, nhDet, "GET", "/v1/taskforces", nil)
	require.Equal(t, http.StatusOK, tfs.Status, string(tfs.Raw))
	require.Len(t, tfs.List("taskforces"), 2)
	byName := map[string]int{}
	for _, tf := range tfs.List("taskforces") {
		byName[tf["name"].(string)] = len(tf["members"].([]any))
	}
	require.Equal(t, map[string]int{"Connecticut Cyber Task Force": 4, "Connecticut Cyber Security Committee": 4}, byName)
	require.Len(t, s.Do(t, nhDet, "GET", "/v1/agreements", nil).List("agreements"), 7)

	chk := s.Do(t, supervisor, "GET", "/v1/agreements:check?partner_agency_id="+demo.AgencyID("ctic"), nil)
	require.Equal(t, http.StatusOK, chk.Status, string(chk.Raw))
	require.Equal(t, "RELATION_CONTRIBUTOR", chk.Str("terms.maxRelation"))
	require.Equal(t, []any{"DATA_CATEGORY_VICTIM_PII", "DATA_CATEGORY_INFORMANT_IDENTITY"}, chk.Get("terms.excludedCategories"))
	// The agreement binds both directions.
	require.Equal(t, "RELATION_CONTRIBUTOR", s.Do(t, fbi, "GET", "/v1/agreements:check?partner_agency_id="+demo.AgencyID("csp"), nil).Str("terms.maxRelation"))

	l := s.Do(t, fbi, "GET", "/v1/agencies/"+demo.AgencyID("csp")+"/liaisons", nil)
	require.Equal(t, http.StatusOK, l.Status, string(l.Raw))
	require.Len(t, l.List("liaisons"), 3)
	// Only admins assign, and only liaison officers can be assigned.
	body := map[string]any{"userId": demo.UserID(detective), "partnerAgencyId": demo.AgencyID("hartford")}
	require.Equal(t, http.StatusForbidden, s.Do(t, liaisonOfc, "POST", "/v1/agencies/"+demo.AgencyID("csp")+"/liaisons", body).Status)
	bad := s.Do(t, cspAdmin, "POST", "/v1/agencies/"+demo.AgencyID("csp")+"/liaisons", body)
	require.Equal(t, http.StatusBadRequest, bad.Status, string(bad.Raw))
	body["userId"] = demo.UserID(liaisonOfc)
	require.Equal(t, http.StatusOK, s.Do(t, cspAdmin, "POST", "/v1/agencies/"+demo.AgencyID("csp")+"/liaisons", body).Status)

	// A municipal department joins task forces but does not convene them.
	require.Equal(t, http.StatusForbidden, s.Do(t, hfdSgt, "POST", "/v1/taskforces", map[string]any{"name": "x"}).Status)
	n := s.Do(t, fbi, "POST", "/v1/taskforces", map[string]any{"name": "Crypto ATM Working Group",
		"members": []map[string]any{{"agencyId": demo.AgencyID("fbi")}, {"agencyId": demo.AgencyID("usss")}}})
	require.Equal(t, http.StatusOK, n.Status, string(n.Raw))
	require.Equal(t, demo.AgencyID("fbi"), n.Str("sponsorAgencyId"))
	require.Len(t, n.List("members"), 2)
}
