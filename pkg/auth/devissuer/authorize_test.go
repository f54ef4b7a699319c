package devissuer_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/casebridge/casebridge/pkg/auth/devissuer"
)

// TestCodeFlowWithPKCE walks the authorization-code flow: the sign-in page
// lists the users, a pick yields a code for the registered redirect URI only,
// the code is exchanged once, and only with the right PKCE verifier.
func TestCodeFlowWithPKCE(t *testing.T) {
	t.Parallel()
	iss, err := devissuer.Load(t.TempDir())
	require.NoError(t, err)
	issuerURL := "http://gateway.test/dev/oidc"
	h := iss.Handler(issuerURL, devissuer.WithLoginUsers([]devissuer.LoginUser{
		{Email: "det.alvarez@csp.example", Name: "Det. Maria Alvarez", Agency: "csp", Roles: []string{"detective"}},
	}))
	do := func(method, target string, form url.Values) *httptest.ResponseRecorder {
		var req *http.Request
		if form != nil {
			req = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req = httptest.NewRequest(method, target, nil)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	verifier := oauth2.GenerateVerifier()
	auth := url.Values{
		"response_type": {"code"}, "client_id": {"casebridge"}, "redirect_uri": {"http://gateway.test/signin/callback"},
		"state": {"s1"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	page := do(http.MethodGet, "/dev/oidc/authorize?"+auth.Encode(), nil)
	require.Equal(t, http.StatusOK, page.Code)
	require.Contains(t, page.Body.String(), "det.alvarez@csp.example")

	// Another site never receives a code.
	evil := url.Values{}
	for k, v := range auth {
		evil[k] = v
	}
	evil.Set("redirect_uri", "http://evil.test/cb")
	require.Equal(t, http.StatusBadRequest, do(http.MethodGet, "/dev/oidc/authorize?"+evil.Encode(), nil).Code)

	pick := func() string {
		f := url.Values{"login_email": {"det.alvarez@csp.example"}}
		for k, v := range auth {
			f[k] = v
		}
		rec := do(http.MethodPost, "/dev/oidc/authorize", f)
		require.Equal(t, http.StatusFound, rec.Code)
		loc, err := url.Parse(rec.Header().Get("Location"))
		require.NoError(t, err)
		require.Equal(t, "s1", loc.Query().Get("state"))
		return loc.Query().Get("code")
	}
	exchange := func(code, verifier string) (int, map[string]any) {
		rec := do(http.MethodPost, "/dev/oidc/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"client_id": {"casebridge"}, "redirect_uri": {"http://gateway.test/signin/callback"}, "code_verifier": {verifier}})
		var body map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		return rec.Code, body
	}

	code := pick()
	st, body := exchange(code, oauth2.GenerateVerifier())
	require.Equal(t, http.StatusBadRequest, st, "a wrong verifier is refused")
	require.Equal(t, "invalid_grant", body["error"])
	st, _ = exchange(code, verifier)
	require.Equal(t, http.StatusBadRequest, st, "a code is usable once, even after a failed attempt")

	code = pick()
	st, body = exchange(code, verifier)
	require.Equal(t, http.StatusOK, st)
	require.NotEmpty(t, body["id_token"])
	st, _ = exchange(code, verifier)
	require.Equal(t, http.StatusBadRequest, st, "replayed code")

	disc := do(http.MethodGet, "/dev/oidc/.well-known/openid-configuration", nil)
	require.Contains(t, disc.Body.String(), `"authorization_endpoint":"http://gateway.test/dev/oidc/authorize"`)
}
