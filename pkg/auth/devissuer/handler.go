package devissuer

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

const (
	discoveryPath = "/.well-known/openid-configuration"
	jwksPath      = "/jwks.json"
)

// Handler serves the issuer's OIDC discovery document and its JWKS (public
// keys only) for issuerURL, and the authorization-code flow with PKCE
// (/authorize, /token; see authorize.go) whose sign-in page offers the users
// given WithLoginUsers. It answers request paths below issuerURL's path
// (/dev/oidc/.well-known/openid-configuration, /dev/oidc/jwks.json) as the
// gateway mounts it at PathPrefix, and the same paths with that prefix already
// stripped.
func (i *Issuer) Handler(issuerURL string, opts ...HandlerOption) http.Handler {
	issuerURL = strings.TrimRight(issuerURL, "/")
	var cfg handlerConfig
	for _, o := range opts {
		o(&cfg)
	}
	flow := &codeFlow{issuer: i, issuerURL: issuerURL, users: cfg.users, codes: map[string]codeGrant{}}
	prefix := ""
	if u, err := url.Parse(issuerURL); err == nil {
		prefix = strings.TrimRight(u.Path, "/")
	}
	discovery := map[string]any{
		"issuer":                                issuerURL,
		"jwks_uri":                              issuerURL + jwksPath,
		"id_token_signing_alg_values_supported": []string{string(jose.RS256)},
		"authorization_endpoint":                issuerURL + authorizePath,
		"token_endpoint":                        issuerURL + tokenPath,
		"response_types_supported":              []string{"code", "id_token"},
		"grant_types_supported":                 []string{"authorization_code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"none", "client_secret_post", "client_secret_basic"},
		"scopes_supported":                      []string{"openid", "email"},
		"subject_types_supported":               []string{"public"},
		"claims_supported":                      []string{"iss", "sub", "aud", "email", "iat", "nbf", "exp", "jti"},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimPrefix(r.URL.Path, prefix) {
		case authorizePath:
			flow.authorize(w, r)
			return
		case tokenPath:
			flow.token(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		switch strings.TrimPrefix(r.URL.Path, prefix) {
		case discoveryPath:
			writeJSON(w, discovery)
		case jwksPath:
			// Short caching: verifiers re-fetch on an unknown key id anyway,
			// and a rotation must become visible quickly.
			writeJSON(w, jose.JSONWebKeySet{Keys: i.publicKeys()})
		default:
			http.NotFound(w, r)
		}
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeJSONStatus(w, http.StatusOK, v)
}

func writeJSONStatus(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
