package devissuer_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/pkg/auth/devissuer"
)

func TestLoadCreatesKeyOnceWithPrivatePermissions(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()

	first, err := devissuer.Load(dataDir)
	require.NoError(t, err)
	require.NotEmpty(t, first.KeyID())

	dirInfo, err := os.Stat(filepath.Join(dataDir, "dev-issuer"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), dirInfo.Mode().Perm())
	keyInfo, err := os.Stat(filepath.Join(dataDir, "dev-issuer", "signing-key.pem"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), keyInfo.Mode().Perm())

	again, err := devissuer.Load(dataDir)
	require.NoError(t, err)
	require.Equal(t, first.KeyID(), again.KeyID(), "a second Load must reuse the stored key")

	entries, err := os.ReadDir(filepath.Join(dataDir, "dev-issuer"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary files are left behind")
}

func TestLoadConcurrentFirstUseAgreesOnOneKey(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()

	const n = 8
	kids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			iss, err := devissuer.Load(dataDir)
			errs[i] = err
			if err == nil {
				kids[i] = iss.KeyID()
			}
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, kids[0], kids[i])
	}
}

func TestLoadRefusesKeyReadableByOthers(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	_, err := devissuer.Load(dataDir)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(filepath.Join(dataDir, "dev-issuer", "signing-key.pem"), 0o644))

	_, err = devissuer.Load(dataDir)
	require.ErrorContains(t, err, "accessible by other users")
}

func TestIssuerURL(t *testing.T) {
	t.Parallel()
	require.Equal(t, "http://127.0.0.1:8080/dev/oidc", devissuer.IssuerURL("http://127.0.0.1:8080"))
	require.Equal(t, "http://127.0.0.1:8080/dev/oidc", devissuer.IssuerURL("http://127.0.0.1:8080/"))
}

func TestHandlerServesDiscoveryAndPublicJWKS(t *testing.T) {
	t.Parallel()
	iss, err := devissuer.Load(t.TempDir())
	require.NoError(t, err)
	issuerURL := "http://gateway.test/dev/oidc"
	h := iss.Handler(issuerURL)

	get := func(path string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		var body map[string]any
		if rec.Code == http.StatusOK {
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		}
		return rec.Code, body
	}

	code, disc := get("/dev/oidc/.well-known/openid-configuration")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, issuerURL, disc["issuer"])
	require.Equal(t, issuerURL+"/jwks.json", disc["jwks_uri"])
	require.Equal(t, []any{"RS256"}, disc["id_token_signing_alg_values_supported"])
	require.NotEmpty(t, disc["response_types_supported"])
	require.NotEmpty(t, disc["subject_types_supported"])

	code, jwks := get("/dev/oidc/jwks.json")
	require.Equal(t, http.StatusOK, code)
	keys := jwks["keys"].([]any)
	require.Len(t, keys, 1)
	key := keys[0].(map[string]any)
	require.Equal(t, iss.KeyID(), key["kid"])
	require.Equal(t, "RSA", key["kty"])
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		require.NotContains(t, key, private, "JWKS must hold public keys only")
	}

	code, _ = get("/dev/oidc/elsewhere")
	require.Equal(t, http.StatusNotFound, code)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/dev/oidc/jwks.json", nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

func TestMintAndRotate(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	iss, err := devissuer.Load(dataDir)
	require.NoError(t, err)
	issuerURL := "http://gateway.test/dev/oidc"

	before := time.Now().Unix()
	tok, err := iss.Mint(issuerURL, "det.alvarez@csp.example", "det.alvarez@csp.example", time.Hour)
	require.NoError(t, err)
	header, claims := decode(t, tok)
	require.Equal(t, "RS256", header["alg"])
	require.Equal(t, iss.KeyID(), header["kid"])
	require.Equal(t, issuerURL, claims["iss"])
	require.Equal(t, "det.alvarez@csp.example", claims["sub"])
	require.Equal(t, "det.alvarez@csp.example", claims["email"])
	require.Equal(t, devissuer.Audience, claims["aud"])
	require.NotEmpty(t, claims["jti"])
	require.GreaterOrEqual(t, claims["iat"].(float64), float64(before))
	require.Equal(t, claims["iat"], claims["nbf"])
	require.InDelta(t, claims["iat"].(float64)+3600, claims["exp"].(float64), 1)

	_, err = iss.Mint(issuerURL, "x", "x", 0)
	require.Error(t, err)

	oldKID := iss.KeyID()
	require.NoError(t, iss.Rotate())
	require.NotEqual(t, oldKID, iss.KeyID())
	rec := httptest.NewRecorder()
	iss.Handler(issuerURL).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dev/oidc/jwks.json", nil))
	require.Contains(t, rec.Body.String(), oldKID, "the previous key stays published")
	require.Contains(t, rec.Body.String(), iss.KeyID())

	reloaded, err := devissuer.Load(dataDir)
	require.NoError(t, err)
	require.Equal(t, iss.KeyID(), reloaded.KeyID(), "the rotated key is the one on disk")
}

func decode(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, dst))
	}
	return header, claims
}
