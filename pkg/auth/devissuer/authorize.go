package devissuer

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The authorization-code flow (RFC 6749 §4.1 with PKCE, RFC 7636) of the
// development issuer: <issuer>/authorize shows the demo users to pick from
// (the "login page"), <issuer>/token exchanges the code for an id_token minted
// exactly as Mint does. It lets a web client use the same OIDC code against
// this issuer as against a production identity provider. It authenticates
// nobody: whoever reaches the page may pick any user — development only.

const (
	authorizePath = "/authorize"
	tokenPath     = "/token"
	// codeTTL is how long an authorization code can be exchanged.
	codeTTL = time.Minute
	// TokenTTL is the lifetime of tokens issued through the code flow: one
	// working shift.
	TokenTTL = 8 * time.Hour
)

// LoginUser is a user offered on the development sign-in page.
type LoginUser struct {
	Email, Name, Agency string
	Roles               []string
}

// HandlerOption configures Handler.
type HandlerOption func(*handlerConfig)

type handlerConfig struct {
	users []LoginUser
}

// WithLoginUsers lists the users the sign-in page offers.
func WithLoginUsers(users []LoginUser) HandlerOption {
	return func(c *handlerConfig) { c.users = users }
}

// codeGrant is what an authorization code stands for until it is exchanged.
type codeGrant struct {
	email, clientID, redirectURI, challenge string
	expires                                 time.Time
}

// codeFlow serves /authorize and /token for one issuer URL.
type codeFlow struct {
	issuer    *Issuer
	issuerURL string
	users     []LoginUser

	mu    sync.Mutex
	codes map[string]codeGrant
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in — Casebridge development issuer</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
li{list-style:none;margin:.4rem 0}button{width:100%;text-align:left;padding:.6rem;font-size:1rem;cursor:pointer}
small{color:#555}</style></head>
<body><main>
<h1>Sign in as a demo user</h1>
<p>This is the <strong>development</strong> token issuer of <code>casebridge dev</code>. It authenticates nobody:
pick the user to act as. A real deployment signs in at its identity provider instead.</p>
<form method="post" action="{{.Action}}">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
<ul>{{range .Users}}
<li><button type="submit" name="login_email" value="{{.Email}}">{{.Name}} <small>— {{.Email}} · {{.Agency}} · {{range $i, $r := .Roles}}{{if $i}}, {{end}}{{$r}}{{end}}</small></button></li>
{{else}}<li>No demo users are configured.</li>{{end}}
</ul></form></main></body></html>`))

// authorize shows the sign-in page (GET) and issues a code (POST).
func (f *codeFlow) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	q := r.Form
	redirect := q.Get("redirect_uri")
	// Codes only go back to this gateway's origin: the issuer never hands a
	// code to another site.
	if !sameOrigin(redirect, f.issuerURL) {
		http.Error(w, "redirect_uri must be on the issuer's origin", http.StatusBadRequest)
		return
	}
	fail := func(code, desc string) {
		u, _ := url.Parse(redirect)
		v := u.Query()
		v.Set("error", code)
		v.Set("error_description", desc)
		v.Set("state", q.Get("state"))
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "only response_type=code is supported")
		return
	case q.Get("client_id") == "":
		fail("invalid_request", "client_id is required")
		return
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) < 43:
		fail("invalid_request", "PKCE with code_challenge_method=S256 is required")
		return
	}
	if r.Method == http.MethodGet {
		params := map[string]string{}
		for _, k := range []string{"response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "scope", "nonce"} {
			if v := q.Get(k); v != "" {
				params[k] = v
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
		_ = loginPage.Execute(w, map[string]any{"Action": f.issuerURL + authorizePath, "Params": params, "Users": f.users})
		return
	}
	email := strings.ToLower(strings.TrimSpace(q.Get("login_email")))
	if !f.known(email) {
		fail("access_denied", "unknown user")
		return
	}
	code, err := randomID()
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	now := time.Now()
	f.mu.Lock()
	for c, g := range f.codes { // drop expired codes; the map stays small
		if now.After(g.expires) {
			delete(f.codes, c)
		}
	}
	f.codes[code] = codeGrant{email: email, clientID: q.Get("client_id"), redirectURI: redirect,
		challenge: q.Get("code_challenge"), expires: now.Add(codeTTL)}
	f.mu.Unlock()
	u, _ := url.Parse(redirect)
	v := u.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (f *codeFlow) known(email string) bool {
	for _, u := range f.users {
		if strings.EqualFold(u.Email, email) {
			return true
		}
	}
	return false
}

// token exchanges a code (once, within codeTTL, with the PKCE verifier whose
// S256 hash is the challenge, from the same client and redirect URI).
func (f *codeFlow) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		tokenError(w, "invalid_request", "malformed body")
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		tokenError(w, "unsupported_grant_type", "only authorization_code is supported")
		return
	}
	clientID := r.PostForm.Get("client_id")
	if id, _, ok := r.BasicAuth(); ok {
		clientID = id
	}
	code := r.PostForm.Get("code")
	f.mu.Lock()
	g, ok := f.codes[code]
	delete(f.codes, code) // one use, whatever happens next
	f.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	switch {
	case !ok || time.Now().After(g.expires):
		tokenError(w, "invalid_grant", "unknown, used or expired code")
	case g.clientID != clientID || g.redirectURI != r.PostForm.Get("redirect_uri"):
		tokenError(w, "invalid_grant", "client or redirect_uri does not match the authorization request")
	case subtle.ConstantTimeCompare([]byte(challenge), []byte(g.challenge)) != 1:
		tokenError(w, "invalid_grant", "code_verifier does not match the code_challenge")
	default:
		tok, err := f.issuer.Mint(f.issuerURL, g.email, g.email, TokenTTL)
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSONStatus(w, http.StatusOK, map[string]any{
			"access_token": tok, "id_token": tok, "token_type": "Bearer", "expires_in": int(TokenTTL.Seconds()),
		})
	}
}

func tokenError(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSONStatus(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

// sameOrigin reports whether raw is an absolute http(s) URL with base's
// scheme and host.
func sameOrigin(raw, base string) bool {
	u, err := url.Parse(raw)
	b, err2 := url.Parse(base)
	return err == nil && err2 == nil && u.Scheme == b.Scheme && u.Host == b.Host && u.Fragment == "" &&
		(u.Scheme == "http" || u.Scheme == "https")
}
