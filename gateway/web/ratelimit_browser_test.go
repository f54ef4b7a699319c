package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/pkg/rpc"
)

// A user who outruns the per-user rate limit gets a plain-language page
// (429 "Slow down", how long to wait, nothing lost) — not an error code.
func TestRateLimitMessageInBrowser(t *testing.T) {
	t.Parallel()
	exe := chromiumPath(t)
	s := apptest.Start(t, func(c *app.Config) { c.UserRate = &rpc.RateLimit{Rate: 0.02, Burst: 25} })
	r := s.Do(t, "det.alvarez@csp.example", "POST", "/v1/cases", map[string]any{"title": "Rate-limited in the browser"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	b := signIn(t, s, exe, "det.alvarez@csp.example")
	var body string
	for i := 0; i < 40; i++ {
		b.run(chromedp.Navigate(b.base+"/cases/"+r.Str("id")), chromedp.WaitVisible(chromedp.CSS("h1")))
		if b.text("h1") == "Slow down" {
			body = b.text("main")
			break
		}
	}
	require.Contains(t, body, "You are going faster than Casebridge allows", "never throttled?")
	require.Contains(t, body, "Nothing was lost")
	require.True(t, strings.Contains(body, "seconds"), body)
	b.run(chromedp.EmulateViewport(375, 800))
	b.screenshot("rate-limited-375")
}
