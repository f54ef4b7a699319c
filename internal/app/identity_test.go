package app_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/auth/devissuer"
)

// stateIdP is a stand-in for a real OIDC provider (the state's IdP): its own
// key, discovery and JWKS on its own server, tokens carrying agency (ORI)
// and roles claims.
type stateIdP struct {
	iss *devissuer.Issuer
	url string
}

func newStateIdP(t *testing.T) *stateIdP {
	t.Helper()
	iss, err := devissuer.Load(t.TempDir())
	require.NoError(t, err)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	url := srv.URL + "/dev/oidc"
	mux.Handle("/dev/oidc/", iss.Handler(url))
	return &stateIdP{iss: iss, url: url}
}

func (s *stateIdP) config() auth.IssuerConfig {
	return auth.IssuerConfig{Name: "state-idp", URL: s.url, Audience: "casebridge", AgencyClaim: "ori", RolesClaim: "groups",
		Agencies: []string{auth.StateWide}, StateWide: true,
		RoleMap: map[string][]string{"detective": {"detective"}, "supervisor": {"supervisor"}}}
}

func (s *stateIdP) token(t *testing.T, edit func(map[string]any)) string {
	t.Helper()
	now := time.Now()
	c := map[string]any{"iss": s.url, "sub": "u-1001", "aud": "casebridge", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "email": "det.new@hartford.example", "ori": "CT0006400",
		"groups": []string{"detective", "Domain Users"}}
	if edit != nil {
		edit(c)
	}
	tok, err := s.iss.Sign(c)
	require.NoError(t, err)
	return tok
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func TestOIDCProvisioningAndTokenRejections(t *testing.T) {
	t.Parallel()
	idp := newStateIdP(t)
	s := apptest.Start(t, func(c *app.Config) { c.Issuers = []auth.IssuerConfig{idp.config()} })
	ctx := context.Background()

	// First sight: provisioned in the agency the token names, with the
	// mapped roles among its groups.
	r := s.Do(t, "", "GET", "/v1/cases", nil, bearer(idp.token(t, nil))...)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	var roles []string
	var agency string
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT roles, agency_id::text FROM liaison.users WHERE issuer = 'state-idp' AND subject = 'u-1001'`).Scan(&roles, &agency))
	require.Equal(t, []string{"detective"}, roles)
	require.Equal(t, demo.AgencyID("hartford"), agency)
	// The new detective opens a case for Hartford.
	c := s.Do(t, "", "POST", "/v1/cases", map[string]any{"title": "from the IdP"}, bearer(idp.token(t, nil))...)
	require.Equal(t, http.StatusOK, c.Status, string(c.Raw))
	require.Equal(t, "CT0006400", c.Str("leadAgencyOri"))

	// Roles follow the claims: promoted in the IdP, promoted here.
	r = s.Do(t, "", "GET", "/v1/cases", nil, bearer(idp.token(t, func(m map[string]any) { m["groups"] = []string{"supervisor"} }))...)
	require.Equal(t, http.StatusOK, r.Status)
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT roles FROM liaison.users WHERE subject = 'u-1001'`).Scan(&roles))
	require.Equal(t, []string{"supervisor"}, roles)

	now := time.Now()
	for name, edit := range map[string]func(map[string]any){
		"expired":        func(m map[string]any) { m["exp"] = now.Add(-time.Minute).Unix(); m["iat"] = now.Add(-time.Hour).Unix() },
		"not yet valid":  func(m map[string]any) { m["nbf"] = now.Add(time.Hour).Unix() },
		"wrong audience": func(m map[string]any) { m["aud"] = "someone-else" },
		"wrong issuer":   func(m map[string]any) { m["iss"] = "https://evil.example/oidc" },
		"unknown agency": func(m map[string]any) { m["ori"] = "CT9999999"; m["sub"] = "u-2002"; m["email"] = "x@y.example" },
		"no agency":      func(m map[string]any) { delete(m, "ori"); m["sub"] = "u-3003"; m["email"] = "z@y.example" },
	} {
		r := s.Do(t, "", "GET", "/v1/cases", nil, bearer(idp.token(t, edit))...)
		require.Equal(t, http.StatusUnauthorized, r.Status, "%s: %s", name, r.Raw)
	}
	// Tampered: change the payload, keep the signature.
	parts := strings.Split(idp.token(t, nil), ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), "CT0006400", "CTCSP0000", 1))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	require.Equal(t, http.StatusUnauthorized, s.Do(t, "", "GET", "/v1/cases", nil, bearer(tampered)...).Status)
	// alg: none.
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	require.Equal(t, http.StatusUnauthorized, s.Do(t, "", "GET", "/v1/cases", nil, bearer(none)...).Status)
	// Signed by a key the IdP never published (another issuer claiming its URL).
	other, err := devissuer.Load(t.TempDir())
	require.NoError(t, err)
	forged, err := other.Sign(map[string]any{"iss": idp.url, "sub": "u-1001", "aud": "casebridge", "exp": now.Add(time.Hour).Unix(), "ori": "CT0006400"})
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, s.Do(t, "", "GET", "/v1/cases", nil, bearer(forged)...).Status)
}

