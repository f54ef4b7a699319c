package evidence_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/pkg/auth/devissuer"
)

const (
	detective    = "det.alvarez@csp.example"
	supervisor   = "sgt.brooks@csp.example"
	custodian    = "ev.diaz@csp.example"
	hartford     = "ofc.evans@hartford.example"
	newhaven     = "det.foster@newhaven.example"
	fbiLiaison   = "sa.harris@fbi.example"
	fbiCustodian = "ec.jones@fbi.example" // created by addFBICustodian
)

var (
	imageHash = strings.Repeat("ab", 32)
	copyHash  = strings.Repeat("cd", 32)
)

// setup boots a system and opens a case as the CSP detective.
func setup(t *testing.T) (*apptest.System, string, string) {
	t.Helper()
	s := apptest.Start(t)
	r := s.Do(t, detective, "POST", "/v1/cases", map[string]any{"title": "Ransomware at Hartford clinic"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	return s, r.Str("id"), r.Str("caseNumber")
}

func register(t *testing.T, s *apptest.System, email, caseID string, body map[string]any) *apptest.Response {
	t.Helper()
	r := s.Do(t, email, "POST", "/v1/cases/"+caseID+"/evidence", body)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	return r
}

func diskImage() map[string]any {
	return map[string]any{
		"description": "Forensic image of the EHR server system disk",
		"kind":        "KIND_DISK_IMAGE",
		"sha256":      strings.ToUpper(imageHash),
		"md5":         strings.Repeat("0f", 16),
		"sizeBytes":   "512110190592",
		"acquisition": map[string]any{
			"acquireTime": "2026-01-10T14:00:00Z", "method": "dd over hardware write blocker",
			"tool": "FTK Imager", "toolVersion": "4.7.1", "sourceLocation": "Hartford clinic server room",
		},
		"legalAuthority":  map[string]any{"type": "LEGAL_AUTHORITY_TYPE_WARRANT", "identifier": "HFD-CR26-0113", "issuer": "Hartford Superior Court"},
		"storageLocation": "CSP evidence server vault-2:/cases/0001",
	}
}

func custody(t *testing.T, s *apptest.System, email, itemID string, event map[string]any) *apptest.Response {
	t.Helper()
	return s.Do(t, email, "POST", "/v1/evidence/"+itemID+"/custody", event)
}

func mustCustody(t *testing.T, s *apptest.System, email, itemID string, event map[string]any) *apptest.Response {
	t.Helper()
	r := custody(t, s, email, itemID, event)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	return r
}

func verifyChain(t *testing.T, s *apptest.System, email, itemID string) *apptest.Response {
	t.Helper()
	r := s.Do(t, email, "GET", "/v1/evidence/"+itemID+"/custody:verify", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	return r
}

func count(t *testing.T, s *apptest.System, table string) int {
	t.Helper()
	var n int
	require.NoError(t, s.Pool.QueryRow(context.Background(), "SELECT count(*) FROM evidence."+table).Scan(&n))
	return n
}

// addFBICustodian creates an evidence custodian at the FBI field office (the
// demo world has none), bound to the development issuer like demo users.
func addFBICustodian(t *testing.T, s *apptest.System) {
	t.Helper()
	_, err := s.Pool.Exec(context.Background(), `INSERT INTO liaison.users (id, agency_id, issuer, subject, email, display_name, roles)
		VALUES ($1, $2, $3, $4, $4, 'EC Jones', '{evidence_custodian}')`,
		uuid.NewString(), demo.AgencyID("fbi"), devissuer.Name, fbiCustodian)
	require.NoError(t, err)
}

func TestRegisterDeriveTransferVerify(t *testing.T) {
	t.Parallel()
	s, caseID, caseNumber := setup(t)

	img := register(t, s, detective, caseID, diskImage())
	imgID := img.Str("id")
	require.NoError(t, uuid.Validate(imgID))
	require.Equal(t, caseNumber+"-E001", img.Str("exhibitNumber"))
	require.Equal(t, imageHash, img.Str("sha256"), "stored in lower case")
	require.Equal(t, "512110190592", img.Str("sizeBytes"))
	require.Equal(t, "STATUS_IN_CUSTODY", img.Str("status"))
	require.Equal(t, demo.AgencyID("csp"), img.Str("holdingAgencyId"))
	require.Equal(t, detective, img.Str("currentCustodian"))
	require.Equal(t, "1", img.Str("custodyEventCount"))
	require.Equal(t, "LEGAL_AUTHORITY_TYPE_WARRANT", img.Str("legalAuthority.type"))
	require.Equal(t, detective, img.Str("acquisition.acquiredBy"))

	// Derive a working copy from the image.
	wc := register(t, s, detective, caseID, map[string]any{
		"description": "Working copy for analysis", "kind": "KIND_DISK_IMAGE", "sha256": copyHash,
		"sizeBytes": "512110190592", "parentId": imgID,
	})
	require.Equal(t, caseNumber+"-E002", wc.Str("exhibitNumber"))
	require.Equal(t, imgID, wc.Str("parentId"))

	// A parent from another case is refused and nothing is stored.
	other := s.Do(t, detective, "POST", "/v1/cases", map[string]any{"title": "Other case"})
	before := count(t, s, "items")
	r := s.Do(t, detective, "POST", "/v1/cases/"+other.Str("id")+"/evidence", map[string]any{
		"description": "copy", "kind": "KIND_DOCUMENT", "parentId": imgID})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Contains(t, r.Str("message"), "evidence.parentId")
	require.Equal(t, before, count(t, s, "items"))

	g := s.Do(t, detective, "GET", "/v1/evidence/"+imgID, nil)
	require.Equal(t, http.StatusOK, g.Status)
	require.Equal(t, caseNumber+"-E001", g.Str("exhibitNumber"))
	l := s.Do(t, detective, "GET", "/v1/cases/"+caseID+"/evidence?page_size=1", nil)
	require.Len(t, l.List("evidence"), 1)
	require.NotEmpty(t, l.Str("nextPageToken"))
	l2 := s.Do(t, detective, "GET", "/v1/cases/"+caseID+"/evidence?page_size=1&page_token="+l.Str("nextPageToken"), nil)
	require.Equal(t, wc.Str("id"), l2.List("evidence")[0]["id"])
	require.Empty(t, l2.Str("nextPageToken"))

	// Other agencies see nothing: 404 everywhere, as if it did not exist.
	for _, who := range []string{hartford, newhaven} {
		require.Equal(t, http.StatusNotFound, s.Do(t, who, "GET", "/v1/evidence/"+imgID, nil).Status, who)
		require.Equal(t, http.StatusNotFound, s.Do(t, who, "GET", "/v1/cases/"+caseID+"/evidence", nil).Status, who)
		require.Equal(t, http.StatusNotFound, s.Do(t, who, "GET", "/v1/evidence/"+imgID+"/custody", nil).Status, who)
		require.Equal(t, http.StatusNotFound, s.Do(t, who, "GET", "/v1/evidence/"+imgID+"/custody:verify", nil).Status, who)
	}
	// The FBI sees nothing before the case is shared with it.
	require.Equal(t, http.StatusNotFound, s.Do(t, fbiLiaison, "GET", "/v1/evidence/"+imgID, nil).Status)

	// Custody: detectives do not record it; custodians do, in order.
	require.Equal(t, http.StatusForbidden, custody(t, s, detective, imgID, map[string]any{
		"action": "CUSTODY_ACTION_CHECK_OUT", "purpose": "analysis"}).Status)
	r = custody(t, s, custodian, imgID, map[string]any{"action": "CUSTODY_ACTION_CHECK_IN", "purpose": "store"})
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, "FAILED_PRECONDITION", r.Str("status"))
	require.Contains(t, r.Str("message"), "IN_CUSTODY")
	out := mustCustody(t, s, custodian, imgID, map[string]any{"action": "CUSTODY_ACTION_CHECK_OUT",
		"toCustodian": detective, "purpose": "Timeline analysis", "location": "CCIU lab bench 3"})
	require.Equal(t, "2", out.Str("sequence"))
	require.Equal(t, detective, out.Str("fromCustodian"), "defaults to the current custodian")
	require.Equal(t, "STATUS_CHECKED_OUT", out.Str("toStatus"))
	mustCustody(t, s, custodian, imgID, map[string]any{"action": "CUSTODY_ACTION_ANALYSIS", "purpose": "Registry hives extracted"})
	mustCustody(t, s, custodian, imgID, map[string]any{"action": "CUSTODY_ACTION_RETURN", "toCustodian": custodian, "purpose": "Analysis done"})

	// Transfer to the FBI: refused until the case is shared with it.
	transfer := map[string]any{"action": "CUSTODY_ACTION_TRANSFER", "toAgencyId": demo.AgencyID("fbi"),
		"purpose": "Federal prosecution (wire transfer across state lines)", "location": "FedEx 7712"}
	r = custody(t, s, custodian, imgID, transfer)
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Contains(t, r.Str("message"), "CTFBINH00")
	sh := s.Do(t, supervisor, "POST", "/v1/cases/"+caseID+"/participants", map[string]any{
		"agencyId": demo.AgencyID("fbi"), "relation": "RELATION_CONTRIBUTOR", "reason": "Joint investigation",
		"overrideReason": "Federal prosecution pending; agreement in preparation"})
	require.Equal(t, http.StatusOK, sh.Status, string(sh.Raw))
	tr := mustCustody(t, s, custodian, imgID, transfer)
	require.Equal(t, demo.AgencyID("fbi"), tr.Str("holdingAgencyId"))
	require.Equal(t, demo.AgencyID("csp"), tr.Str("fromAgencyId"))
	require.Equal(t, "STATUS_TRANSFERRED", tr.Str("toStatus"))

	// The FBI liaison now reads the item; custody rights moved with it.
	g = s.Do(t, fbiLiaison, "GET", "/v1/evidence/"+imgID, nil)
	require.Equal(t, http.StatusOK, g.Status, string(g.Raw))
	require.Equal(t, "CTFBINH00", g.Str("holdingAgencyOri"))
	r = custody(t, s, custodian, imgID, map[string]any{"action": "CUSTODY_ACTION_CHECK_IN", "purpose": "back"})
	require.Equal(t, http.StatusForbidden, r.Status, string(r.Raw))
	addFBICustodian(t, s)
	in := mustCustody(t, s, fbiCustodian, imgID, map[string]any{"action": "CUSTODY_ACTION_CHECK_IN",
		"purpose": "Received from CSP", "location": "FBI NH evidence room"})
	require.Equal(t, fbiCustodian, in.Str("toCustodian"))
	g = s.Do(t, detective, "GET", "/v1/evidence/"+imgID, nil)
	require.Equal(t, "FBI NH evidence room", g.Str("storageLocation"))
	require.Equal(t, "STATUS_IN_CUSTODY", g.Str("status"))
	// CSP custodians cannot verify an item they no longer hold.
	require.Equal(t, http.StatusForbidden, s.Do(t, custodian, "POST", "/v1/evidence/"+imgID+":verify",
		map[string]any{"sha256": imageHash}).Status)

	// The chain: intake, out, analysis, return, transfer, check-in.
	v := verifyChain(t, s, fbiLiaison, imgID)
	require.Equal(t, true, v.Get("valid"), string(v.Raw))
	require.Equal(t, "6", v.Str("eventCount"))
	evs := s.Do(t, detective, "GET", "/v1/evidence/"+imgID+"/custody", nil).List("events")
	require.Len(t, evs, 6)
	require.Equal(t, "CUSTODY_ACTION_INTAKE", evs[0]["action"])
	require.Equal(t, strings.Repeat("0", 64), evs[0]["prevHash"])
	for i := 1; i < len(evs); i++ {
		require.Equal(t, evs[i-1]["hash"], evs[i]["prevHash"])
	}

	// Integrity: a match, then a mismatch that marks it and writes the timeline.
	ok := s.Do(t, fbiCustodian, "POST", "/v1/evidence/"+imgID+":verify", map[string]any{"sha256": imageHash, "tool": "sha256sum"})
	require.Equal(t, http.StatusOK, ok.Status, string(ok.Raw))
	require.Equal(t, true, ok.Get("check.match"))
	require.Equal(t, false, ok.Get("evidence.compromised"))
	bad := s.Do(t, fbiCustodian, "POST", "/v1/evidence/"+imgID+":verify", map[string]any{"sha256": copyHash, "tool": "sha256sum"})
	require.Equal(t, http.StatusOK, bad.Status, string(bad.Raw))
	require.Equal(t, false, bad.Get("check.match"))
	require.Equal(t, true, bad.Get("evidence.compromised"))
	require.NotEmpty(t, bad.Str("check.timelineNoteId"))
	notes := s.Do(t, detective, "GET", "/v1/cases/"+caseID+"/notes", nil).List("notes")
	var found bool
	for _, n := range notes {
		if strings.Contains(n["body"].(string), "Integrity check FAILED for exhibit "+caseNumber+"-E001") {
			found = true
			require.Equal(t, fbiCustodian, n["authorEmail"])
		}
	}
	require.True(t, found, "timeline note written")
	// A later match does not clear the flag.
	ok = s.Do(t, fbiCustodian, "POST", "/v1/evidence/"+imgID+":verify", map[string]any{"sha256": imageHash})
	require.Equal(t, true, ok.Get("evidence.compromised"))

	// Destruction is final.
	mustCustody(t, s, fbiCustodian, imgID, map[string]any{"action": "CUSTODY_ACTION_DESTRUCTION", "purpose": "Court order 26-114"})
	before = count(t, s, "custody_events")
	r = custody(t, s, fbiCustodian, imgID, map[string]any{"action": "CUSTODY_ACTION_CHECK_OUT", "purpose": "x"})
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Contains(t, r.Str("message"), "DESTROYED")
	require.Equal(t, before, count(t, s, "custody_events"))
}

func TestTamperDetected(t *testing.T) {
	t.Parallel()
	s, caseID, _ := setup(t)
	ctx := context.Background()
	newItem := func() string {
		id := register(t, s, detective, caseID, diskImage()).Str("id")
		mustCustody(t, s, custodian, id, map[string]any{"action": "CUSTODY_ACTION_CHECK_OUT", "purpose": "analysis"})
		for range 3 {
			mustCustody(t, s, custodian, id, map[string]any{"action": "CUSTODY_ACTION_ANALYSIS", "purpose": "carving"})
		}
		require.Equal(t, true, verifyChain(t, s, detective, id).Get("valid"))
		return id
	}
	edited, deleted, truncated := newItem(), newItem(), newItem()

	// The trigger refuses edits, even from a superuser.
	_, err := s.Pool.Exec(ctx, `UPDATE evidence.custody_events SET purpose = 'x' WHERE evidence_id = $1 AND seq = 3`, edited)
	require.ErrorContains(t, err, "append-only")
	_, err = s.Pool.Exec(ctx, `DELETE FROM evidence.custody_events WHERE evidence_id = $1`, edited)
	require.ErrorContains(t, err, "append-only")

	// With the trigger disabled, verification still finds the edit.
	tx, err := s.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `ALTER TABLE evidence.custody_events DISABLE TRIGGER custody_append_only`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE evidence.custody_events SET to_custodian = 'someone else' WHERE evidence_id = $1 AND seq = 3`, edited)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `DELETE FROM evidence.custody_events WHERE evidence_id = $1 AND seq = 2`, deleted)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `DELETE FROM evidence.custody_events WHERE evidence_id = $1 AND seq = 5`, truncated)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `ALTER TABLE evidence.custody_events ENABLE TRIGGER custody_append_only`)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))

	for _, tc := range []struct {
		id, seq, word string
	}{{edited, "3", "edited"}, {deleted, "2", "missing"}, {truncated, "5", "missing"}} {
		v := verifyChain(t, s, detective, tc.id)
		require.Equal(t, false, v.Get("valid"), string(v.Raw))
		require.Equal(t, tc.seq, v.Str("firstBrokenSequence"), string(v.Raw))
		require.Contains(t, v.Str("problem"), tc.word)
	}
}

func TestConcurrentAppendsKeepOneChain(t *testing.T) {
	t.Parallel()
	s, caseID, _ := setup(t)
	id := register(t, s, detective, caseID, diskImage()).Str("id")
	mustCustody(t, s, custodian, id, map[string]any{"action": "CUSTODY_ACTION_CHECK_OUT", "purpose": "analysis"})
	const writers = 8
	var wg sync.WaitGroup
	codes := make([]int, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = custody(t, s, custodian, id, map[string]any{"action": "CUSTODY_ACTION_ANALYSIS",
				"purpose": fmt.Sprintf("examiner %d", i)}).Status
		}()
	}
	wg.Wait()
	for _, c := range codes {
		require.Equal(t, http.StatusOK, c)
	}
	v := verifyChain(t, s, detective, id)
	require.Equal(t, true, v.Get("valid"), string(v.Raw))
	require.Equal(t, "10", v.Str("eventCount"))
	evs := s.Do(t, detective, "GET", "/v1/evidence/"+id+"/custody", nil).List("events")
	require.Len(t, evs, 10)
	purposes := map[string]bool{}
	for i, e := range evs {
		require.Equal(t, fmt.Sprint(i+1), e["sequence"])
		purposes[e["purpose"].(string)] = true
	}
	for i := range writers {
		require.True(t, purposes[fmt.Sprintf("examiner %d", i)], "event of writer %d kept", i)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	s, caseID, _ := setup(t)
	id := register(t, s, detective, caseID, diskImage()).Str("id")
	items, events := count(t, s, "items"), count(t, s, "custody_events")
	with := func(k string, v any) map[string]any {
		b := diskImage()
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	for name, tc := range map[string]struct {
		body  any
		field string
	}{
		"short sha256":       {with("sha256", strings.Repeat("a", 63)), "evidence.sha256"},
		"non-hex sha256":     {with("sha256", strings.Repeat("g", 64)), "evidence.sha256"},
		"bad md5":            {with("md5", "abc"), "evidence.md5"},
		"bad sha1":           {with("sha1", strings.Repeat("a", 41)), "evidence.sha1"},
		"negative size":      {with("sizeBytes", "-1"), "evidence.sizeBytes"},
		"digital, no sha256": {with("sha256", nil), "evidence.sha256"},
		"unknown kind":       {with("kind", "KIND_FLOPPY"), "kind"},
		"undefined kind":     {with("kind", 99), "evidence.kind"},
		"no kind":            {with("kind", nil), "evidence.kind"},
		"no description":     {with("description", "  "), "evidence.description"},
		"future acquisition": {with("acquisition", map[string]any{"acquireTime": "2999-01-01T00:00:00Z"}), "evidence.acquisition.acquireTime"},
		"bad parent":         {with("parentId", "not-a-uuid"), "evidence.parentId"},
		"unknown parent":     {with("parentId", uuid.NewString()), "evidence.parentId"},
	} {
		r := s.Do(t, detective, "POST", "/v1/cases/"+caseID+"/evidence", tc.body)
		require.Equal(t, http.StatusBadRequest, r.Status, name+": "+string(r.Raw))
		require.Contains(t, r.Str("message"), tc.field, name)
	}
	require.Equal(t, items, count(t, s, "items"))

	for name, tc := range map[string]struct {
		body  map[string]any
		field string
	}{
		"intake from input":  {map[string]any{"action": "CUSTODY_ACTION_INTAKE", "purpose": "x"}, "event.action"},
		"unknown action":     {map[string]any{"action": "CUSTODY_ACTION_LOSE", "purpose": "x"}, "action"},
		"no purpose":         {map[string]any{"action": "CUSTODY_ACTION_CHECK_OUT"}, "event.purpose"},
		"transfer to nobody": {map[string]any{"action": "CUSTODY_ACTION_TRANSFER", "purpose": "x"}, "event.toCustodian"},
		"agency on checkout": {map[string]any{"action": "CUSTODY_ACTION_CHECK_OUT", "purpose": "x", "toAgencyId": demo.AgencyID("fbi")}, "event.toAgencyId"},
		"unknown agency":     {map[string]any{"action": "CUSTODY_ACTION_TRANSFER", "purpose": "x", "toAgencyId": uuid.NewString()}, "event.toAgencyId"},
		"future event":       {map[string]any{"action": "CUSTODY_ACTION_CHECK_OUT", "purpose": "x", "eventTime": "2999-01-01T00:00:00Z"}, "event.eventTime"},
		// Out of order: an item in custody is neither checked in again,
		// analysed nor returned.
		"check-in twice":       {map[string]any{"action": "CUSTODY_ACTION_CHECK_IN", "purpose": "x"}, "IN_CUSTODY"},
		"analysis in storage":  {map[string]any{"action": "CUSTODY_ACTION_ANALYSIS", "purpose": "x"}, "IN_CUSTODY"},
		"return without check": {map[string]any{"action": "CUSTODY_ACTION_RETURN", "purpose": "x"}, "IN_CUSTODY"},
	} {
		r := custody(t, s, custodian, id, tc.body)
		require.Equal(t, http.StatusBadRequest, r.Status, name+": "+string(r.Raw))
		require.Contains(t, r.Str("message"), tc.field, name)
	}
	r := s.Do(t, custodian, "POST", "/v1/evidence/"+id+":verify", map[string]any{"sha256": "abc"})
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Contains(t, r.Str("message"), "sha256")
	require.Equal(t, events, count(t, s, "custody_events"))
	require.Equal(t, 0, count(t, s, "integrity_checks"))
	g := s.Do(t, detective, "GET", "/v1/evidence/"+id, nil)
	require.Equal(t, "STATUS_IN_CUSTODY", g.Str("status"))
	require.Equal(t, "1", g.Str("custodyEventCount"))
}

func TestRetriesDoNotDuplicate(t *testing.T) {
	t.Parallel()
	s, caseID, caseNumber := setup(t)
	path := "/v1/cases/" + caseID + "/evidence?request_id=" + uuid.NewString()
	first := s.Do(t, detective, "POST", path, diskImage())
	require.Equal(t, http.StatusOK, first.Status, string(first.Raw))
	again := s.Do(t, detective, "POST", path, diskImage())
	require.Equal(t, http.StatusOK, again.Status, string(again.Raw))
	require.Equal(t, first.Str("id"), again.Str("id"))
	require.Equal(t, 1, count(t, s, "items"))
	// The counter did not move either: the next item is E002.
	require.Equal(t, caseNumber+"-E002", register(t, s, detective, caseID, diskImage()).Str("exhibitNumber"))

	id := first.Str("id")
	cpath := "/v1/evidence/" + id + "/custody?request_id=" + uuid.NewString()
	ev := map[string]any{"action": "CUSTODY_ACTION_CHECK_OUT", "purpose": "analysis"}
	e1 := s.Do(t, custodian, "POST", cpath, ev)
	require.Equal(t, http.StatusOK, e1.Status, string(e1.Raw))
	// A retry answers the first event, not "already checked out".
	e2 := s.Do(t, custodian, "POST", cpath, ev)
	require.Equal(t, http.StatusOK, e2.Status, string(e2.Raw))
	require.Equal(t, e1.Str("id"), e2.Str("id"))
	require.Equal(t, "2", s.Do(t, detective, "GET", "/v1/evidence/"+id, nil).Str("custodyEventCount"))
}
