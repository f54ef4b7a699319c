package auth_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/auth/devissuer"
)

// hartfordIssuer vouches for Hartford only, maps two groups and requires
// MFA; rejections are observed the way the app audits them.
func hartfordIssuer(t *testing.T) (*testIssuer, *auth.Authenticator, *memDirectory, func() []auth.Rejection) {
	t.Helper()
	ti := newTestIssuer(t)
	dir := &memDirectory{users: map[[2]string]auth.Principal{
		{"hartford-idp", "u-1"}: {UserID: "id-1", Email: "ofc@hartford.example", AgencyORI: "CT0006400", Roles: []string{"detective"}},
		// Bound to this issuer in another agency (by an earlier, wider
		// configuration): still refused.
		{"hartford-idp", "u-csp"}: {UserID: "id-2", Email: "x@csp.example", AgencyORI: "CTCSP0000", Roles: []string{"admin"}},
	}}
	var mu sync.Mutex
	var seen []auth.Rejection
	a := auth.NewAuthenticator([]auth.IssuerConfig{{
		Name: "hartford-idp", URL: ti.url, Audience: devissuer.Audience, Agencies: []string{"ct0006400"},
		AgencyClaim: "ori", RolesClaim: "groups", RequireMFA: true,
		RoleMap: map[string][]string{"HPD-Detectives": {"detective"}, "HPD-Sergeants": {"supervisor"}},
	}}, dir, auth.WithRejectionObserver(func(_ context.Context, r auth.Rejection) {
		mu.Lock()
		seen = append(seen, r)
		mu.Unlock()
	}))
	return ti, a, dir, func() []auth.Rejection {
		mu.Lock()
		defer mu.Unlock()
		return append([]auth.Rejection(nil), seen...)
	}
}

func TestIssuerVouchesOnlyForItsAgencies(t *testing.T) {
	t.Parallel()
	ti, a, _, seen := hartfordIssuer(t)
	ctx := t.Context()
	mfa := func(c map[string]any) { c["amr"] = []string{"pwd", "mfa"} }

	_, err := a.Authenticate(ctx, ti.sign(t, "u-1", func(c map[string]any) { mfa(c); c["ori"] = "CT0006400" }))
	require.NoError(t, err)

	// Speaking for the state police: refused before the directory is read,
	// and the observer learns why.
	_, err = a.Authenticate(ctx, ti.sign(t, "mallory-1", func(c map[string]any) {
		mfa(c)
		c["ori"], c["groups"] = "CTCSP0000", []string{"supervisor", "admin", "auditor"}
	}))
	requireRejected(t, err, "issuer hartford-idp does not vouch for agency CTCSP0000")
	// An account of another agency bound to this issuer: refused too.
	_, err = a.Authenticate(ctx, ti.sign(t, "u-csp", mfa))
	requireRejected(t, err, "issuer hartford-idp does not vouch for agency CTCSP0000")
	// A token naming an agency its account is not in.
	_, err = a.Authenticate(ctx, ti.sign(t, "u-1", func(c map[string]any) { mfa(c); c["ori"] = "ct0006401" }))
	requireRejected(t, err, "issuer hartford-idp does not vouch for agency CT0006401")

	// Through the interceptor, the observer learns why and what was claimed.
	ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer "+ti.sign(t, "mallory-1", func(c map[string]any) {
		mfa(c)
		c["ori"], c["email"] = "CTCSP0000", "mallory@evil.example"
	})))
	_, err = a.UnaryInterceptor()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/x.v1.S/M"}, func(context.Context, any) (any, error) {
		t.Fatal("handler reached")
		return nil, nil
	})
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	require.Equal(t, []auth.Rejection{{Reason: "issuer hartford-idp does not vouch for agency CTCSP0000", Issuer: "hartford-idp",
		Subject: "mallory-1", Email: "mallory@evil.example", AgencyORI: "CTCSP0000"}}, seen())
}

