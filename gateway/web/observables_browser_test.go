package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
)

// TestObservablesInBrowser (issue 21): a CSP detective records a wallet on
// the case page (the form names a missing chain next to its field), pastes
// a list on a second case and sees the correlation badge; an FBI special
// agent records the same wallet on an FBI case; both find a deconfliction
// notice in My work naming the other agency and whom to call, and nothing
// of the other case; New Haven finds none.
func TestObservablesInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	s := apptest.Start(t)
	const wallet = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
	mk := func(email, title string) (string, string) {
		r := s.Do(t, email, "POST", "/v1/cases", map[string]any{"title": title})
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		return r.Str("id"), r.Str("caseNumber")
	}
	cspCase, cspNumber := mk("det.alvarez@csp.example", "Pig butchering ring, Danbury victims")
	cspCase2, _ := mk("det.alvarez@csp.example", "Romance scam, Waterbury victim")
	fbiCase, fbiNumber := mk("sa.jones@fbi.example", "Operation Lantern")
	mk("det.foster@newhaven.example", "Gift card fraud at a pharmacy")

	ev := s.Do(t, "det.alvarez@csp.example", "POST", "/v1/cases/"+cspCase+"/evidence",
		map[string]any{"description": "Victim's phone", "kind": "KIND_DEVICE"})
	require.Equal(t, http.StatusOK, ev.Status, string(ev.Raw))

	alvarez := signIn(t, s, exe, "det.alvarez@csp.example")
	alvarez.open("/cases/"+cspCase, "#observables summary")
	alvarez.run(chromedp.Click(`//section[@id="observables"]//summary[contains(., "Add an observable")]`),
		chromedp.WaitVisible(chromedp.CSS("#obs-value")),
		chromedp.SetValue(chromedp.CSS("#obs-type"), "CRYPTO_WALLET"),
		chromedp.SetValue(chromedp.CSS("#obs-value"), wallet),
		chromedp.Click(chromedp.CSS(`form[action$="/observables"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#err-observable\.chain`)))
	require.Contains(t, alvarez.text(`#err-observable\.chain`), "required for a CRYPTO_WALLET")
	alvarez.run(chromedp.SetValue(chromedp.CSS("#obs-chain"), "bitcoin"),
		chromedp.SetValue(chromedp.CSS("#obs-tlp"), "AMBER"),
		chromedp.SetValue(chromedp.CSS("#obs-desc"), "victims paid here"),
		chromedp.SetValue(chromedp.CSS("#obs-first"), "2026-01-05"),
		chromedp.SetValue(chromedp.CSS("#obs-exhibits"), ev.Str("id")),
		chromedp.Click(chromedp.CSS(`form[action$="/observables"] button`)),
		chromedp.WaitVisible(`//table[@id="observables-table"]//code[.="`+wallet+`"]`))
	require.Contains(t, alvarez.text("#observables-table"), "seen 2026-01-05")
	require.Equal(t, "/evidence/"+ev.Str("id"), get(alvarez, chromedp.AttributeValue(chromedp.CSS("a.from-exhibit"), "href")).Value)
	alvarez.screenshot("21-observables")

	// Bulk add on the second case: the shared wallet shows the first case
	// as a correlation badge.
	alvarez.open("/cases/"+cspCase2, "#observables summary")
	alvarez.run(chromedp.Click(`//section[@id="observables"]//summary[contains(., "paste a list")]`),
		chromedp.WaitVisible(chromedp.CSS("#bulk-lines")),
		chromedp.SetValue(chromedp.CSS("#bulk-lines"), "CRYPTO_WALLET bitcoin "+wallet+"\nPHONE (860) 555-0100\nEMAIL Lover.Boy@Example.com"),
		chromedp.Click(chromedp.CSS(`form[action$="/observables/bulk"] button`)),
		chromedp.WaitVisible(`//a[contains(@class, "correlation") and .="`+cspNumber+`"]`))
	require.Contains(t, alvarez.text("#observables-table"), "+18605550100")
	require.Contains(t, alvarez.text("#observables-table"), "lover.boy@example.com")
	alvarez.screenshot("22-observables-bulk-correlation")

	// The FBI records the same wallet on its own case.
	jones := signIn(t, s, exe, "sa.jones@fbi.example")
	jones.open("/cases/"+fbiCase, "#observables summary")
	jones.run(chromedp.Click(`//section[@id="observables"]//summary[contains(., "Add an observable")]`),
		chromedp.WaitVisible(chromedp.CSS("#obs-value")),
		chromedp.SetValue(chromedp.CSS("#obs-type"), "CRYPTO_WALLET"),
		chromedp.SetValue(chromedp.CSS("#obs-chain"), "bitcoin"),
		chromedp.SetValue(chromedp.CSS("#obs-value"), wallet),
		chromedp.Click(chromedp.CSS(`form[action$="/observables"] button`)),
		chromedp.WaitVisible(`//table[@id="observables-table"]//code[.="`+wallet+`"]`))
	require.NotContains(t, jones.text("#observables-table"), cspNumber, "correlation never shows a case the FBI cannot read")

	jones.open("/", "#deconfliction")
	notice := jones.text("#deconfliction")
	require.Contains(t, notice, "Connecticut State Police")
	require.Contains(t, notice, "Lt. Wei Chen")
	require.Contains(t, notice, fbiNumber, "the FBI's own case is named to the FBI")
	require.NotContains(t, notice, cspNumber)
	require.NotContains(t, notice, "Danbury")
	jones.screenshot("23-fbi-deconfliction-notice")

	alvarez.open("/", "#deconfliction")
	notice = alvarez.text("#deconfliction")
	require.Contains(t, notice, "FBI New Haven Field Office")
	require.Contains(t, notice, "SA Chris Harris")
	require.Contains(t, notice, "203-555-0159")
	require.NotContains(t, notice, fbiNumber)
	require.NotContains(t, notice, "Lantern")
	require.Equal(t, 2, strings.Count(notice, "also holds"), "one notice for each CSP case holding the wallet")
	alvarez.run(chromedp.EmulateViewport(375, 812))
	alvarez.open("/", "#deconfliction")
	alvarez.screenshot("24-csp-deconfliction-notice-375px")

	foster := signIn(t, s, exe, "det.foster@newhaven.example")
	require.Contains(t, foster.text("#deconfliction"), "No deconfliction notices.")

	// A supervisor marks a case "do not deconflict" from the case page.
	brooks := signIn(t, s, exe, "sgt.brooks@csp.example")
	brooks.open("/cases/"+cspCase, "#dnd-state")
	require.Equal(t, "on", brooks.text("#dnd-state"))
	brooks.run(chromedp.Click(`//summary[contains(., "Deconfliction:")]`), chromedp.WaitVisible(chromedp.CSS("#dnd-reason")),
		chromedp.Click(`//form[contains(@action, "/deconfliction")]//button`), chromedp.WaitVisible(chromedp.CSS(`#err-setting\.reason`)))
	brooks.run(chromedp.SetValue(chromedp.CSS("#dnd-reason"), "undercover buy planned"),
		chromedp.Click(`//form[contains(@action, "/deconfliction")]//button`),
		chromedp.WaitVisible(`//strong[@id="dnd-state" and .="do not deconflict"]`))
	require.Contains(t, brooks.text("#timeline"), "Marked do not deconflict")
}
