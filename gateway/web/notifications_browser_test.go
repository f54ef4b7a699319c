package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
)

// TestNotificationsInBrowser: Hartford submits an assistance request; CSP's
// supervisor sees the bell's count, opens the inbox and the request from
// it (which marks it read), and chooses e-mail preferences; CSP's admin
// adds a webhook (a wrong URL is refused next to its field), sends a test
// and reads the delivery log.
func TestNotificationsInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	var hits atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Casebridge-Signature") == "" {
			http.Error(w, "unsigned", http.StatusUnauthorized)
			return
		}
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	s := apptest.Start(t, func(c *app.Config) {
		c.WebhookAllowPrivate = true
		c.JobPollInterval = 200 * time.Millisecond
	})
	id := s.Do(t, "ofc.evans@hartford.example", "POST", "/v1/referrals", map[string]any{
		"kind": "REFERRAL_KIND_ASSISTANCE_REQUEST", "toAgencyId": demo.AgencyID("csp"), "summary": "Ransomware at the town hall",
		"assistanceRequest": map[string]any{"helpWanted": []string{"HELP_WANTED_TECHNICAL_ADVICE"}, "urgency": "URGENCY_ROUTINE",
			"contact": map[string]any{"name": "Ofc. Evans", "email": "ofc.evans@hartford.example"}}}).Str("id")
	number := s.Do(t, "ofc.evans@hartford.example", "POST", "/v1/referrals/"+id+":submit", map[string]any{}).Str("referralNumber")
	require.NotEmpty(t, number)
	require.Eventually(t, func() bool {
		return s.Do(t, "sgt.brooks@csp.example", "GET", "/v1/notifications:unreadCount", nil).Get("unread") == float64(1)
	}, 30*time.Second, 100*time.Millisecond)

	brooks := signIn(t, s, exe, "sgt.brooks@csp.example")
	require.Equal(t, "1", brooks.text("#bell .count"))
	require.Equal(t, "Notifications, 1 unread", get(brooks, chromedp.AttributeValue(chromedp.CSS("#bell"), "aria-label")).Value)
	brooks.run(chromedp.Click(chromedp.CSS("#bell")), chromedp.WaitVisible(chromedp.CSS("#inbox")))
	require.Contains(t, brooks.text("#inbox"), "New referral "+number+" received")
	require.NotContains(t, brooks.text("#inbox"), "Ransomware")
	brooks.screenshot("20-inbox")
	brooks.run(chromedp.Click(`//li[contains(., "`+number+`")]//button[@value="1"]`), chromedp.WaitVisible(chromedp.CSS("#referral-state")))
	require.Equal(t, "/referrals/"+id, brooks.path())
	brooks.open("/notifications", "#inbox")
	require.Equal(t, 0, len(get(brooks, chromedp.Nodes(chromedp.CSSAll("#bell .count"), chromedp.AtLeast(0)))), "read: no count")

	brooks.open("/notifications/preferences", "fieldset")
	for _, e := range []string{"referral.submitted", "referral.acknowledged", "case.shared"} {
		brooks.run(chromedp.Click(chromedp.CSS(`input[value="` + e + `"]`)))
	}
	brooks.run(chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`.notice[role="status"]`)))
	checked := get(brooks, chromedp.Nodes(chromedp.CSSAll(`input[name="emailEvents"]:checked`), chromedp.AtLeast(0)))
	require.Len(t, checked, len(s.Do(t, "sgt.brooks@csp.example", "GET", "/v1/me/notificationPreferences", nil).Get("availableEvents").([]any))-3)
	brooks.screenshot("21-preferences")

	// CSP's admin manages the agency's webhooks.
	admin := signIn(t, s, exe, "admin@csp.example")
	admin.open("/agencies/"+demo.AgencyID("csp"), "h1")
	admin.run(chromedp.Click(`//a[contains(., "Webhooks of your agency")]`), chromedp.WaitVisible(chromedp.CSS(`#webhook\.url`)))
	admin.run(chromedp.SetValue(chromedp.CSS(`#webhook\.url`), "ftp://soc.csp.example/in"),
		chromedp.SetValue(chromedp.CSS(`#webhook\.secret`), "a-long-enough-secret"),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`#err-webhook\.url`)))
	require.Contains(t, admin.text(`#err-webhook\.url`), "http or https")
	admin.screenshot("22-webhook-field-error")
	admin.run(chromedp.SetValue(chromedp.CSS(`#webhook\.url`), rcv.URL+"/casebridge"),
		chromedp.SetValue(chromedp.CSS(`#webhook\.secret`), "a-long-enough-secret"),
		chromedp.SetValue(chromedp.CSS(`#webhook\.description`), "SOC intake"),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#deliveries")))
	hookPath := admin.path()
	admin.run(chromedp.Click(chromedp.CSS(`form[action$="/test"] button`)), chromedp.WaitVisible(chromedp.CSS(`.notice[role="status"]`)))
	require.Eventually(t, func() bool { return hits.Load() == 1 }, 30*time.Second, 100*time.Millisecond)
	admin.open(hookPath, "#deliveries")
	require.Contains(t, admin.text("#deliveries"), "webhook.test")
	require.Contains(t, admin.text("#deliveries"), "delivered (204)")
	admin.screenshot("23-webhook-log")

	// Narrow screen: the inbox still reads (no horizontal scroll needed).
	brooks.run(chromedp.EmulateViewport(375, 800))
	brooks.open("/notifications", "#inbox")
	w := get(brooks, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	require.LessOrEqual(t, w, 375+1)
	brooks.screenshot("24-inbox-375")

	// Another agency's user cannot reach CSP's webhooks.
	evans := signIn(t, s, exe, "ofc.evans@hartford.example")
	evans.open(hookPath, "h1")
	require.True(t, strings.Contains(evans.text("main"), "Not allowed"), evans.text("main"))
}
