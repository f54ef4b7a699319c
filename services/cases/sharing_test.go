package cases_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/pkg/authz"
)

const (
	analyst = "an.garcia@ctic.example"
	auditor = "aud.ellis@csp.example"
	newHvn  = "det.foster@newhaven.example"
	hfdSgt  = "sgt.fox@hartford.example"
)

// share shares the case as CSP's supervisor; with Hartford, whose demo
// agreement with CSP has lapsed, it gives the override a share then needs.
func share(t *testing.T, s *apptest.System, caseID, agencyKey, relation string) *apptest.Response {
	t.Helper()
	body := map[string]any{"agencyId": demo.AgencyID(agencyKey), "relation": relation, "reason": "joint investigation"}
	if agencyKey == "hartford" {
		body["overrideReason"] = "victim business in Hartford; MOU renewal pending"
	}
	return s.Do(t, supervisor, "POST", "/v1/cases/"+caseID+"/participants", body)
}

func TestSharingGrantsAndRevokesAtOnce(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := createCase(t, s, detective, map[string]any{"title": "Interstate BEC ring", "summary": "wire to Ohio"})
	id := c.Str("id")

	// Only supervisors of the lead agency share.
	require.Equal(t, http.StatusForbidden, s.Do(t, detective, "POST", "/v1/cases/"+id+"/participants",
		map[string]any{"agencyId": demo.AgencyID("hartford"), "relation": "RELATION_CONTRIBUTOR", "reason": "x"}).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, hfdSgt, "POST", "/v1/cases/"+id+"/participants",
		map[string]any{"agencyId": demo.AgencyID("hartford"), "relation": "RELATION_CONTRIBUTOR", "reason": "x"}).Status)
	bad := s.Do(t, supervisor, "POST", "/v1/cases/"+id+"/participants",
		map[string]any{"agencyId": demo.AgencyID("hartford"), "relation": "RELATION_LEAD", "reason": "x"})
	require.Equal(t, http.StatusBadRequest, bad.Status)
	require.Equal(t, "relation", bad.Get("details").([]any)[0].(map[string]any)["field"])

	require.Equal(t, http.StatusNotFound, s.Do(t, hartford, "GET", "/v1/cases/"+id, nil).Status)
	r := share(t, s, id, "hartford", "RELATION_CONTRIBUTOR")
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, "CT0006400", r.Str("agencyOri"))

	// The contributor reads, lists, and writes notes.
	require.Equal(t, http.StatusOK, s.Do(t, hartford, "GET", "/v1/cases/"+id, nil).Status)
	require.Len(t, s.Do(t, hartford, "GET", "/v1/cases", nil).List("cases"), 1)
	n := s.Do(t, hartford, "POST", "/v1/cases/"+id+"/notes", map[string]any{"body": "Victim is a Hartford business"})
	require.Equal(t, http.StatusOK, n.Status, string(n.Raw))
	require.Equal(t, "CT0006400", n.Str("agencyOri"))
	// …but cannot close it or share it further.
	require.Equal(t, http.StatusForbidden, s.Do(t, hfdSgt, "POST", "/v1/cases/"+id+":close", map[string]any{"reason": "x"}).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, hfdSgt, "POST", "/v1/cases/"+id+"/participants",
		map[string]any{"agencyId": demo.AgencyID("newhaven"), "relation": "RELATION_VIEWER", "reason": "x"}).Status)
	// New Haven still sees nothing.
	require.Equal(t, http.StatusNotFound, s.Do(t, newHvn, "GET", "/v1/cases/"+id, nil).Status)
	require.Empty(t, s.Do(t, newHvn, "GET", "/v1/cases", nil).List("cases"))

	// A viewer reads but writes nothing.
	require.Equal(t, http.StatusOK, share(t, s, id, "ctic", "RELATION_VIEWER").Status)
	require.Equal(t, http.StatusOK, s.Do(t, analyst, "GET", "/v1/cases/"+id+"/notes", nil).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, analyst, "POST", "/v1/cases/"+id+"/notes", map[string]any{"body": "x"}).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, analyst, "PATCH", "/v1/cases/"+id, map[string]any{"title": "x"}).Status)

	parts := s.Do(t, supervisor, "GET", "/v1/cases/"+id+"/participants", nil).List("participants")
	require.Len(t, parts, 3)

	// Unshare: the very next request is refused.
	del := s.Do(t, supervisor, "DELETE", "/v1/cases/"+id+"/participants/"+demo.AgencyID("hartford")+"?reason=closed+out", nil)
	require.Equal(t, http.StatusOK, del.Status, string(del.Raw))
	require.Equal(t, http.StatusNotFound, s.Do(t, hartford, "GET", "/v1/cases/"+id, nil).Status)
	require.Empty(t, s.Do(t, hartford, "GET", "/v1/cases", nil).List("cases"))
	require.Equal(t, http.StatusNotFound, s.Do(t, supervisor, "DELETE", "/v1/cases/"+id+"/participants/"+demo.AgencyID("hartford"), nil).Status)

	// Shares and unshares are in the timeline.
	var sharing []string
	for _, e := range s.Do(t, detective, "GET", "/v1/cases/"+id+"/notes", nil).List("notes") {
		if e["kind"] == "NOTE_KIND_SHARING" {
			sharing = append(sharing, e["body"].(string))
		}
	}
	require.Len(t, sharing, 3)
	require.Contains(t, sharing[0], "CT0006400")
	require.Contains(t, sharing[2], "Unshared from CT0006400: closed out")
}

