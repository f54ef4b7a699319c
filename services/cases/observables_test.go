package cases_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/pkg/pgtest"
)

const (
	fbiAgent  = "sa.jones@fbi.example"
	newHaven  = "det.foster@newhaven.example"
	wallet    = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
	cspLiaisn = "lt.chen@csp.example"
)

func addObservable(t *testing.T, s *apptest.System, email, caseID string, body map[string]any) *apptest.Response {
	t.Helper()
	r := s.Do(t, email, "POST", "/v1/cases/"+caseID+"/observables", body)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	return r
}

func notices(t *testing.T, s *apptest.System, email string) (*apptest.Response, []map[string]any) {
	t.Helper()
	r := s.Do(t, email, "GET", "/v1/deconflictionNotices", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	return r, r.List("notices")
}

func auditCount(t *testing.T, s *apptest.System, action, caseID string) int {
	t.Helper()
	var n int
	require.NoError(t, s.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM audit.events WHERE action = $1 AND case_id = $2`, action, caseID).Scan(&n))
	return n
}

// The check: CSP and the FBI record the same wallet on their own,
// unshared cases; both leads get a notice naming the other agency and its
// contact and nothing of the other case; New Haven, with an unrelated case,
// gets nothing. A case marked "do not deconflict" sends no notice.
func TestDeconflictionAcrossAgencies(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	csp := createCase(t, s, detective, map[string]any{"title": "Pig butchering ring, Danbury victims", "classification": "CLASSIFICATION_CRYPTOCURRENCY_FRAUD"})
	fbiCase := createCase(t, s, fbiAgent, map[string]any{"title": "Operation Lantern (romance scams)", "classification": "CLASSIFICATION_CRYPTOCURRENCY_FRAUD"})
	nh := createCase(t, s, newHaven, map[string]any{"title": "Gift card fraud at a pharmacy", "classification": "CLASSIFICATION_CRYPTOCURRENCY_FRAUD"})

	addObservable(t, s, detective, csp.Str("id"), map[string]any{"type": "CRYPTO_WALLET", "chain": "bitcoin", "value": wallet, "tlp": "AMBER"})
	addObservable(t, s, newHaven, nh.Str("id"), map[string]any{"type": "CRYPTO_WALLET", "chain": "bitcoin", "value": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"})
	// Nobody else holds it yet: no notices.
	_, n := notices(t, s, detective)
	require.Empty(t, n)
	// The FBI records the same wallet (typed with surrounding spaces).
	addObservable(t, s, fbiAgent, fbiCase.Str("id"), map[string]any{"type": "CRYPTO_WALLET", "chain": "Bitcoin", "value": "  " + wallet + " "})

	raw, n := notices(t, s, detective)
	require.Len(t, n, 1)
	require.Equal(t, "CTFBINH00", n[0]["otherAgencyOri"])
	require.Equal(t, "SA Chris Harris", n[0]["contactName"], "the FBI contact whose topics include deconfliction")
	require.Equal(t, "203-555-0159", n[0]["contactDutyPhone"])
	require.Equal(t, "CRYPTO_WALLET", n[0]["observableType"])
	require.Equal(t, csp.Str("id"), n[0]["caseId"])
	require.NotEmpty(t, n[0]["matchTime"])
	for _, secret := range []string{fbiCase.Str("id"), fbiCase.Str("caseNumber"), "Lantern"} {
		require.NotContains(t, string(raw.Raw), secret, "the CSP notice reveals the FBI case")
	}

	raw, n = notices(t, s, fbiAgent)
	require.Len(t, n, 1)
	require.Equal(t, "CTCSP0000", n[0]["otherAgencyOri"])
	require.Equal(t, "Lt. Wei Chen", n[0]["contactName"])
	require.Equal(t, "860-555-0199", n[0]["contactDutyPhone"])
	for _, secret := range []string{csp.Str("id"), csp.Str("caseNumber"), "Danbury"} {
		require.NotContains(t, string(raw.Raw), secret, "the FBI notice reveals the CSP case")
	}
	// The FBI's own case and value are named to the FBI (it holds them).
	require.Equal(t, fbiCase.Str("caseNumber"), n[0]["caseNumber"])

	_, n = notices(t, s, newHaven)
	require.Empty(t, n, "New Haven's unrelated case gets nothing")
	// The CSP liaison (lead agency) sees the notice too; a CSP evidence
	// custodian may not read notices.
	_, n = notices(t, s, cspLiaisn)
	require.Len(t, n, 1)
	r := s.Do(t, "ev.diaz@csp.example", "GET", "/v1/deconflictionNotices", nil)
	require.Equal(t, http.StatusForbidden, r.Status)

	// Audited on both sides: the received notice on each recipient's chain
	// and the disclosure of each contact on the other's.
	require.Equal(t, 1, auditCount(t, s, "DeconflictionNoticeReceived", csp.Str("id")))
	require.Equal(t, 1, auditCount(t, s, "DeconflictionNoticeReceived", fbiCase.Str("id")))
	require.Equal(t, 1, auditCount(t, s, "DeconflictionContactDisclosed", csp.Str("id")))
	require.Equal(t, 1, auditCount(t, s, "DeconflictionContactDisclosed", fbiCase.Str("id")))

	// Correlation never shows the FBI case to CSP (it cannot read it).
	r = s.Do(t, detective, "GET", "/v1/cases/"+csp.Str("id")+"/observables", nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Empty(t, r.List("observables")[0]["correlations"])

	// Do not deconflict: an undercover CSP case. Marking needs a
	// supervisor and a reason, and is recorded in the timeline.
	uc := createCase(t, s, detective, map[string]any{"title": "Undercover: wallet laundering", "classification": "CLASSIFICATION_CRYPTOCURRENCY_FRAUD"})
	ucID := uc.Str("id")
	r = s.Do(t, detective, "PATCH", "/v1/cases/"+ucID+"/deconflictionSetting", map[string]any{"doNotDeconflict": true, "reason": "UC"})
	require.Equal(t, http.StatusForbidden, r.Status)
	r = s.Do(t, supervisor, "PATCH", "/v1/cases/"+ucID+"/deconflictionSetting", map[string]any{"doNotDeconflict": true})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), "reason")
	r = s.Do(t, supervisor, "PATCH", "/v1/cases/"+ucID+"/deconflictionSetting", map[string]any{"doNotDeconflict": true, "reason": "undercover operation"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, true, r.Get("doNotDeconflict"))
	r = s.Do(t, detective, "GET", "/v1/cases/"+ucID+"/notes", nil)
	require.Contains(t, string(r.Raw), "Marked do not deconflict")

	const phone = "+12035550177"
	addObservable(t, s, detective, ucID, map[string]any{"type": "PHONE", "value": "(203) 555-0177"})
	addObservable(t, s, fbiAgent, fbiCase.Str("id"), map[string]any{"type": "PHONE", "value": phone})
	_, n = notices(t, s, fbiAgent)
	require.Len(t, n, 1, "the undercover case sent no notice to the FBI")
	require.Equal(t, 1, auditCount(t, s, "DeconflictionNoticeSuppressed", ucID))
	// The undercover case's own lead still learns of the FBI's holding (the
	// FBI case is not marked).
	_, n = notices(t, s, detective)
	require.Len(t, n, 2)
	require.Equal(t, "PHONE", n[0]["observableType"])
	require.Equal(t, "(203) 555-0177", n[0]["observableValue"])
}

func TestObservablesCanonicalCorrelationAndBadInput(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	a := createCase(t, s, detective, map[string]any{"title": "BEC at a law firm"})
	b := createCase(t, s, detective, map[string]any{"title": "BEC at a dentist"})
	o := addObservable(t, s, detective, a.Str("id"), map[string]any{"type": "EMAIL", "value": " CFO.Payments@Example.COM ", "description": "spoofed CFO"})
	require.Equal(t, "cfo.payments@example.com", o.Str("canonical"))
	require.Equal(t, "AMBER", o.Str("tlp"))

	// Bulk add: duplicates within the case are skipped and reported.
	r := s.Do(t, detective, "POST", "/v1/cases/"+b.Str("id")+"/observables:batchCreate", map[string]any{"observables": []map[string]any{
		{"type": "EMAIL", "value": "cfo.payments@example.com"},
		{"type": "IPV6", "value": "2001:DB8:0:0:0:0:0:1"},
		{"type": "IPV4", "value": "203.0.113.7"},
		{"type": "FILE_SHA256", "value": strings.Repeat("AB", 32)},
		{"type": "HANDLE", "platform": "Telegram", "value": "@Scammer_01"},
	}})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	obs := r.List("observables")
	require.Len(t, obs, 5)
	require.Equal(t, "2001:db8::1", obs[1]["canonical"])
	require.Equal(t, strings.Repeat("ab", 32), obs[3]["canonical"])
	require.Equal(t, "scammer_01", obs[4]["canonical"])
	r = s.Do(t, detective, "POST", "/v1/cases/"+b.Str("id")+"/observables", map[string]any{"type": "IPV4", "value": "203.0.113.7"})
	require.Equal(t, http.StatusConflict, r.Status, string(r.Raw))

	// Correlation: the e-mail shows the other case the caller reads.
	r = s.Do(t, detective, "GET", "/v1/cases/"+b.Str("id")+"/observables", nil)
	require.Equal(t, http.StatusOK, r.Status)
	corr := r.List("observables")[0]["correlations"].([]any)
	require.Len(t, corr, 1)
	require.Equal(t, a.Str("id"), corr[0].(map[string]any)["caseId"])
	require.Equal(t, a.Str("caseNumber"), corr[0].(map[string]any)["caseNumber"])

	// Bad input names the field; a bad value refuses the whole batch.
	var before int
	require.NoError(t, s.Pool.QueryRow(context.Background(), "SELECT count(*) FROM cases.observables").Scan(&before))
	for name, tc := range map[string]struct {
		body  map[string]any
		field string
	}{
		"phone":           {map[string]any{"type": "PHONE", "value": "call me"}, "observable.value"},
		"unknown type":    {map[string]any{"type": "CAR", "value": "x"}, "type"},
		"wallet chain":    {map[string]any{"type": "CRYPTO_WALLET", "value": wallet}, "observable.chain"},
		"handle":          {map[string]any{"type": "HANDLE", "value": "x"}, "observable.platform"},
		"tlp":             {map[string]any{"type": "EMAIL", "value": "a@b.example", "tlp": "PURPLE"}, "tlp"},
		"ipv4 as ipv6":    {map[string]any{"type": "IPV6", "value": "10.0.0.1"}, "observable.value"},
		"seen order":      {map[string]any{"type": "DOMAIN", "value": "evil.example", "firstSeenTime": "2026-02-01T00:00:00Z", "lastSeenTime": "2026-01-01T00:00:00Z"}, "lastSeenTime"},
		"foreign exhibit": {map[string]any{"type": "DOMAIN", "value": "evil.example", "exhibitIds": []string{"8c4a9d55-3a63-4a5e-9b2c-2d3f0c1e7a11"}}, "exhibitIds[0]"},
	} {
		r := s.Do(t, detective, "POST", "/v1/cases/"+a.Str("id")+"/observables", tc.body)
		require.Equal(t, http.StatusBadRequest, r.Status, name+": "+string(r.Raw))
		require.Contains(t, string(r.Raw), tc.field, name)
	}
	r = s.Do(t, detective, "POST", "/v1/cases/"+a.Str("id")+"/observables:batchCreate", map[string]any{"observables": []map[string]any{
		{"type": "DOMAIN", "value": "good.example"}, {"type": "PHONE", "value": "nope"},
	}})
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Contains(t, string(r.Raw), "observables[1].value")
	var after int
	require.NoError(t, s.Pool.QueryRow(context.Background(), "SELECT count(*) FROM cases.observables").Scan(&after))
	require.Equal(t, before, after, "a refused request writes nothing")

	// Another agency cannot see or add to the case (404), a viewer-less
	// weaker role cannot add (403: evidence custodian reads the case).
	r = s.Do(t, hartford, "GET", "/v1/cases/"+a.Str("id")+"/observables", nil)
	require.Equal(t, http.StatusNotFound, r.Status)
	r = s.Do(t, "ev.diaz@csp.example", "POST", "/v1/cases/"+a.Str("id")+"/observables", map[string]any{"type": "DOMAIN", "value": "x.example"})
	require.Equal(t, http.StatusForbidden, r.Status)
}

// Correlation shows a case of another agency once it is shared, and only
// then; the deconfliction notice is not sent for a case the other can read.
func TestCorrelationFollowsSharing(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	csp := createCase(t, s, detective, map[string]any{"title": "Shared intrusion"})
	fbiCase := createCase(t, s, fbiAgent, map[string]any{"title": "FBI intrusion"})
	r := s.Do(t, supervisor, "POST", "/v1/cases/"+csp.Str("id")+"/participants", map[string]any{
		"agencyId": demo.AgencyID("fbi"), "relation": "RELATION_CONTRIBUTOR", "reason": "joint investigation"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	addObservable(t, s, detective, csp.Str("id"), map[string]any{"type": "DOMAIN", "value": "c2.evil.example"})
	addObservable(t, s, fbiAgent, fbiCase.Str("id"), map[string]any{"type": "DOMAIN", "value": "C2.Evil.Example."})
	// The FBI reads the CSP case: it sees the correlation, no notice.
	r = s.Do(t, fbiAgent, "GET", "/v1/cases/"+fbiCase.Str("id")+"/observables", nil)
	corr := r.List("observables")[0]["correlations"].([]any)
	require.Len(t, corr, 1)
	require.Equal(t, csp.Str("id"), corr[0].(map[string]any)["caseId"])
	_, n := notices(t, s, fbiAgent)
	require.Empty(t, n)
	// CSP cannot read the FBI case: it gets the notice, no correlation.
	_, n = notices(t, s, detective)
	require.Len(t, n, 1)
	r = s.Do(t, detective, "GET", "/v1/cases/"+csp.Str("id")+"/observables", nil)
	require.Empty(t, r.List("observables")[0]["correlations"])
}

func TestDeconflictionLookupLimit(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t, func(c *app.Config) { c.DeconflictionLookupsPerHour = 3 })
	c := createCase(t, s, detective, map[string]any{"title": "Enumeration attempt"})
	r := s.Do(t, detective, "POST", "/v1/cases/"+c.Str("id")+"/observables:batchCreate", map[string]any{"observables": []map[string]any{
		{"type": "PHONE", "value": "+18605550101"}, {"type": "PHONE", "value": "+18605550102"},
	}})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	r = s.Do(t, detective, "POST", "/v1/cases/"+c.Str("id")+"/observables:batchCreate", map[string]any{"observables": []map[string]any{
		{"type": "PHONE", "value": "+18605550103"}, {"type": "PHONE", "value": "+18605550104"},
	}})
	require.Equal(t, http.StatusTooManyRequests, r.Status, string(r.Raw))
	var refused int
	require.NoError(t, s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit.events
		WHERE method = 'BatchCreateObservables' AND outcome = 'FAILED' AND case_id = $1`, c.Str("id")).Scan(&refused))
	require.Equal(t, 1, refused, "the refused lookup is audited")
}