func TestRequireMFA(t *testing.T) {
	t.Parallel()
	ti, a, _, _ := hartfordIssuer(t)
	for name, amr := range map[string]any{"none": nil, "password only": []string{"pwd"}, "string": "pwd"} {
		tok := ti.sign(t, "u-1", func(c map[string]any) {
			if amr != nil {
				c["amr"] = amr
			}
		})
		_, err := a.Authenticate(t.Context(), tok)
		requireRejected(t, err, "this agency requires multi-factor sign-in")
		_ = name
	}
	for _, amr := range [][]string{{"pwd", "otp"}, {"hwk"}, {"swk"}, {"fpt"}, {"MFA"}} {
		_, err := a.Authenticate(t.Context(), ti.sign(t, "u-1", func(c map[string]any) { c["amr"] = amr }))
		require.NoError(t, err, "amr %v", amr)
	}
	// The development issuer's own tokens show MFA.
	_, err := a.Authenticate(t.Context(), ti.mint(t, "u-1"))
	require.NoError(t, err)
}

func TestIdentityClaimHygiene(t *testing.T) {
	t.Parallel()
	ti, a, _, _ := hartfordIssuer(t)
	for name, tc := range map[string]struct {
		edit   func(map[string]any)
		reason string
	}{
		"NUL in sub":        {func(c map[string]any) { c["sub"] = "u-1\x00" }, "token sub contains control characters"},
		"newline in email":  {func(c map[string]any) { c["email"] = "a@b.example\nBcc: x" }, "token email contains control characters"},
		"NUL in agency":     {func(c map[string]any) { c["ori"] = "CT0006400\x00" }, "token agency claim contains control characters"},
		"5,000-char e-mail": {func(c map[string]any) { c["email"] = strings.Repeat("a", 4990) + "@x.example" }, "token email is longer than 254 characters"},
		"256-char subject":  {func(c map[string]any) { c["sub"] = strings.Repeat("s", 256) }, "token sub is longer than 255 characters"},
		"C1 control in sub": {func(c map[string]any) { c["sub"] = "u-\u0085" }, "token sub contains control characters"},
	} {
		_, err := a.Authenticate(t.Context(), ti.sign(t, "u-1", func(c map[string]any) { c["amr"] = []string{"otp"}; tc.edit(c) }))
		requireRejected(t, err, tc.reason)
		_ = name
	}
	_, err := a.Authenticate(t.Context(), ti.sign(t, strings.Repeat("s", 255), func(c map[string]any) {
		c["amr"] = []string{"otp"}
		c["email"] = strings.Repeat("a", 244) + "@x.example"
	}))
	requireRejected(t, err, "unknown or inactive user") // within the limits: only unknown
}

func TestLoadIssuersFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "issuers.yaml")
		require.NoError(t, os.WriteFile(p, []byte(s), 0o600))
		return p
	}
	got, err := auth.LoadIssuersFile(write(`
issuers:
  - name: hartford-entra
    url: https://login.microsoftonline.com/tenant/v2.0
    audience: api://casebridge
    agencies: [ct0006400]
    claims: {email: preferred_username, roles: groups}
    roles:
      HPD-Detectives: [detective]
    requireMfa: true
  - name: ct-state
    url: https://idp.ct.gov/realms/cjis
    audience: casebridge
    agencies: ["*"]
    stateWide: true
    claims: {agency: ori}
    mfaAcr: [urn:ct:mfa]
`))
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, []string{"CT0006400"}, got[0].Agencies)
	require.Equal(t, "preferred_username", got[0].EmailClaim)
	require.Equal(t, "groups", got[0].RolesClaim)
	require.True(t, got[0].RequireMFA)
	require.Equal(t, map[string][]string{"HPD-Detectives": {"detective"}}, got[0].RoleMap)
	require.True(t, got[1].StateWide)
	require.Equal(t, "ori", got[1].AgencyClaim)
	require.Equal(t, "email", got[1].EmailClaim)

	for name, doc := range map[string]string{
		"misspelt key":     "issuers:\n  - {name: a, url: 'https://a.example', audience: x, agencies: [CT0006400], requireMFA: true}\n",
		"star, not marked": "issuers:\n  - {name: a, url: 'https://a.example', audience: x, agencies: ['*']}\n",
		"no agencies":      "issuers:\n  - {name: a, url: 'https://a.example', audience: x}\n",
		"empty":            "issuers: []\n",
	} {
		_, err := auth.LoadIssuersFile(write(doc))
		require.Error(t, err, name)
	}
}
