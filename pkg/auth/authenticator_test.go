package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/auth/devissuer"
)

// memDirectory is an in-memory Directory; the Postgres one is tested end to
// end elsewhere.
type memDirectory struct {
	mu    sync.Mutex
	users map[[2]string]auth.Principal
	err   error // returned for every lookup when set (an outage)
}

func (d *memDirectory) ResolveUser(_ context.Context, c *auth.Claims) (*auth.Principal, error) {
	issuerName, subject := c.Issuer, c.Subject
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return nil, d.err
	}
	p, ok := d.users[[2]string{issuerName, subject}]
	if !ok {
		return nil, auth.ErrUnknownUser
	}
	return &p, nil
}

func (d *memDirectory) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.err = err
}

var everyAgency = []string{auth.StateWide}

const (
	alvarez = "det.alvarez@csp.example"
	harris  = "sa.harris@fbi.example"
)

// testIssuer is a devissuer served over HTTP, the way the gateway serves it.
type testIssuer struct {
	*devissuer.Issuer
	url  string
	down atomic.Bool // when set, every request answers 503
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	iss, err := devissuer.Load(t.TempDir())
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(nil)
	ti := &testIssuer{Issuer: iss, url: devissuer.IssuerURL("http://" + srv.Listener.Addr().String())}
	mux := http.NewServeMux()
	mux.Handle(devissuer.PathPrefix, iss.Handler(ti.url))
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ti.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return ti
}

func (ti *testIssuer) mint(t *testing.T, subject string) string {
	t.Helper()
	tok, err := ti.Mint(ti.url, subject, subject, time.Hour)
	require.NoError(t, err)
	return tok
}

// sign signs the claims of a valid token for subject, changed by edit.
func (ti *testIssuer) sign(t *testing.T, subject string, edit func(map[string]any)) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{
		"iss": ti.url, "sub": subject, "aud": devissuer.Audience, "email": subject,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "test",
	}
	edit(claims)
	tok, err := ti.Sign(claims)
	require.NoError(t, err)
	return tok
}

type bundle struct {
	issuer *testIssuer
	dir    *memDirectory
	auth   *auth.Authenticator
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ti := newTestIssuer(t)
	dir := &memDirectory{users: map[[2]string]auth.Principal{}}
	for _, u := range []struct{ email, agency, kind, role string }{
		{alvarez, "CTCSP0000", "STATE", "detective"},
		{harris, "CTFBINH00", "FEDERAL", "liaison"},
	} {
		dir.users[[2]string{devissuer.Name, u.email}] = auth.Principal{
			UserID: "id-" + u.email, Email: u.email, AgencyORI: u.agency, AgencyKind: u.kind,
			Roles: []string{u.role}, Issuer: devissuer.Name, Subject: u.email,
		}
	}
	a := auth.NewAuthenticator([]auth.IssuerConfig{{
		Name: devissuer.Name, URL: ti.url, Audience: devissuer.Audience,
		AgencyClaim: "agency_ori", RolesClaim: "realm_access.roles", Agencies: everyAgency, StateWide: true,
	}}, dir)
	return &bundle{issuer: ti, dir: dir, auth: a}
}

func requireRejected(t *testing.T, err error, reason string) {
	t.Helper()
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	require.NotErrorIs(t, err, auth.ErrUnavailable)
	require.Equal(t, "unauthenticated: "+reason, err.Error())
}

func TestAuthenticateValidToken(t *testing.T) {
	t.Parallel()
	b := setup(t)

	p, err := b.auth.Authenticate(t.Context(), b.issuer.mint(t, alvarez))
	require.NoError(t, err)
	require.Equal(t, "id-"+alvarez, p.UserID)
	require.Equal(t, "CTCSP0000", p.AgencyORI)
	require.True(t, p.HasRole("detective"))
	require.Equal(t, devissuer.Name, p.Issuer)
}

