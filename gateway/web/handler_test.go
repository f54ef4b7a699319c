package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/casebridge/casebridge/gateway/web"
)

// newApp builds the app against connections that are never used: these
// tests stop before any API call.
func newApp(t *testing.T, now *time.Time, public string) *web.App {
	t.Helper()
	conn, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	conns := map[string]*grpc.ClientConn{"cases": conn, "evidence": conn, "referrals": conn, "liaison": conn, "audit": conn,
		"notifications": conn, "reports": conn}
	a, err := web.New(web.Config{Conns: conns, PublicURL: public, IssuerURL: "http://idp.test", ClientID: "c",
		SessionKey: make([]byte, web.KeySize), Now: func() time.Time { return *now }})
	require.NoError(t, err)
	return a
}

func TestUnauthenticatedPagesGoToSignIn(t *testing.T) {
	t.Parallel()
	now := time.Now()
	a := newApp(t, &now, "https://casebridge.test")
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/cases?status=OPEN", nil))
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, "/signin?next="+url.QueryEscape("/cases?status=OPEN"), rec.Header().Get("Location"))

	// A POST without a session never acts.
	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/cases", strings.NewReader("case.title=x")))
	require.Equal(t, http.StatusUnauthorized, rec.Code)

	// A forged cookie is no session.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: "casebridge_session", Value: "AAAA"})
	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	require.Equal(t, http.StatusSeeOther, rec.Code)
}

func TestCSRFIsRequiredOnStateChanges(t *testing.T) {
	t.Parallel()
	now := time.Now()
	a := newApp(t, &now, "http://casebridge.test")
	post := func(body string, header string) int {
		req := httptest.NewRequest(http.MethodPost, "/cases", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if header != "" {
			req.Header.Set("X-CSRF-Token", header)
		}
		req.AddCookie(web.SessionCookie(a, "det.alvarez@csp.example", "right-token", now))
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		return rec.Code
	}
	require.Equal(t, http.StatusForbidden, post("case.title=x", ""), "no token")
	require.Equal(t, http.StatusForbidden, post("case.title=x&csrf=wrong", ""), "wrong token")
	require.Equal(t, http.StatusForbidden, post("case.title=x", "wrong"), "wrong header")
	// With the right token the request reaches the API (here unreachable: 503).
	require.NotEqual(t, http.StatusForbidden, post("case.title=x&csrf=right-token", ""))
	require.NotEqual(t, http.StatusForbidden, post("case.title=x", "right-token"))
}

func TestIdleSessionIsLockedAndCookieFlags(t *testing.T) {
	t.Parallel()
	now := time.Now()
	a := newApp(t, &now, "https://casebridge.test")
	cookie := web.SessionCookie(a, "det.alvarez@csp.example", "c", now.Add(-31*time.Minute))
	req := httptest.NewRequest(http.MethodGet, "/agencies", nil)
	req.AddCookie(cookie)
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Contains(t, rec.Header().Get("Location"), "locked=1", "31 minutes idle: locked, sign in again")

	// 29 minutes idle: still open, and the activity refreshes the cookie,
	// which is HttpOnly, Secure (https public URL) and SameSite=Lax.
	req = httptest.NewRequest(http.MethodGet, "/signout", nil) // any page; this one makes no API call
	req.AddCookie(web.SessionCookie(a, "det.alvarez@csp.example", "c", now.Add(-29*time.Minute)))
	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)

	req = httptest.NewRequest(http.MethodPost, "/signout", strings.NewReader("csrf=c"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(web.SessionCookie(a, "det.alvarez@csp.example", "c", now.Add(-29*time.Minute)))
	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	var set []*http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "casebridge_session" {
			set = append(set, c)
		}
	}
	require.NotEmpty(t, set)
	for _, c := range set {
		require.True(t, c.HttpOnly)
		require.True(t, c.Secure)
		require.Equal(t, http.SameSiteLaxMode, c.SameSite)
	}
	require.Equal(t, -1, set[len(set)-1].MaxAge, "sign-out clears the session")
}
