package evidence_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/services/evidence"
)

// asApp runs sql as the application's own role (casebridge_app), the way a
// database administrator borrowing it would.
func asApp(t *testing.T, s *apptest.System, sql string, args ...any) error {
	t.Helper()
	ctx := context.Background()
	conn, err := s.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, `SET ROLE casebridge_app`)
	require.NoError(t, err)
	defer func() { _, _ = conn.Exec(ctx, `RESET ROLE`) }()
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

func TestTamperingAsAppRoleIsRefusedOrNamed(t *testing.T) {
	t.Parallel()
	s, caseID, _ := setup(t)
	newItem := func() string {
		id := register(t, s, detective, caseID, diskImage()).Str("id")
		mustCustody(t, s, custodian, id, map[string]any{"action": "CUSTODY_ACTION_CHECK_OUT", "purpose": "analysis"})
		r := s.Do(t, custodian, "POST", "/v1/evidence/"+id+":verify", map[string]any{"sha256": imageHash, "tool": "sha256sum"})
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		require.Equal(t, true, verifyChain(t, s, detective, id).Get("valid"))
		return id
	}

	// Refused by the database: sealed columns, deletes anywhere in evidence.
	id := newItem()
	for _, sql := range []string{
		`UPDATE evidence.items SET sha256 = repeat('ee', 32) WHERE id = $1`,
		`UPDATE evidence.items SET description = 'a different disk' WHERE id = $1`,
		`UPDATE evidence.items SET kind = 'OTHER', size_bytes = 1 WHERE id = $1`,
		`DELETE FROM evidence.custody_events WHERE evidence_id = $1`,
		`DELETE FROM evidence.integrity_checks WHERE evidence_id = $1`,
		`DELETE FROM evidence.items WHERE id = $1`,
	} {
		err := asApp(t, s, sql, id)
		require.Error(t, err, sql)
		require.Contains(t, err.Error(), "permission denied", sql)
	}

	// Columns custody moves may be updated by the role, but the verifier
	// replays them from the chain and names the one that changed.
	for _, tc := range []struct{ set, field string }{
		{`compromised = true`, "compromised"},
		{`status = 'IN_CUSTODY'`, "status"},
		{`holding_agency_id = gen_random_uuid()`, "holdingAgencyId"},
		{`holding_agency_ori = 'CTFBINH00'`, "holdingAgencyOri"},
		{`current_custodian = 'nobody@example'`, "currentCustodian"},
		{`storage_location = 'the trunk of a car'`, "storageLocation"},
		{`last_verify_time = NULL`, "lastVerifyTime"},
	} {
		id := newItem()
		require.NoError(t, asApp(t, s, `UPDATE evidence.items SET `+tc.set+` WHERE id = $1`, id))
		v := verifyChain(t, s, detective, id)
		require.Equal(t, false, v.Get("valid"), tc.set)
		require.Equal(t, tc.field, v.Str("field"), string(v.Raw))
	}

	// A superuser can still rewrite a sealed column: the verifier names it,
	// and an integrity check compares with the sealed hash, not the row.
	id = newItem()
	tampered := strings.Repeat("ee", 32)
	_, err := s.Pool.Exec(context.Background(), `UPDATE evidence.items SET sha256 = $2 WHERE id = $1`, id, tampered)
	require.NoError(t, err)
	v := verifyChain(t, s, detective, id)
	require.Equal(t, false, v.Get("valid"))
	require.Equal(t, "sha256", v.Str("field"), string(v.Raw))
	require.Equal(t, "1", v.Str("firstBrokenSequence"))
	r := s.Do(t, custodian, "POST", "/v1/evidence/"+id+":verify", map[string]any{"sha256": tampered})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, false, r.Get("check.match"), string(r.Raw))

	// A mismatch is a chain event: resetting compromised is named.
	require.Equal(t, true, r.Get("evidence.compromised"))
	require.NoError(t, asApp(t, s, `UPDATE evidence.items SET compromised = false WHERE id = $1`, id))
	_, err = s.Pool.Exec(context.Background(), `UPDATE evidence.items SET sha256 = $2 WHERE id = $1`, id, imageHash)
	require.NoError(t, err)
	v = verifyChain(t, s, detective, id)
	require.Equal(t, false, v.Get("valid"))
	require.Equal(t, "compromised", v.Str("field"), string(v.Raw))
}

