package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
)

// sessionCookie reads the browser's session cookie (HttpOnly, so through
// the DevTools protocol).
func (b *browser) sessionCookie() string {
	b.t.Helper()
	res := get(b, func(ctx context.Context, t *chromedp.Target) (*network.GetCookiesResult, error) {
		r, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base + "/"}})
		return &r, err
	})
	for _, c := range res.Cookies {
		if c.Name == "casebridge_session" {
			return c.Value
		}
	}
	b.t.Fatalf("%s has no session cookie", b.email)
	return ""
}

// replay sends a copy of a session cookie from outside the browser and
// returns where the application sends it.
func replay(t *testing.T, s *apptest.System, cookie string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL+"/", nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: "casebridge_session", Value: cookie})
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// TestUserAdministrationInBrowser: an admin adds an account and proposes
// an auditor role; it gives no access until a second admin approves it in
// their own browser; nobody sees role or active forms for their own
// account; a deactivated user's open session ends at their next click; a
// signed-out session cookie replayed is sent to sign in.
func TestUserAdministrationInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	s := apptest.Start(t)
	alvarezID, adminID := demo.UserID("det.alvarez@csp.example"), demo.UserID("admin@csp.example")

	admin := signIn(t, s, exe, "admin@csp.example")
	admin.open("/users", "#add")
	require.Contains(t, admin.text("main"), "det.alvarez@csp.example")
	require.Contains(t, admin.text("main"), "Nothing is waiting.")
	admin.run(chromedp.SetValue(chromedp.CSS("#email"), "det.new@csp.example"),
		chromedp.SetValue(chromedp.CSS("#dname"), "Det. New"),
		chromedp.Click(chromedp.CSS(`input[name="user.roles"][value="detective"]`)),
		chromedp.Click(chromedp.CSS(`form[action="/users"] button`)), chromedp.WaitVisible(chromedp.CSS("#current-roles")))
	require.Equal(t, "det.new@csp.example", admin.text("h1"))
	require.Equal(t, "detective", admin.text("#current-roles"))
	require.Contains(t, admin.text("main"), "Waiting for first sign-in")
	admin.screenshot("20-user-added")

	// Own account: no role or active form.
	admin.open("/users/"+adminID, "#self-note")
	require.Zero(t, get(admin, countNodes(`form[action$="/roles"], form[action$="/deactivate"]`)))

	// Propose auditor for Det. Alvarez.
	alvarez := signIn(t, s, exe, "det.alvarez@csp.example")
	admin.open("/users/"+alvarezID, `input[value="auditor"]`)
	admin.run(chromedp.Click(chromedp.CSS(`input[name="roleGrant.roles"][value="auditor"]`)),
		chromedp.Click(chromedp.CSS(`form[action$="/roles"] button`)), chromedp.WaitVisible(chromedp.CSS("#pending")))
	require.Contains(t, admin.text("main"), "takes effect when a second admin")
	require.Equal(t, "detective", admin.text("#current-roles"), "not in force yet")
	require.Zero(t, get(admin, countNodes(`#pending + div form[action$="/approve"]`)), "the proposer is offered no approval")
	admin.screenshot("21-role-proposed")
	c := s.Do(t, "det.alvarez@csp.example", "POST", "/v1/cases", map[string]any{"title": "grant fixture"})
	require.Equal(t, http.StatusOK, c.Status)
	report := "/audit?case=" + c.Str("id")
	alvarez.open(report, "h1")
	require.Contains(t, alvarez.text("main"), "Not allowed")

	// The second admin approves from the list.
	ford := signIn(t, s, exe, "adm.ford@csp.example")
	ford.open("/users", "#pending")
	require.Contains(t, ford.text("main"), "auditor, detective")
	ford.screenshot("22-pending-approval")
	ford.run(chromedp.Click(chromedp.CSS(`form[action="/users/`+alvarezID+`/approve"] button`)),
		chromedp.WaitVisible(`//p[@role="status" and contains(., "approved")]`))
	alvarez.open(report, "#csv")
	require.NotContains(t, alvarez.text("main"), "Not allowed")
	require.Contains(t, alvarez.text("main"), "det.alvarez@csp.example")
	ford.open("/users/"+alvarezID, "#current-roles")
	require.Equal(t, "auditor, detective", ford.text("#current-roles"))
	require.Contains(t, ford.text("main"), "Approved")

	// Deactivation ends an open session at the next click.
	brooks := signIn(t, s, exe, "sgt.brooks@csp.example")
	ford.open("/users/"+demo.UserID("sgt.brooks@csp.example"), `form[action$="/deactivate"]`)
	ford.run(chromedp.Click(chromedp.CSS(`form[action$="/deactivate"] button`)), chromedp.WaitVisible(`//p[@role="status" and contains(., "deactivated")]`))
	brooks.open("/cases", "#signin")

	// Sign-out ends the session on the server: its cookie, replayed, is
	// sent to sign in.
	evans := signIn(t, s, exe, "ofc.evans@hartford.example")
	cookie := evans.sessionCookie()
	code, loc := replay(t, s, cookie)
	require.Equal(t, http.StatusOK, code, "a live session works from a copy too (%s)", loc)
	evans.run(chromedp.Click(chromedp.CSS(`header form[action="/signout"] button`)), chromedp.WaitVisible(chromedp.CSS("#signin")))
	code, loc = replay(t, s, cookie)
	require.Equal(t, http.StatusSeeOther, code)
	require.True(t, strings.HasPrefix(loc, "/signin"), loc)

	// "Sign out everywhere" ends the other browsers' sessions too.
	foster1 := signIn(t, s, exe, "det.foster@newhaven.example")
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second))) // a second session, issued later
	foster2 := signIn(t, s, exe, "det.foster@newhaven.example")
	foster2.run(chromedp.Click(chromedp.CSS(`header form[action="/signout/everywhere"] button`)), chromedp.WaitVisible(chromedp.CSS("#signin")))
	require.Contains(t, foster2.text("main"), "signed out on every device")
	foster1.open("/cases", "#signin")

	// At 375 px the users page still works.
	admin.run(chromedp.EmulateViewport(375, 800))
	admin.open("/users", "#add")
	admin.screenshot("23-users-375px")
}

func countNodes(sel string) chromedp.Action[int] {
	return func(ctx context.Context, t *chromedp.Target) (int, error) {
		var n int
		v, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+"`"+sel+"`"+`).length`))
		if err == nil {
			n = v
		}
		return n, err
	}
}