func TestExpiredShareStopsAtOnce(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := createCase(t, s, detective, map[string]any{"title": "short loan"})
	id := c.Str("id")
	in := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r := s.Do(t, supervisor, "POST", "/v1/cases/"+id+"/participants", map[string]any{
		"agencyId": demo.AgencyID("fbi"), "relation": "RELATION_VIEWER", "reason": "review", "expireTime": in})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, http.StatusOK, s.Do(t, fbi, "GET", "/v1/cases/"+id, nil).Status)
	// Time passes (moved in SQL): the share lapses with no cache in between.
	lapsed := time.Now().Add(-time.Second)
	n, err := authz.ChangeExpiry(context.Background(), s.Pool, nil, authz.RevokeRequest{Resource: authz.Resource{Type: "case", ID: id},
		AgencyID: demo.AgencyID("fbi"), Relations: []string{authz.RelViewer}}, &lapsed)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	require.Equal(t, http.StatusNotFound, s.Do(t, fbi, "GET", "/v1/cases/"+id, nil).Status)
	require.Empty(t, s.Do(t, fbi, "GET", "/v1/cases", nil).List("cases"))

	past := s.Do(t, supervisor, "POST", "/v1/cases/"+id+"/participants", map[string]any{
		"agencyId": demo.AgencyID("fbi"), "relation": "RELATION_VIEWER", "reason": "x", "expireTime": "2020-01-01T00:00:00Z"})
	require.Equal(t, http.StatusBadRequest, past.Status)
	require.Equal(t, "expireTime", past.Get("details").([]any)[0].(map[string]any)["field"])
}

func TestRequesterSeesStatusNotNotes(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := createCase(t, s, detective, map[string]any{"title": "Hartford asked for help", "summary": "ransomware at city hall"})
	id := c.Str("id")
	require.Equal(t, http.StatusOK, s.Do(t, detective, "POST", "/v1/cases/"+id+"/notes", map[string]any{"body": "informant codename bluebird"}).Status)
	_, err := authz.Grant(context.Background(), s.Pool, nil, authz.GrantRequest{
		Resource: authz.Resource{Type: "case", ID: id}, AgencyID: demo.AgencyID("hartford"), Relation: authz.RelRequester})
	require.NoError(t, err)

	g := s.Do(t, hartford, "GET", "/v1/cases/"+id, nil)
	require.Equal(t, http.StatusOK, g.Status)
	require.Equal(t, "STATUS_OPEN", g.Str("status"))
	require.Equal(t, http.StatusForbidden, s.Do(t, hartford, "GET", "/v1/cases/"+id+"/notes", nil).Status)
	// Full-text search does not reach notes the requester may not read…
	require.Empty(t, s.Do(t, hartford, "GET", "/v1/cases?filter=bluebird", nil).List("cases"))
	// …while the summary is searchable, and the lead finds the note.
	require.Len(t, s.Do(t, hartford, "GET", "/v1/cases?filter=ransomware", nil).List("cases"), 1)
	require.Len(t, s.Do(t, detective, "GET", "/v1/cases?filter=bluebird", nil).List("cases"), 1)
}

func TestExplainAccess(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := createCase(t, s, detective, map[string]any{"title": "explain me"})
	id := c.Str("id")
	// Own agency: explained. Another agency's user while that agency holds
	// nothing on the case: exactly like an unknown e-mail (no enumeration).
	e := s.Do(t, supervisor, "GET", "/v1/cases/"+id+":explainAccess?email=ev.diaz@csp.example&permission=case.close", nil)
	require.Equal(t, http.StatusOK, e.Status, string(e.Raw))
	require.Equal(t, false, e.Get("allowed"))
	require.Equal(t, true, e.Get("visible"))
	unknown := s.Do(t, supervisor, "GET", "/v1/cases/"+id+":explainAccess?email=nobody@nowhere.example", nil)
	require.Equal(t, http.StatusBadRequest, unknown.Status)
	e = s.Do(t, supervisor, "GET", "/v1/cases/"+id+":explainAccess?email=sa.harris@fbi.example", nil)
	require.Equal(t, unknown.Status, e.Status)
	require.Equal(t, unknown.Str("message"), e.Str("message"))
	require.Equal(t, unknown.Get("details"), e.Get("details"))

	require.Equal(t, http.StatusOK, share(t, s, id, "fbi", "RELATION_CONTRIBUTOR").Status)
	e = s.Do(t, auditor, "GET", "/v1/cases/"+id+":explainAccess?email=sa.harris@fbi.example&permission=case.read", nil)
	require.Equal(t, http.StatusOK, e.Status, string(e.Raw))
	require.Equal(t, true, e.Get("allowed"))
	require.Equal(t, []any{"contributor"}, e.Get("relations"))
	require.Equal(t, "FEDERAL", e.Str("agencyKind"))
	require.NotEmpty(t, e.Get("matchedPolicyLines"))
	e = s.Do(t, supervisor, "GET", "/v1/cases/"+id+":explainAccess?email=sa.harris@fbi.example&permission=note.create", nil)
	require.Equal(t, false, e.Get("allowed"))
	require.Equal(t, true, e.Get("visible"))

	// Only the lead's supervisors and auditors ask; others learn nothing.
	require.Equal(t, http.StatusForbidden, s.Do(t, detective, "GET", "/v1/cases/"+id+":explainAccess?email=sa.harris@fbi.example", nil).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, hfdSgt, "GET", "/v1/cases/"+id+":explainAccess?email=sa.harris@fbi.example", nil).Status)
	require.Equal(t, http.StatusBadRequest, s.Do(t, supervisor, "GET", "/v1/cases/"+id+":explainAccess?email=sa.harris@fbi.example&permission=case.fly", nil).Status)
}
