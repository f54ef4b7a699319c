package web_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
)

// browser is one user's headless Chromium (its own profile, so its own
// cookies).
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	email string
}

func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("Chromium is not installed (apt-get install -y chromium; .ci/run installs it): skipping the browser end-to-end test")
	return ""
}

func screenshotDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "artifacts", "screenshots")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// signIn opens a fresh browser and signs email in through the OIDC code
// flow: the app's sign-in link, the development issuer's user list, back.
func signIn(t *testing.T, s *apptest.System, exe, email string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	b := &browser{t: t, ctx: ctx, base: s.URL, email: email}
	require.NoError(t, chromedp.Do(ctx)) // starts the browser on a context without a timeout
	b.run(chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#signin")), chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS(`button[value="`+email+`"]`)), chromedp.Click(chromedp.CSS(`button[value="`+email+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#h-inbox")))
	require.Contains(t, b.text("header .who"), email)
	return b
}

func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		if buf, e := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)); e == nil {
			_ = os.WriteFile(filepath.Join(screenshotDir(b.t), "failure-"+b.email+".png"), buf, 0o644)
		}
		require.NoError(b.t, err, "as %s", b.email)
	}
}

func get[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(b.t, err, "as %s", b.email)
	return v
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// timings records how long each page took from navigation to its marker
// element being visible (server render + network + browser layout).
var timings []string

func (b *browser) open(path, marker string) {
	b.t.Helper()
	start := time.Now()
	b.run(chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS(marker)))
	page := uuidRE.ReplaceAllString(strings.SplitN(path, "?", 2)[0], "{id}")
	timings = append(timings, fmt.Sprintf("%-24s %6.1f ms", page, float64(time.Since(start).Microseconds())/1000))
}

func (b *browser) text(sel string) string {
	return get(b, chromedp.Text(chromedp.CSS(sel)))
}

func (b *browser) screenshot(name string) {
	buf := get(b, chromedp.FullScreenshot(100))
	require.NoError(b.t, os.WriteFile(filepath.Join(screenshotDir(b.t), name+".png"), buf, 0o644))
}

func (b *browser) path() string {
	u, err := url.Parse(get(b, chromedp.Location()))
	require.NoError(b.t, err)
	return u.Path
}

// seesNothing checks that the other agency's user gets "Not found" for each
// path and does not find the case in the list or the referral in the inbox.
func (b *browser) seesNothing(caseNumber string, paths ...string) {
	b.t.Helper()
	for _, p := range paths {
		b.open(p, "h1")
		require.Equal(b.t, "Not found", b.text("h1"), "%s must not see %s", b.email, p)
	}
	b.open("/cases", "h1")
	body := b.text("main")
	if caseNumber != "" {
		require.NotContains(b.t, body, caseNumber)
	}
	b.open("/referrals", "h1")
	require.Contains(b.t, b.text("main"), "No referrals here.")
}