func TestTimeSanity(t *testing.T) {
	t.Parallel()
	s, caseID, _ := setup(t)
	id := register(t, s, detective, caseID, diskImage()).Str("id")
	mustCustody(t, s, custodian, id, map[string]any{"action": "CUSTODY_ACTION_CHECK_OUT", "purpose": "analysis"})

	// Back-dated after a later event: refused unless a late entry.
	back := map[string]any{"action": "CUSTODY_ACTION_CHECK_IN", "purpose": "returned to vault", "eventTime": "2026-06-01T09:00:00Z"}
	r := custody(t, s, custodian, id, back)
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), "event.eventTime")
	back["lateEntry"] = true
	r = custody(t, s, custodian, id, back)
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), "lateEntryReason")
	back["lateEntryReason"] = "paper log transcribed after the power outage"
	r = mustCustody(t, s, custodian, id, back)
	require.Equal(t, true, r.Get("lateEntry"))

	evs := s.Do(t, detective, "GET", "/v1/evidence/"+id+"/custody", nil).List("events")
	last := evs[len(evs)-1]
	require.Equal(t, true, last["lateEntry"])
	require.Equal(t, "paper log transcribed after the power outage", last["lateEntryReason"])
	require.Equal(t, true, verifyChain(t, s, detective, id).Get("valid"))

	// Never before the acquisition, late or not; never in the future.
	r = custody(t, s, custodian, id, map[string]any{"action": "CUSTODY_ACTION_CHECK_OUT", "purpose": "x",
		"eventTime": "1900-01-01T00:00:00Z", "lateEntry": true, "lateEntryReason": "r"})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), "acquisition")
	r = custody(t, s, custodian, id, map[string]any{"action": "CUSTODY_ACTION_CHECK_OUT", "purpose": "x", "eventTime": "2099-01-01T00:00:00Z"})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))

	// acquireTime not before 1970 nor after registration.
	for _, at := range []string{"0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2099-01-01T00:00:00Z"} {
		body := diskImage()
		body["acquisition"].(map[string]any)["acquireTime"] = at
		r := s.Do(t, detective, "POST", "/v1/cases/"+caseID+"/evidence", body)
		require.Equal(t, http.StatusBadRequest, r.Status, at+": "+string(r.Raw))
		require.Contains(t, string(r.Raw), "cquisition", at)
	}

	// A case's incident cannot start after its discovery.
	r = s.Do(t, detective, "POST", "/v1/cases", map[string]any{"title": "t",
		"incidentStartTime": "2026-03-02T00:00:00Z", "discoveryTime": "2026-03-01T00:00:00Z"})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), "incidentStartTime")
	r = s.Do(t, detective, "PATCH", "/v1/cases/"+caseID+"?updateMask=discoveryTime", map[string]any{"discoveryTime": "2020-01-01T00:00:00Z"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	r = s.Do(t, detective, "PATCH", "/v1/cases/"+caseID+"?updateMask=incidentStartTime", map[string]any{"incidentStartTime": "2021-01-01T00:00:00Z"})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), "incidentStartTime")
}

