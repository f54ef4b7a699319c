package web_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/apptest"
)

// signInAt is signIn for users whose home page is not "My work" (a public
// entity's reporter lands on their reports): it waits for marker.
func signInAt(t *testing.T, s *apptest.System, exe, email, marker string, width, height int64) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(int(width), int(height)))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	b := &browser{t: t, ctx: ctx, base: s.URL, email: email}
	require.NoError(t, chromedp.Do(ctx))
	if width < 600 {
		// A phone: the viewport itself is narrow, as on a handset.
		b.run(chromedp.EmulateViewport(width, height, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	}
	b.run(chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#signin")), chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS(`button[value="`+email+`"]`)), chromedp.Click(chromedp.CSS(`button[value="`+email+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(marker)))
	require.Contains(t, b.text("header .who"), email)
	return b
}

// fitsWidth checks the page needs no sideways scrolling.
func (b *browser) fitsWidth() {
	b.t.Helper()
	w := get(b, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`))
	vw := get(b, chromedp.Evaluate[int64](`window.innerWidth`))
	require.LessOrEqual(b.t, w, vw, "%s: page is %d px wide in a %d px viewport", b.email, w, vw)
}

// TestIncidentReportInBrowser is issue 19's story in headless Chromium: the
// Town of Example's IT director reports a ransomware attack on a 375 px
// phone (first sending too little, then saving a draft, then sending it),
// gets a number and a deadline; CTIC's analyst acknowledges it; the school
// district sees nothing; the town reports the ransom paid (a 24 h clock);
// CSP's supervisor opens a case; the town sees that a case was opened and
// nothing of the case.
func TestIncidentReportInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	// Errors are logged to the test output (a template that fails to render
	// answers a bare 500; the log says why).
	s := apptest.Start(t, func(c *app.Config) {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	})

	town := signInAt(t, s, exe, "it.director@townofexample.example", "#h-reports", 375, 812)
	town.fitsWidth()
	require.Contains(t, town.text("header nav"), "Report an incident")
	require.NotContains(t, town.text("header nav"), "Cases")
	town.run(chromedp.Click(chromedp.CSS("#report-new")), chromedp.WaitVisible(chromedp.CSS("#r-what")))
	town.fitsWidth()
	for _, sec := range []string{"#sec-what", "#sec-when", "#sec-affected", "#sec-ransom", "#sec-told", "#sec-need"} {
		town.run(chromedp.WaitVisible(chromedp.CSS(sec)))
	}
	// Sending with almost nothing: the draft is kept and the form says
	// what is missing, next to the field.
	town.run(chromedp.SetValue(chromedp.CSS("#r-type"), "INCIDENT_TYPE_RANSOMWARE"),
		chromedp.Click(chromedp.CSS("#send-report")), chromedp.WaitVisible(chromedp.CSS(`#err-report\.details\.whatHappened`)))
	town.screenshot("ir-01-missing-fields-375")
	town.fitsWidth()
	discovered := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	town.run(
		chromedp.SetValue(chromedp.CSS("#r-what"), "Town hall file server encrypted overnight; a ransom note is on every screen."),
		chromedp.Click(chromedp.CSS(`input[value="OUTCOME_SUCCESSFUL"]`)),
		chromedp.SetValue(chromedp.CSS("#r-disc"), discovered.Format("2006-01-02T15:04")),
		chromedp.SetValue(chromedp.CSS("#r-sys"), "FS01 — town clerk records\nTAX — tax billing"),
		chromedp.SetValue(chromedp.CSS("#r-down"), "online tax payments"),
		chromedp.Click(chromedp.CSS(`input[value="DATA_CATEGORY_PII"]`)),
		chromedp.Click(chromedp.CSS("#r-demanded")),
		chromedp.SetValue(chromedp.CSS("#r-amount"), "4"),
		chromedp.SetValue(chromedp.CSS("#r-currency"), "BTC"),
		chromedp.SetValue(chromedp.CSS("#r-wallet"), "bc1qexamplewallet0000000000"),
		chromedp.SetValue(chromedp.CSS("#r-ind"), "203.0.113.7\nbad.example\nbc1qexamplewallet0000000000"),
		chromedp.Click(chromedp.CSS(`input[value="NOTIFIED_PARTY_INSURER"]`)),
		chromedp.SetValue(chromedp.CSS("#told-NOTIFIED_PARTY_INSURER"), discovered.Add(30*time.Minute).Format("2006-01-02T15:04")),
		chromedp.SetValue(chromedp.CSS("#r-need"), "Forensics, and advice on whether to pay."),
		chromedp.SetValue(chromedp.CSS("#r-rphone"), "860-555-0170"),
		chromedp.Click(chromedp.CSS("#save-draft")), chromedp.WaitVisible(chromedp.CSS("#draft-due")))
	// The saved draft comes back as it was typed, with its clock running.
	require.Equal(t, "Town hall file server encrypted overnight; a ransom note is on every screen.",
		get(town, chromedp.Value(chromedp.CSS("#r-what"))))
	require.True(t, get(town, chromedp.Evaluate[bool](`document.querySelector('#r-demanded').checked`)))
	town.screenshot("ir-02-draft-375")
	town.run(chromedp.Click(chromedp.CSS("#send-report")), chromedp.WaitVisible(chromedp.CSS("#report-number")))
	number := town.text("#report-number")
	require.True(t, strings.HasPrefix(number, "CTCTIC000-IR-"), number)
	require.Equal(t, "Submitted", town.text("#report-state"))
	require.Equal(t, discovered.Add(72*time.Hour).Format("2006-01-02 15:04"), town.text(".clock-due"))
	reportPath := town.path()
	town.fitsWidth()
	town.screenshot("ir-03-submitted-375")

	// CTIC's analyst finds it on the triage list and acknowledges it.
	garcia := signIn(t, s, exe, "an.garcia@ctic.example")
	garcia.open("/reports", "#h-reports")
	require.Contains(t, garcia.text("main"), number)
	garcia.open(reportPath, "#t-ack")
	require.Contains(t, garcia.text("main"), "bc1qexamplewallet0000000000")
	require.Contains(t, garcia.text("main"), "Our cyber insurer ("+discovered.Add(30*time.Minute).Format("2006-01-02 15:04")+")")
	// Analysts triage but do not open cases: that form is not shown.
	require.True(t, get(garcia, chromedp.Evaluate[bool](`document.querySelector('#t-open-case') === null`)))
	garcia.run(chromedp.SetValue(chromedp.CSS("#t-ack-prio"), "PRIORITY_HIGH"), chromedp.Click(chromedp.CSS("#t-ack")),
		chromedp.WaitVisible(`//strong[@id="report-state" and .="Acknowledged"]`))
	require.Equal(t, "High", garcia.text("#report-priority"))

	// The school district sees nothing of it.
	school := signInAt(t, s, exe, "tech.coordinator@exampleschools.example", "#h-reports", 1280, 900)
	require.NotContains(t, school.text("main"), number)
	school.open(reportPath, "h1")
	require.Equal(t, "Not found", school.text("h1"))

	// The town reports the ransom paid: a 24-hour clock on that update.
	paid := time.Now().Add(-30 * time.Minute).Truncate(time.Minute)
	town.open(reportPath, "#add-update summary")
	town.run(chromedp.Click(chromedp.CSS("#add-update summary")), chromedp.WaitVisible(chromedp.CSS("#u-text")),
		chromedp.Click(chromedp.CSS(`input[value="SUPPLEMENT_KIND_RANSOM_PAID"]`)),
		chromedp.SetValue(chromedp.CSS("#u-text"), "Our insurer paid the ransom."),
		chromedp.SetValue(chromedp.CSS("#u-paid"), paid.Format("2006-01-02T15:04")),
		chromedp.Click(chromedp.CSS("#send-update")), chromedp.WaitVisible(chromedp.CSS(".supplement .clock-due")))
	require.Equal(t, paid.Add(24*time.Hour).Format("2006-01-02 15:04"), town.text(".supplement .clock-due"))
	town.fitsWidth()
	town.screenshot("ir-04-ransom-paid-375")

	// CSP's supervisor opens a case from it.
	brooks := signIn(t, s, exe, "sgt.brooks@csp.example")
	brooks.open(reportPath, "#t-open-case")
	brooks.run(chromedp.Click(chromedp.CSS("#t-open-case")), chromedp.WaitVisible(chromedp.CSS("#report-case")))
	caseNumber := brooks.text("#report-case")
	require.True(t, strings.HasPrefix(caseNumber, "CTCSP0000-"), caseNumber)
	casePath := get(brooks, chromedp.AttributeValue(chromedp.CSS("#report-case"), "href")).Value
	brooks.open(casePath, "#case-number")
	require.Contains(t, brooks.text("main"), number)

	// The town sees that a case was opened, and nothing of the case.
	town.open(reportPath, "#report-state")
	require.Equal(t, "Case opened", town.text("#report-state"))
	require.Contains(t, town.text("main"), "law enforcement has opened a case")
	require.NotContains(t, town.text("main"), caseNumber)
	require.True(t, get(town, chromedp.Evaluate[bool](`document.querySelector('#h-triage') === null`)), "no triage forms for the reporter")
	town.open(casePath, "h1")
	require.NotContains(t, town.text("main"), number)
	town.screenshot("ir-05-case-opened-375")

	// CSP's administrator registers a public entity (a bad identifier is
	// named next to its field first).
	admin := signIn(t, s, exe, "admin@csp.example")
	admin.open("/agencies", "#register-entity")
	admin.run(chromedp.Click(chromedp.CSS("#register-entity")), chromedp.WaitVisible(chromedp.CSS("#g-name")),
		chromedp.SetValue(chromedp.CSS("#g-name"), "Example Water Authority"),
		chromedp.SetValue(chromedp.CSS("#g-ori"), "water"),
		chromedp.SetValue(chromedp.CSS("#g-sector"), "AGENCY_SECTOR_WATER_WASTEWATER"),
		chromedp.SetValue(chromedp.CSS("#g-admin"), "admin@examplewater.example"),
		chromedp.Click(chromedp.CSS("#g-submit")), chromedp.WaitVisible(chromedp.CSS("#err-ori")))
	admin.run(chromedp.SetValue(chromedp.CSS("#g-ori"), "CTEXWA000"), chromedp.Click(chromedp.CSS("#g-submit")),
		chromedp.WaitVisible(`//h1[contains(., "Example Water Authority")]`))
	// The town's reporter is offered no such form.
	town.open("/agencies", "h1")
	require.True(t, get(town, chromedp.Evaluate[bool](`document.querySelector('#register-entity') === null`)))
}
