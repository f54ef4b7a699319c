package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
)

// TestCustodyInBrowser (issue 14): the holding agency's custodian records
// custody on the exhibit page — a check-out, a back-dated check-in refused
// until marked late with a reason, an integrity check whose mismatch asks
// for confirmation first and then shows in the history — while a detective
// sees no custody form; the lead's supervisor exports the case package and
// a detective is offered no export.
func TestCustodyInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	s := apptest.Start(t)
	r := s.Do(t, "det.alvarez@csp.example", "POST", "/v1/cases", map[string]any{"title": "Exfiltration at the water utility"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	caseID := r.Str("id")
	hash := strings.Repeat("ab", 32)
	r = s.Do(t, "det.alvarez@csp.example", "POST", "/v1/cases/"+caseID+"/evidence", map[string]any{
		"description": "Image of the SCADA historian", "kind": "KIND_DISK_IMAGE", "sha256": hash,
		"acquisition":     map[string]any{"acquireTime": "2026-01-10T14:00:00Z"},
		"storageLocation": "vault-2"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	itemID := r.Str("id")
	evPath := "/evidence/" + itemID

	diaz := signIn(t, s, exe, "ev.diaz@csp.example")
	diaz.run(chromedp.EmulateViewport(375, 800))
	diaz.open(evPath, "#custody-form")
	diaz.run(chromedp.SetValue(chromedp.CSS("#c-action"), "CUSTODY_ACTION_CHECK_OUT"),
		chromedp.SetValue(chromedp.CSS("#c-purpose"), "Analysis in the lab"),
		chromedp.SetValue(chromedp.CSS("#c-to"), "det.alvarez@csp.example"),
		chromedp.Click(chromedp.CSS(`#custody-form button`)),
		chromedp.WaitVisible(`//td[contains(., "Analysis in the lab")]`))
	diaz.screenshot("12-custody-375px")

	// A back-dated check-in: refused, naming the time; then a late entry.
	diaz.open(evPath, "#custody-form")
	diaz.run(chromedp.SetValue(chromedp.CSS("#c-action"), "CUSTODY_ACTION_CHECK_IN"),
		chromedp.SetValue(chromedp.CSS("#c-purpose"), "Back in the vault"),
		chromedp.SetValue(chromedp.CSS("#c-time"), "2026-06-01T09:00"),
		chromedp.Click(chromedp.CSS(`#custody-form button`)),
		chromedp.WaitVisible(chromedp.CSS(`#err-event\.eventTime`)))
	require.Contains(t, diaz.text(`#err-event\.eventTime`), "late entry")
	diaz.run(chromedp.Click(chromedp.CSS("#c-late")),
		chromedp.SetValue(chromedp.CSS("#c-reason"), "Paper log transcribed after the outage"),
		chromedp.Click(chromedp.CSS(`#custody-form button`)),
		chromedp.WaitVisible(`//td[contains(., "Back in the vault")]`))
	require.Contains(t, diaz.text("main"), "Late entry")
	require.Contains(t, diaz.text("main"), "Paper log transcribed after the outage")

	// An integrity check with a mistyped hash asks first; nothing recorded.
	wrong := strings.Repeat("ac", 32)
	diaz.open(evPath, "#v-sha")
	diaz.run(chromedp.SetValue(chromedp.CSS("#v-sha"), wrong), chromedp.SetValue(chromedp.CSS("#v-tool"), "sha256sum 9.4"),
		chromedp.Click(chromedp.CSS(`form[action$="/verify"] button`)), chromedp.WaitVisible(chromedp.CSS("#confirm-mismatch")))
	r = s.Do(t, "ev.diaz@csp.example", "GET", evPath[0:0]+"/v1/evidence/"+itemID, nil)
	require.NotEqual(t, true, r.Get("compromised"), "a mismatch is not recorded before confirmation")
	diaz.screenshot("13-confirm-mismatch")
	diaz.run(chromedp.Click(chromedp.CSS("#confirm-mismatch-button")), chromedp.WaitVisible(chromedp.CSS("#checks")))
	require.Contains(t, diaz.text("#checks"), "MISMATCH")
	require.Contains(t, diaz.text("main"), "Compromised")
	// A matching check goes straight through and joins the history.
	diaz.run(chromedp.SetValue(chromedp.CSS("#v-sha"), hash), chromedp.Click(chromedp.CSS(`form[action$="/verify"] button`)),
		chromedp.WaitVisible(`//table[@id="checks"]//td[.="Match"]`))
	diaz.screenshot("14-integrity-history")

	// A detective reads the exhibit but is offered no custody form.
	alvarez := signIn(t, s, exe, "det.alvarez@csp.example")
	alvarez.open(evPath, "#chain-valid")
	require.Empty(t, get(alvarez, chromedp.Nodes(chromedp.CSS("#custody-form"), chromedp.AtLeast(0))))
	alvarez.open("/cases/"+caseID, "#case-number")
	require.Empty(t, get(alvarez, chromedp.Nodes(chromedp.CSS("#export"), chromedp.AtLeast(0))))

	// The lead's supervisor exports the package.
	brooks := signIn(t, s, exe, "sgt.brooks@csp.example")
	brooks.open("/cases/"+caseID, "#export summary")
	brooks.run(chromedp.Click(chromedp.CSS("#export summary")), chromedp.WaitVisible(chromedp.CSS("#export-recipient")),
		chromedp.SetValue(chromedp.CSS("#export-recipient"), "Office of the State's Attorney"),
		chromedp.SetValue(chromedp.CSS("#export-purpose"), "Discovery"))
	brooks.screenshot("15-export-case-package")
	ctx, cancel := context.WithTimeout(brooks.ctx, 30*time.Second)
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
		const f = document.querySelector('#export form');
		const r = await fetch(f.action, {method: 'POST', body: new URLSearchParams(new FormData(f))});
		const b = new Uint8Array(await r.arrayBuffer());
		return r.status + ' ' + r.headers.get('content-type') + ' ' + String.fromCharCode(b[0], b[1]);
	})()`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Equal(t, "200 application/zip PK", got)
}