// exportPackage builds a demo case with exhibits and custody and returns
// its package.
func exportPackage(t *testing.T) (*apptest.System, []byte) {
	t.Helper()
	s, caseID, _ := setup(t)
	img := register(t, s, detective, caseID, diskImage()).Str("id")
	cp := diskImage()
	cp["description"], cp["sha256"], cp["parentId"] = "Working copy", copyHash, img
	delete(cp, "md5")
	register(t, s, detective, caseID, cp)
	phone := register(t, s, detective, caseID, map[string]any{"description": "Seized iPhone", "kind": "KIND_DEVICE"}).Str("id")
	mustCustody(t, s, custodian, img, map[string]any{"action": "CUSTODY_ACTION_CHECK_OUT", "purpose": "analysis", "toCustodian": "det.alvarez@csp.example"})
	mustCustody(t, s, custodian, img, map[string]any{"action": "CUSTODY_ACTION_ANALYSIS", "purpose": "carving"})
	mustCustody(t, s, custodian, img, map[string]any{"action": "CUSTODY_ACTION_CHECK_IN", "purpose": "back", "location": "vault-3"})
	r := s.Do(t, custodian, "POST", "/v1/evidence/"+img+":verify", map[string]any{"sha256": imageHash, "tool": "sha256sum 9.4"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	mustCustody(t, s, custodian, phone, map[string]any{"action": "CUSTODY_ACTION_CHECK_OUT", "purpose": "extraction"})
	mustCustody(t, s, custodian, phone, map[string]any{"action": "CUSTODY_ACTION_CHECK_IN", "purpose": "extracted"})

	// The phone goes to the FBI, whose custodian checks it in: two
	// agencies in the chain, the holder's ORI replayed from the transfer.
	addFBICustodian(t, s)
	sh := s.Do(t, supervisor, "POST", "/v1/cases/"+caseID+"/participants", map[string]any{
		"agencyId": demo.AgencyID("fbi"), "relation": "RELATION_CONTRIBUTOR", "reason": "Joint investigation",
		"overrideReason": "Federal prosecution pending; agreement in preparation"})
	require.Equal(t, http.StatusOK, sh.Status, string(sh.Raw))
	mustCustody(t, s, custodian, phone, map[string]any{"action": "CUSTODY_ACTION_TRANSFER", "toAgencyId": demo.AgencyID("fbi"), "purpose": "Federal prosecution"})
	mustCustody(t, s, fbiCustodian, phone, map[string]any{"action": "CUSTODY_ACTION_CHECK_IN", "purpose": "Received", "location": "FBI NH evidence room"})
	v := verifyChain(t, s, detective, phone)
	require.Equal(t, true, v.Get("valid"), string(v.Raw))

	q := url.Values{"recipient": {"Office of the State's Attorney, Hartford JD"}, "purpose": {"discovery"}}
	r = s.Do(t, supervisor, "GET", "/v1/cases/"+caseID+":export?"+q.Encode(), nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))

	// The audit record names the recipient and the purpose.
	var n int
	require.NoError(t, s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit.events
		WHERE method LIKE '%ExportCase' AND case_id = $1 AND purpose LIKE '%State''s Attorney%discovery%'`, caseID).Scan(&n))
	require.GreaterOrEqual(t, n, 1)
	return s, r.Raw
}

func readZip(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		out[f.Name] = b
	}
	return out
}

func writeZip(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, b := range files {
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestCasePackageVerifies(t *testing.T) {
	t.Parallel()
	_, pkg := exportPackage(t)
	files := readZip(t, pkg)
	for _, name := range []string{"case.jsonld", "custody.json", "disclosure.csv", "VERIFY.txt", "checkpoint.json"} {
		require.Contains(t, files, name)
	}
	require.Contains(t, string(files["VERIFY.txt"]), "casebridge evidence verify --package")
	rep, err := evidence.VerifyPackage(pkg, nil)
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Problems)
	require.Len(t, rep.Items, 3)
	require.Contains(t, string(files["case.jsonld"]), "FBI New Haven")

	// One byte of case.jsonld.
	changed := readZip(t, pkg)
	changed["case.jsonld"] = bytes.Replace(changed["case.jsonld"], []byte("Forensic"), []byte("Forensiq"), 1)
	rep, err = evidence.VerifyPackage(writeZip(t, changed), nil)
	require.NoError(t, err)
	require.False(t, rep.OK())
	require.Contains(t, strings.Join(rep.Problems, "\n"), "case.jsonld")

	// A custody event in custody.json.
	changed = readZip(t, pkg)
	changed["custody.json"] = bytes.Replace(changed["custody.json"], []byte(`"purpose": "carving"`), []byte(`"purpose": "nothing"`), 1)
	rep, err = evidence.VerifyPackage(writeZip(t, changed), nil)
	require.NoError(t, err)
	require.False(t, rep.OK())
	all := strings.Join(rep.Problems, "\n")
	require.Contains(t, all, "custody.json")
	require.Contains(t, all, "event 3")

	// The checkpoint itself (a re-signed one fails the pinned key).
	changed = readZip(t, pkg)
	changed["checkpoint.json"] = bytes.Replace(changed["checkpoint.json"], []byte("discovery"), []byte("discoverx"), 1)
	rep, err = evidence.VerifyPackage(writeZip(t, changed), nil)
	require.NoError(t, err)
	require.Contains(t, strings.Join(rep.Problems, "\n"), "signature")
}

// shaclValidate runs the SHACL engine (testdata/shacl, npm shacl-engine
// with SPARQL constraints) on doc; it returns the engine's report and
// whether the document conforms.
func shaclValidate(t *testing.T, doc []byte) (string, bool) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the CASE/UCO SHACL validation needs Node.js (apt-get install nodejs npm)")
	}
	dir, err := filepath.Abs("testdata/shacl")
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "shacl-engine")); err != nil {
		out, err := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--prefix", dir).CombinedOutput()
		require.NoError(t, err, "npm ci in %s: %s", dir, out)
	}
	// The CASE 1.4.0 ontology is committed (testdata/case-uco, Apache-2.0,
	// see its README), so a clone validates without anything beside it.
	ontology, err := filepath.Abs(filepath.Join("testdata", "case-uco", "case-1.4.0.ttl"))
	require.NoError(t, err)
	_, err = os.Stat(ontology)
	require.NoError(t, err, "the CASE 1.4.0 ontology (testdata/case-uco/case-1.4.0.ttl)")
	f := filepath.Join(t.TempDir(), "case.jsonld")
	require.NoError(t, os.WriteFile(f, doc, 0o600))
	out, err := exec.Command(node, filepath.Join(dir, "validate.mjs"), ontology, f).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !(errorsAs(err, &exit) && exit.ExitCode() == 1) {
		t.Fatalf("validator: %v\n%s", err, out)
	}
	return string(out), err == nil
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

func TestCasePackageConformsToCASE(t *testing.T) {
	t.Parallel()
	_, pkg := exportPackage(t)
	doc := readZip(t, pkg)["case.jsonld"]
	out, ok := shaclValidate(t, doc)
	require.True(t, ok, out)
	t.Log(strings.TrimSpace(out))

	// A plain-string time does not conform.
	plain := bytes.Replace(doc, []byte(`"@type": "xsd:dateTime",`), nil, 1)
	plain = bytes.Replace(plain, []byte("{\n        \n        \"@value\""), []byte("{\"@value\""), 1)
	require.NotEqual(t, doc, plain)
	out, ok = shaclValidate(t, plain)
	require.False(t, ok, "a plain-string time passed:\n%s", out)
	require.Contains(t, out, "sh:DatatypeConstraintComponent", out)
	require.Contains(t, out, "dateTime", out)

	// Nor does a blank-node object.
	blank := bytes.Replace(doc, []byte(`"@graph": [`), []byte(`"@graph": [{"@type": "uco-observable:File", "uco-core:name": "anonymous"},`), 1)
	out, ok = shaclValidate(t, blank)
	require.False(t, ok, "a blank-node object passed:\n%s", out)
	// CASE's own sh:sparql constraint: the engine evaluates SPARQL shapes.
	require.Contains(t, out, "sh:SPARQLConstraintComponent", out)
	require.Contains(t, out, "blank nodes", out)
}