func TestVerifyTokenReadsProvisioningClaims(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.issuer.sign(t, "new.user@csp.example", func(c map[string]any) {
		c["agency_ori"] = "CTCSP0000"
		c["realm_access"] = map[string]any{"roles": []string{"detective", "auditor"}}
	})

	c, err := b.auth.VerifyToken(t.Context(), tok)
	require.NoError(t, err)
	require.Equal(t, devissuer.Name, c.Issuer)
	require.Equal(t, b.issuer.url, c.IssuerURL)
	require.Equal(t, "new.user@csp.example", c.Subject)
	require.Equal(t, "new.user@csp.example", c.Email)
	require.Equal(t, "CTCSP0000", c.Agency)
	require.Equal(t, []string{"detective", "auditor"}, c.Roles)
	require.Equal(t, "test", c.ID)
	require.False(t, c.NotBefore.IsZero())

	_, err = b.auth.Authenticate(t.Context(), tok)
	requireRejected(t, err, "unknown or inactive user")
}

func TestAuthenticateRejectsBadTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := newTestIssuer(t) // another key, not trusted

	valid := b.issuer.mint(t, alvarez)
	header, payload, sig := splitToken(t, valid)

	tests := []struct {
		name   string
		token  string
		reason string
	}{
		{"empty", "", "missing token"},
		{"garbage", "not-a-jwt", "malformed token"},
		{
			name: "expired",
			token: b.issuer.sign(t, alvarez, func(c map[string]any) {
				c["iat"] = time.Now().Add(-2 * time.Hour).Unix()
				c["nbf"] = c["iat"]
				c["exp"] = time.Now().Add(-time.Minute).Unix()
			}),
			reason: "token expired",
		},
		{
			// Two minutes ahead: inside go-oidc's own 5-minute leeway, so
			// only our 30-second check catches it.
			name: "not yet valid",
			token: b.issuer.sign(t, alvarez, func(c map[string]any) {
				c["nbf"] = time.Now().Add(2 * time.Minute).Unix()
			}),
			reason: "token not yet valid",
		},
		{
			name:   "wrong audience",
			token:  b.issuer.sign(t, alvarez, func(c map[string]any) { c["aud"] = "someone-else" }),
			reason: "invalid token",
		},
		{
			name:   "no audience",
			token:  b.issuer.sign(t, alvarez, func(c map[string]any) { delete(c, "aud") }),
			reason: "invalid token",
		},
		{
			name:   "untrusted issuer",
			token:  other.mint(t, alvarez),
			reason: "untrusted issuer",
		},
		{
			name:   "trusted iss signed with another key",
			token:  other.sign(t, alvarez, func(c map[string]any) { c["iss"] = b.issuer.url }),
			reason: "invalid token",
		},
		{
			name:   "alg none",
			token:  encodeSegment(t, map[string]any{"alg": "none", "typ": "JWT"}) + "." + payload + ".",
			reason: "invalid token",
		},
		{
			name:   "alg none with the original signature",
			token:  encodeSegment(t, map[string]any{"alg": "none", "typ": "JWT"}) + "." + payload + "." + sig,
			reason: "invalid token",
		},
		{
			// Another existing user's subject, original signature kept.
			name:   "tampered payload",
			token:  header + "." + editSegment(t, payload, func(c map[string]any) { c["sub"] = harris }) + "." + sig,
			reason: "invalid token",
		},
		{
			name:   "unknown user",
			token:  b.issuer.mint(t, "nobody@csp.example"),
			reason: "unknown or inactive user",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := b.auth.Authenticate(t.Context(), tt.token)
			require.Nil(t, p)
			requireRejected(t, err, tt.reason)
		})
	}

	// The untouched token still works: the rejections above are about the
	// changes, not the fixture.
	_, err := b.auth.Authenticate(t.Context(), valid)
	require.NoError(t, err)
}