// TestStoryInBrowser walks the whole story in headless Chromium: Hartford
// asks for help, CSP accepts it into a case, a detective adds a note and an
// exhibit, CSP's liaison refers the case to the FBI, the FBI accepts — and
// at every step New Haven's detective sees nothing of it.
func TestStoryInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	s := apptest.Start(t)
	timings = nil
	foster := signIn(t, s, exe, "det.foster@newhaven.example")

	// 1. Hartford's officer asks the state unit for help.
	evans := signIn(t, s, exe, "ofc.evans@hartford.example")
	evans.screenshot("01-my-work-hartford")
	evans.open("/assistance/new", "#what")
	evans.run(chromedp.Click(chromedp.CSS(`main form button[type="submit"]`))) // empty: the API names the fields
	evans.run(chromedp.WaitVisible(chromedp.CSS(".notice")))
	require.Contains(t, evans.text("main"), "at least one") // help wanted, next to its fieldset
	evans.screenshot("02-assistance-errors")
	evans.run(
		chromedp.SetValue(chromedp.CSS("#what"), "Town hall file server encrypted overnight; ransom note demands 4 BTC"),
		chromedp.SetValue(chromedp.CSS("#when"), "Night of 2 March"),
		chromedp.SetValue(chromedp.CSS("#who"), "Town hall, 40 employees"),
		chromedp.Click(chromedp.CSS(`input[value="HELP_WANTED_DIGITAL_FORENSICS"]`)),
		chromedp.Click(chromedp.CSS(`input[value="URGENCY_PRIORITY"]`)),
		chromedp.SetValue(chromedp.CSS("#cphone"), "+1 860 555 0142"),
		chromedp.SetValue(chromedp.CSS("#local"), "HPD-26-004411"),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#referral-state")))
	require.Equal(t, "Submitted", evans.text("#referral-state"))
	reqPath := evans.path()
	evans.screenshot("03-assistance-status")
	foster.seesNothing("", reqPath)

	// 2. A CSP supervisor acknowledges and accepts it into a new case.
	brooks := signIn(t, s, exe, "sgt.brooks@csp.example")
	require.Contains(t, brooks.text("main"), "Town hall file server")
	brooks.open(reqPath, "#referral-state")
	brooks.run(chromedp.Click(chromedp.CSS(`form[action$="/acknowledge"] button`)),
		chromedp.WaitVisible(`//strong[@id="referral-state" and .="Acknowledged"]`), chromedp.Sleep(300*time.Millisecond),
		chromedp.Click(chromedp.CSS(`form[action$="/accept"] button`)), chromedp.WaitVisible(chromedp.CSS("#referral-case")))
	require.Equal(t, "Accepted", brooks.text("#referral-state"))
	casePath := get(brooks, chromedp.AttributeValue(chromedp.CSS("#referral-case"), "href")).Value
	brooks.open(casePath, "#case-number")
	caseNumber := brooks.text("#case-number")
	require.True(t, strings.HasPrefix(caseNumber, "CTCSP0000-"), caseNumber)
	foster.seesNothing(caseNumber, reqPath, casePath)
	evans.open(casePath, "#case-number") // the requester follows the case

	// 3. A detective adds a note and an exhibit.
	alvarez := signIn(t, s, exe, "det.alvarez@csp.example")
	alvarez.open(casePath, "#note-body")
	alvarez.run(chromedp.SetValue(chromedp.CSS("#note-body"), "Preservation letter sent to the VPN provider"),
		chromedp.Click(chromedp.CSS(`form[action$="/notes"] button`)), chromedp.WaitVisible(`//li[contains(., "Preservation letter sent")]`))
	// A fresh page load: the note form's htmx swap may still be replacing
	// the page, and a click on the old one would be lost.
	alvarez.open(casePath, "#evidence summary")
	alvarez.run(chromedp.Click(chromedp.CSS(`#evidence summary`)), chromedp.WaitVisible(chromedp.CSS("#ev-desc")),
		chromedp.SetValue(chromedp.CSS("#ev-desc"), "Image of the town hall file server"),
		chromedp.SetValue(chromedp.CSS("#ev-kind"), "KIND_DISK_IMAGE"),
		chromedp.SetValue(chromedp.CSS("#ev-sha"), "not-a-hash"),
		chromedp.Click(chromedp.CSS(`form[action$="/evidence"] button`)), chromedp.WaitVisible(chromedp.CSS(`#err-evidence\.sha256`)))
	alvarez.screenshot("04-exhibit-field-error")
	alvarez.run(chromedp.SetValue(chromedp.CSS("#ev-sha"), strings.Repeat("ab", 32)),
		chromedp.SetValue(chromedp.CSS("#ev-size"), "512110190592"),
		chromedp.Click(chromedp.CSS(`form[action$="/evidence"] button`)),
		chromedp.WaitVisible(`//a[contains(., "`+caseNumber+`-E001")]`))
	alvarez.screenshot("05-case-page")
	alvarez.run(chromedp.Click(`//a[contains(., "`+caseNumber+`-E001")]`), chromedp.WaitVisible(chromedp.CSS("#chain-valid")))
	evPath := alvarez.path()
	alvarez.screenshot("06-exhibit")
	foster.seesNothing(caseNumber, reqPath, casePath, evPath)

	// 4. CSP's liaison refers the case to the FBI.
	chen := signIn(t, s, exe, "lt.chen@csp.example")
	chen.open(casePath+"/refer", "#to")
	chen.run(chromedp.SetValue(chromedp.CSS("#to"), demo.AgencyID("fbi")),
		chromedp.SetValue(chromedp.CSS("#reason"), "REFERRAL_REASON_INTERSTATE"),
		chromedp.SetValue(chromedp.CSS("#summary"), "Proceeds moved out of state"),
		chromedp.SetValue(chromedp.CSS("#action"), "Open a federal investigation"),
		chromedp.Click(chromedp.CSS(`main button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#referral-state")))
	require.Equal(t, "Submitted", chen.text("#referral-state"))
	refPath := chen.path()
	chen.screenshot("07-referral-sent")
	foster.seesNothing(caseNumber, reqPath, casePath, evPath, refPath)

	// 5. The FBI liaison accepts it and then reads the case.
	harris := signIn(t, s, exe, "sa.harris@fbi.example")
	harris.open("/referrals", "h1")
	harris.screenshot("08-fbi-inbox")
	harris.open(refPath, "#referral-state")
	require.Contains(t, harris.text("main"), "Proceeds moved out of state")
	harris.run(chromedp.Click(chromedp.CSS(`form[action$="/acknowledge"] button`)),
		chromedp.WaitVisible(`//strong[@id="referral-state" and .="Acknowledged"]`), chromedp.Sleep(300*time.Millisecond),
		chromedp.Click(chromedp.CSS(`form[action$="/accept"] button`)), chromedp.WaitVisible(`//strong[@id="referral-state" and .="Accepted"]`))
	harris.open(casePath, "#case-number")
	require.Equal(t, caseNumber, harris.text("#case-number"), "the FBI now reads the case")
	harris.screenshot("09-fbi-case")
	foster.seesNothing(caseNumber, reqPath, casePath, evPath, refPath)

	// CSP's supervisor sees how each agency holds the case, and a share with
	// Hartford (whose agreement with CSP lapsed) needs an override, asked
	// for next to its field.
	brooks.open(casePath, "#participants")
	parts := brooks.text("#participants")
	require.Contains(t, parts, "FBI New Haven Field Office")
	require.Regexp(t, `referral CTCSP0000-\d{4}-R\d{6}`, parts)
	brooks.run(chromedp.Click(chromedp.CSS(`#participants summary`)), chromedp.WaitVisible(chromedp.CSS("#share-reason")),
		chromedp.SetValue(chromedp.CSS("#share-target"), "agency:"+demo.AgencyID("hartford")),
		chromedp.SetValue(chromedp.CSS("#share-rel"), "RELATION_VIEWER"),
		chromedp.SetValue(chromedp.CSS("#share-reason"), "Victim is a Hartford business"),
		chromedp.Click(chromedp.CSS(`form[action$="/participants"] button`)), chromedp.WaitVisible(chromedp.CSS(`#err-overrideReason`)))
	require.Contains(t, brooks.text(`#err-overrideReason`), "expired on 2026-06-30")
	brooks.screenshot("10a-share-needs-override")
	brooks.run(chromedp.SetValue(chromedp.CSS("#share-target"), "agency:"+demo.AgencyID("hartford")),
		chromedp.SetValue(chromedp.CSS("#share-rel"), "RELATION_VIEWER"),
		chromedp.SetValue(chromedp.CSS("#share-reason"), "Victim is a Hartford business"),
		chromedp.SetValue(chromedp.CSS("#share-override"), "MOU renewal pending; victim needs updates"),
		chromedp.Click(chromedp.CSS(`form[action$="/participants"] button`)),
		chromedp.WaitVisible(`//td[contains(., "override: MOU renewal pending")]`))
	brooks.screenshot("10b-participants")

	// The lead agency's auditor reads the disclosure report.
	ellis := signIn(t, s, exe, "aud.ellis@csp.example")
	ellis.open("/audit?case="+strings.TrimPrefix(casePath, "/cases/"), "#csv") // auditors read no case, so by id
	require.Contains(t, ellis.text("main"), "sa.harris@fbi.example")
	ellis.screenshot("10-disclosure-report")
	foster.screenshot("11-new-haven-sees-nothing")

	// Sign-out ends the session: the next page asks to sign in again.
	evans.run(chromedp.Click(chromedp.CSS(`header form button`)), chromedp.WaitVisible(chromedp.CSS("#signin")))
	evans.open("/", "#signin")

	t.Logf("page times (navigation to visible, headless Chromium, whole system on this machine):\n%s", strings.Join(timings, "\n"))
}