// compile loads a schema directory as the validator's resources, each
// under the id it declares ($id, or draft-04's id), and compiles the one
// at root.
func compile(t *testing.T, dir, root string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	var rootID string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			return err
		}
		m, _ := doc.(map[string]any)
		id, _ := m["$id"].(string)
		if id == "" {
			id, _ = m["id"].(string)
		}
		if rel, _ := filepath.Rel(dir, path); filepath.ToSlash(rel) == root {
			rootID = id
		}
		return c.AddResource(id, doc)
	})
	require.NoError(t, err)
	sch, err := c.Compile(rootID)
	require.NoError(t, err)
	return sch
}

func validate(t *testing.T, sch *jsonschema.Schema, raw []byte) {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	require.NoError(t, sch.Validate(doc))
}

func TestExportSTIXAndMISP(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	stix := compile(t, "testdata/stix2.1/schemas", "common/bundle.json")
	misp := compile(t, "testdata/misp", "schema.json")
	c := createCase(t, s, detective, map[string]any{"title": "Ransomware crew infrastructure"})
	id := c.Str("id")
	for _, o := range []map[string]any{
		{"type": "DOMAIN", "value": "leak.evil.example", "tlp": "CLEAR"},
		{"type": "IPV4", "value": "198.51.100.23", "tlp": "GREEN"},
		{"type": "URL", "value": "HTTPS://Pay.Evil.Example:443/ransom?id=1", "tlp": "AMBER"},
		{"type": "FILE_SHA256", "value": strings.Repeat("0f", 32), "tlp": "AMBER+STRICT"},
		{"type": "CRYPTO_WALLET", "chain": "ethereum", "value": "0x52908400098527886E0F7030069857D2E4169EE7", "tlp": "RED"},
		{"type": "EMAIL", "value": "negotiator@evil.example", "tlp": "GREEN"},
		{"type": "HANDLE", "platform": "tox", "value": "crewboss", "tlp": "GREEN"},
		{"type": "PHONE", "value": "+442079460000", "tlp": "CLEAR"},
		{"type": "IPV6", "value": "2001:db8::23", "tlp": "AMBER"},
		{"type": "BANK_ACCOUNT", "value": "GB82 WEST 1234 5698 7654 32", "tlp": "AMBER"},
		{"type": "OTHER", "value": "crew's Jabber room", "tlp": "GREEN"},
	} {
		addObservable(t, s, detective, id, o)
	}
	count := func(raw []byte, typ string) int {
		var b struct {
			Objects []map[string]any `json:"objects"`
		}
		require.NoError(t, json.Unmarshal(raw, &b))
		n := 0
		for _, o := range b.Objects {
			if o["type"] == typ {
				n++
			}
		}
		return n
	}
	for tlp, want := range map[string]int{"CLEAR": 2, "GREEN": 6, "AMBER": 9, "AMBER+STRICT": 10, "RED": 11} {
		r := s.Do(t, detective, "GET", "/v1/cases/"+id+"/observables:export?format=stix&tlp="+strings.ReplaceAll(tlp, "+", "%2B"), nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		require.Contains(t, r.Header.Get("Content-Type"), "application/stix+json")
		validate(t, stix, r.Raw)
		require.Equal(t, want, count(r.Raw, "indicator"), tlp)
		require.Equal(t, want, count(r.Raw, "observed-data"), tlp)
		if tlp == "GREEN" {
			require.NotContains(t, string(r.Raw), "pay.evil.example", "an AMBER value in a GREEN export")
			require.NotContains(t, string(r.Raw), "TLP:AMBER")
		}
		r = s.Do(t, detective, "GET", "/v1/cases/"+id+"/observables:export?format=misp&tlp="+strings.ReplaceAll(tlp, "+", "%2B"), nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		validate(t, misp, r.Raw)
		var ev struct {
			Event struct {
				Attribute []map[string]any
			}
		}
		require.NoError(t, json.Unmarshal(r.Raw, &ev))
		require.Len(t, ev.Event.Attribute, want, tlp)
	}
	// The schema is not a rubber stamp: a broken bundle fails it.
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(`{"type":"bundle","id":"bundle--x","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--1"}]}`))
	require.NoError(t, err)
	require.Error(t, stix.Validate(doc))

	// A contributor exports up to AMBER, a viewer nothing.
	r := s.Do(t, supervisor, "POST", "/v1/cases/"+id+"/participants", map[string]any{
		"agencyId": demo.AgencyID("fbi"), "relation": "RELATION_CONTRIBUTOR", "reason": "joint investigation"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	r = s.Do(t, fbi, "GET", "/v1/cases/"+id+"/observables:export?format=stix&tlp=RED", nil)
	require.Equal(t, http.StatusForbidden, r.Status, string(r.Raw))
	r = s.Do(t, fbi, "GET", "/v1/cases/"+id+"/observables:export?format=stix&tlp=AMBER", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	validate(t, stix, r.Raw)
	r = s.Do(t, detective, "GET", "/v1/cases/"+id+"/observables:export?format=csv", nil)
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Contains(t, string(r.Raw), "format")
}

// Rotation: values recorded under the old key still match values recorded
// after a new key was put first, because new values are digested under
// every key in the file. Two systems on one database stand for the restart.
func TestDeconflictionKeyRotation(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	keys := filepath.Join(t.TempDir(), "deconfliction.keys")
	before := apptest.StartOn(t, dbURL, func(c *app.Config) { c.DeconflictionKeyFile = keys })
	csp := createCase(t, before, detective, map[string]any{"title": "Before rotation"})
	addObservable(t, before, detective, csp.Str("id"), map[string]any{"type": "EMAIL", "value": "mule@evil.example"})

	old, err := os.ReadFile(keys)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keys, append([]byte("k-new "+strings.Repeat("QUJD", 11)+"\n"), old...), 0o600))
	after := apptest.StartOn(t, dbURL, func(c *app.Config) { c.DeconflictionKeyFile = keys })
	fbiCase := createCase(t, after, fbiAgent, map[string]any{"title": "After rotation"})
	addObservable(t, after, fbiAgent, fbiCase.Str("id"), map[string]any{"type": "EMAIL", "value": "MULE@evil.example"})
	_, n := notices(t, after, fbiAgent)
	require.Len(t, n, 1, "matched under the old key")
	var keyIDs []string
	rows, err := after.Pool.Query(context.Background(), `SELECT DISTINCT key_id FROM cases.observable_digests ORDER BY 1`)
	require.NoError(t, err)
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		keyIDs = append(keyIDs, k)
	}
	require.Len(t, keyIDs, 2)
	require.Contains(t, keyIDs, "k-new")
}