func TestAuthenticateUnknownUserWrapsErrUnknownUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.auth.Authenticate(t.Context(), b.issuer.mint(t, "nobody@csp.example"))
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	require.ErrorIs(t, err, auth.ErrUnknownUser)
}

func TestAuthenticateDirectoryOutageIsUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.dir.fail(errors.New("connection refused"))

	_, err := b.auth.Authenticate(t.Context(), b.issuer.mint(t, alvarez))
	require.ErrorIs(t, err, auth.ErrUnavailable)
	require.NotErrorIs(t, err, auth.ErrUnauthenticated)
}

func TestAuthenticateFollowsKeyRotation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	before := b.issuer.mint(t, alvarez)
	_, err := b.auth.Authenticate(t.Context(), before) // discovers and caches the first key
	require.NoError(t, err)

	oldKID := b.issuer.KeyID()
	require.NoError(t, b.issuer.Rotate())
	require.NotEqual(t, oldKID, b.issuer.KeyID())

	after := b.issuer.mint(t, alvarez)
	require.NotEqual(t, keyID(t, before), keyID(t, after))
	_, err = b.auth.Authenticate(t.Context(), after)
	require.NoError(t, err, "a token signed with the new key verifies without a new Authenticator")

	_, err = b.auth.Authenticate(t.Context(), before)
	require.NoError(t, err, "tokens signed before the rotation stay valid")
}

func TestAuthenticateRetriesDiscoveryAfterIssuerWasDown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.issuer.mint(t, alvarez)

	b.issuer.down.Store(true)
	_, err := b.auth.Authenticate(t.Context(), tok)
	require.ErrorIs(t, err, auth.ErrUnavailable, "an unreachable issuer is an outage, not a bad token")
	require.NotErrorIs(t, err, auth.ErrUnauthenticated)

	b.issuer.down.Store(false)
	p, err := b.auth.Authenticate(t.Context(), tok)
	require.NoError(t, err)
	require.Equal(t, alvarez, p.Email)
}

func TestNewAuthenticatorDoesNotContactIssuers(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.NotFound(w, nil)
	}))
	t.Cleanup(srv.Close)

	a := auth.NewAuthenticator([]auth.IssuerConfig{{Name: "x", URL: srv.URL, Audience: "casebridge", Agencies: everyAgency, StateWide: true}}, &memDirectory{})
	require.NotNil(t, a)
	time.Sleep(50 * time.Millisecond)
	require.Zero(t, hits.Load())
}

