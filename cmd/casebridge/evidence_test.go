package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// runCmd runs `casebridge evidence ARGS…` in-process and returns its output.
func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newEvidenceCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// world registers one exhibit with a few custody events and returns it.
func world(t *testing.T, s *apptest.System) (caseID, itemID string) {
	t.Helper()
	r := s.Do(t, "det.alvarez@csp.example", "POST", "/v1/cases", map[string]any{"title": "CLI"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	caseID = r.Str("id")
	r = s.Do(t, "det.alvarez@csp.example", "POST", "/v1/cases/"+caseID+"/evidence", map[string]any{
		"description": "Phone extraction", "kind": "KIND_MOBILE_EXTRACTION", "sha256": strings.Repeat("ab", 32)})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	itemID = r.Str("id")
	for _, a := range []string{"CUSTODY_ACTION_CHECK_OUT", "CUSTODY_ACTION_ANALYSIS", "CUSTODY_ACTION_CHECK_IN"} {
		r = s.Do(t, "ev.diaz@csp.example", "POST", "/v1/evidence/"+itemID+"/custody", map[string]any{"action": a, "purpose": "p"})
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	}
	return caseID, itemID
}

func TestEvidenceCheckpointDetectsCutTail(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	_, itemID := world(t, s)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "custody.key")
	_, err := audit.GenerateKey(keyFile)
	require.NoError(t, err)

	out, err := runCmd(t, "checkpoint", "--database-url", s.DatabaseURL, "--checkpoint-key", keyFile)
	require.NoError(t, err, out)
	cpFile := filepath.Join(dir, "cp.json")
	require.NoError(t, os.WriteFile(cpFile, []byte(out), 0o600))
	out, err = runCmd(t, "verify", "--database-url", s.DatabaseURL, "--checkpoint", cpFile)
	require.NoError(t, err, out)
	require.Contains(t, out, "holds checkpointed event 4")

	// Cut the tail and fix the item's anchor to match: the chain alone
	// looks whole, the checkpoint does not.
	ctx := context.Background()
	tx, err := s.Pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `ALTER TABLE evidence.custody_events DISABLE TRIGGER custody_append_only`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `DELETE FROM evidence.custody_events WHERE evidence_id = $1 AND seq = 4`, itemID)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `ALTER TABLE evidence.custody_events ENABLE TRIGGER custody_append_only`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE evidence.items i SET custody_count = 3, status = 'CHECKED_OUT',
		custody_head = (SELECT hash FROM evidence.custody_events WHERE evidence_id = i.id AND seq = 3) WHERE id = $1`, itemID)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))

	out, err = runCmd(t, "verify", "--database-url", s.DatabaseURL)
	require.NoError(t, err, "without the checkpoint the cut chain verifies: %s", out)
	out, err = runCmd(t, "verify", "--database-url", s.DatabaseURL, "--checkpoint", cpFile)
	require.ErrorIs(t, err, errEvidenceVerifyFailed)
	require.Contains(t, out, "tail cut")

	// And a checkpoint is refused over a broken exhibit.
	_, err = s.Pool.Exec(ctx, `UPDATE evidence.items SET description = 'other' WHERE id = $1`, itemID)
	require.NoError(t, err)
	out, err = runCmd(t, "verify", "--database-url", s.DatabaseURL)
	require.ErrorIs(t, err, errEvidenceVerifyFailed)
	require.Contains(t, out, "description")
	_, err = runCmd(t, "checkpoint", "--database-url", s.DatabaseURL, "--checkpoint-key", keyFile)
	require.ErrorContains(t, err, "custody chain broken")
}

func TestEvidenceVerifyPackageOffline(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	caseID, _ := world(t, s)
	q := url.Values{"recipient": {"US Attorney"}, "purpose": {"indictment"}}
	r := s.Do(t, "sgt.brooks@csp.example", "GET", "/v1/cases/"+caseID+":export?"+q.Encode(), nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	dir := t.TempDir()
	pkg := filepath.Join(dir, "package.zip")
	require.NoError(t, os.WriteFile(pkg, r.Raw, 0o600))

	out, err := runCmd(t, "verify", "--package", pkg)
	require.NoError(t, err, out)
	require.Contains(t, out, "case package verified")

	// Pinned to another key: refused.
	other := filepath.Join(dir, "other.key")
	pub, err := audit.GenerateKey(other)
	require.NoError(t, err)
	out, err = runCmd(t, "verify", "--package", pkg, "--checkpoint-pubkey", b64(pub))
	require.ErrorIs(t, err, errEvidenceVerifyFailed)
	require.Contains(t, out, "pinned")

	// One byte of case.jsonld changed.
	zr, err := zip.NewReader(bytes.NewReader(r.Raw), int64(len(r.Raw)))
	require.NoError(t, err)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		if f.Name == "case.jsonld" {
			i := bytes.Index(b, []byte("Phone extraction"))
			require.Positive(t, i)
			b[i] = 'p'
		}
		w, err := zw.Create(f.Name)
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	bad := filepath.Join(dir, "bad.zip")
	require.NoError(t, os.WriteFile(bad, buf.Bytes(), 0o600))
	out, err = runCmd(t, "verify", "--package", bad)
	require.ErrorIs(t, err, errEvidenceVerifyFailed)
	require.Contains(t, out, "FAILED: case.jsonld")
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