func TestDirectoryAdministration(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	csp, hartford := demo.AgencyID("csp"), demo.AgencyID("hartford")

	// Everyone reads the directory.
	r := s.Do(t, "sa.harris@fbi.example", "GET", "/v1/agencies", nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Len(t, r.List("agencies"), len(demo.Agencies))
	r = s.Do(t, "sa.harris@fbi.example", "GET", "/v1/agencies/"+csp, nil)
	require.Equal(t, "CTCSP0000", r.Str("ori"))
	require.Equal(t, "AGENCY_KIND_STATE", r.Str("kind"))
	// Rosters stay within the agency.
	require.Equal(t, http.StatusOK, s.Do(t, "det.alvarez@csp.example", "GET", "/v1/agencies/"+csp+"/users", nil).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, "sa.harris@fbi.example", "GET", "/v1/agencies/"+csp+"/users", nil).Status)

	// Admins manage their own agency's users only.
	newUser := map[string]any{"email": "det.new@csp.example", "displayName": "Det. New", "roles": []string{"detective"}}
	require.Equal(t, http.StatusForbidden, s.Do(t, "det.alvarez@csp.example", "POST", "/v1/agencies/"+csp+"/users", newUser).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, "admin@csp.example", "POST", "/v1/agencies/"+hartford+"/users", newUser).Status)
	bad := s.Do(t, "admin@csp.example", "POST", "/v1/agencies/"+csp+"/users", map[string]any{"email": "x@csp.example", "roles": []string{"god"}})
	require.Equal(t, http.StatusBadRequest, bad.Status)
	u := s.Do(t, "admin@csp.example", "POST", "/v1/agencies/"+csp+"/users", newUser)
	require.Equal(t, http.StatusOK, u.Status, string(u.Raw))
	require.Equal(t, csp, u.Str("agencyId"))
	dup := s.Do(t, "admin@csp.example", "POST", "/v1/agencies/"+csp+"/users", newUser)
	require.Equal(t, http.StatusConflict, dup.Status)

	// The new account is bound on first sign-in and works at once.
	r = s.Do(t, "det.new@csp.example", "POST", "/v1/cases", map[string]any{"title": "first case"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Equal(t, "CTCSP0000", r.Str("leadAgencyOri"))

	// Deactivation refuses the very next request, whatever token is held.
	alvarez := demo.UserID("det.alvarez@csp.example")
	tok := s.Token(t, "det.alvarez@csp.example")
	require.Equal(t, http.StatusOK, s.Do(t, "", "GET", "/v1/cases", nil, bearer(tok)...).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, "sgt.fox@hartford.example", "POST", "/v1/agencies/"+csp+"/users/"+alvarez+":deactivate", map[string]any{}).Status)
	d := s.Do(t, "admin@csp.example", "POST", "/v1/agencies/"+csp+"/users/"+alvarez+":deactivate", map[string]any{})
	require.Equal(t, http.StatusOK, d.Status, string(d.Raw))
	require.Equal(t, false, d.Get("active"))
	require.Equal(t, http.StatusUnauthorized, s.Do(t, "", "GET", "/v1/cases", nil, bearer(tok)...).Status)

	// Reactivate with PATCH: the tokens held before the deactivation stay
	// refused (their sessions ended with it); a new sign-in works.
	p := s.Do(t, "admin@csp.example", "PATCH", "/v1/agencies/"+csp+"/users/"+alvarez, map[string]any{"active": true})
	require.Equal(t, http.StatusOK, p.Status, string(p.Raw))
	require.Equal(t, http.StatusUnauthorized, s.Do(t, "", "GET", "/v1/cases", nil, bearer(tok)...).Status)
	nextSecond()
	require.Equal(t, http.StatusOK, s.Do(t, "det.alvarez@csp.example", "GET", "/v1/cases", nil).Status)
}

// nextSecond waits for the next whole second: tokens carry "iat" in whole
// seconds, and one issued in the second its sessions were ended is refused.
func nextSecond() {
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
}