func TestAuthenticateWaitingCallerCanGiveUp(t *testing.T) {
	t.Parallel()
	// An issuer that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	url := "http://" + ln.Addr().String() + "/dev/oidc"
	iss := newTestIssuer(t)
	tok, err := iss.Mint(url, alvarez, alvarez, time.Hour)
	require.NoError(t, err)
	a := auth.NewAuthenticator([]auth.IssuerConfig{{Name: "slow", URL: url, Audience: devissuer.Audience, Agencies: everyAgency, StateWide: true}}, &memDirectory{})

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = a.Authenticate(ctx, tok)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestValidateIssuers(t *testing.T) {
	t.Parallel()
	ok := auth.IssuerConfig{Name: "dev", URL: "http://127.0.0.1:8080/dev/oidc", Audience: "casebridge", Agencies: []string{"CT0006400"}}
	require.NoError(t, auth.ValidateIssuers([]auth.IssuerConfig{ok}))

	for name, edit := range map[string]func(*auth.IssuerConfig){
		"no name":                func(c *auth.IssuerConfig) { c.Name = "" },
		"no audience":            func(c *auth.IssuerConfig) { c.Audience = "" },
		"relative":               func(c *auth.IssuerConfig) { c.URL = "/dev/oidc" },
		"scheme":                 func(c *auth.IssuerConfig) { c.URL = "ftp://x/dev/oidc" },
		"no agencies":            func(c *auth.IssuerConfig) { c.Agencies = nil },
		"star without stateWide": func(c *auth.IssuerConfig) { c.Agencies = []string{"*"} },
		"stateWide with a list":  func(c *auth.IssuerConfig) { c.StateWide = true },
		"star and a list": func(c *auth.IssuerConfig) {
			c.Agencies, c.StateWide = []string{"*", "CT0006400"}, true
		},
		"not an ORI":          func(c *auth.IssuerConfig) { c.Agencies = []string{"hartford"} },
		"map without claim":   func(c *auth.IssuerConfig) { c.RoleMap = map[string][]string{"g": {"detective"}} },
		"map to nothing":      func(c *auth.IssuerConfig) { c.RolesClaim, c.RoleMap = "groups", map[string][]string{"g": {}} },
		"map to unknown role": func(c *auth.IssuerConfig) { c.RolesClaim, c.RoleMap = "groups", map[string][]string{"g": {"root"}} },
		"wildcard group":      func(c *auth.IssuerConfig) { c.RolesClaim, c.RoleMap = "groups", map[string][]string{"*": {"admin"}} },
	} {
		c := ok
		edit(&c)
		require.Error(t, auth.ValidateIssuers([]auth.IssuerConfig{c}, "detective", "admin"), name)
	}
	dupURL := ok
	dupURL.Name = "other"
	require.Error(t, auth.ValidateIssuers([]auth.IssuerConfig{ok, dupURL}))
	require.Panics(t, func() { auth.NewAuthenticator([]auth.IssuerConfig{{}}, &memDirectory{}) })
}

func splitToken(t *testing.T, tok string) (header, payload, sig string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	return parts[0], parts[1], parts[2]
}

func encodeSegment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

func editSegment(t *testing.T, seg string, edit func(map[string]any)) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	edit(m)
	return encodeSegment(t, m)
}

func keyID(t *testing.T, tok string) string {
	t.Helper()
	header, _, _ := splitToken(t, tok)
	b, err := base64.RawURLEncoding.DecodeString(header)
	require.NoError(t, err)
	var h struct {
		Kid string `json:"kid"`
	}
	require.NoError(t, json.Unmarshal(b, &h))
	return h.Kid
}

// A token verified once is remembered only until it expires, and the user
// is resolved anew on every request.
func TestVerifiedTokenCacheKeepsExpiryAndDirectory(t *testing.T) {
	t.Parallel()
	ti := newTestIssuer(t)
	dir := &memDirectory{users: map[[2]string]auth.Principal{
		{devissuer.Name, alvarez}: {UserID: "id", Email: alvarez, Roles: []string{"detective"}, Issuer: devissuer.Name, Subject: alvarez},
	}}
	var now atomic.Int64
	now.Store(time.Now().Unix())
	a := auth.NewAuthenticator([]auth.IssuerConfig{{Name: devissuer.Name, URL: ti.url, Audience: devissuer.Audience, Agencies: everyAgency, StateWide: true}}, dir,
		auth.WithClock(func() time.Time { return time.Unix(now.Load(), 0) }))
	tok := ti.sign(t, alvarez, func(m map[string]any) { m["exp"] = now.Load() + 60 })
	ctx := context.Background()
	_, err := a.Authenticate(ctx, tok)
	require.NoError(t, err)
	_, err = a.Authenticate(ctx, tok)
	require.NoError(t, err, "served from the cache")

	// The directory is asked every time: a removed user is refused at once.
	delete(dir.users, [2]string{devissuer.Name, alvarez})
	_, err = a.Authenticate(ctx, tok)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)

	// Past its exp the cached token is refused too.
	dir.users[[2]string{devissuer.Name, alvarez}] = auth.Principal{UserID: "id", Email: alvarez, Issuer: devissuer.Name, Subject: alvarez}
	now.Add(61)
	_, err = a.Authenticate(ctx, tok)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
}
