package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

const (
	sessionCookie = "casebridge_session"
	signinCookie  = "casebridge_signin"
	// KeySize is the size of the session key: AES-256.
	KeySize = 32
)

// session is what the session cookie holds, sealed with AES-GCM: nobody can
// read or change it without the key, so the server keeps no session state.
type session struct {
	Token      string   `json:"tok"` // the OIDC id_token, sent as the bearer token
	Expiry     int64    `json:"exp"` // the token's expiry (Unix seconds)
	UserID     string   `json:"uid"`
	Email      string   `json:"email"`
	Name       string   `json:"name"`
	AgencyID   string   `json:"aid"`
	AgencyORI  string   `json:"ori"`
	AgencyName string   `json:"aname"`
	AgencyKind string   `json:"akind"` // STATE, MUNICIPAL, REGIONAL, FEDERAL
	Roles      []string `json:"roles"`
	CSRF       string   `json:"csrf"`
	Last       int64    `json:"last"` // last activity (Unix seconds)
}

// pendingSignin is kept in a short-lived cookie between /signin and the
// identity provider's redirect back.
type pendingSignin struct {
	State    string `json:"state"`
	Verifier string `json:"verifier"`
	Next     string `json:"next"`
	Expiry   int64  `json:"exp"`
}

// sealer encrypts and authenticates cookie values. The cookie name is the
// additional data, so a value sealed for one cookie is refused in another.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("web: session key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(name string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(name))), nil
}

var errBadCookie = errors.New("web: cookie missing, forged or from another key")

func (s *sealer) open(name, value string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return errBadCookie
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(name))
	if err != nil {
		return errBadCookie
	}
	return json.Unmarshal(plain, v)
}

// setCookie writes a sealed cookie: HttpOnly, SameSite=Lax, Secure when the
// request came over TLS or the public URL is https.
func (a *App) setCookie(w http.ResponseWriter, r *http.Request, name string, v any, maxAge time.Duration) error {
	val, err := a.sealer.seal(name, v)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: val, Path: "/", HttpOnly: true, Secure: a.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: int(maxAge.Seconds())})
	return nil
}

func (a *App) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", HttpOnly: true, Secure: a.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

func (a *App) secure(r *http.Request) bool { return r.TLS != nil || a.httpsPublic }

// readSession returns the request's session, whether it was locked for
// idleness, or nil when there is none (or it is forged, or its token
// expired).
func (a *App) readSession(r *http.Request) (s *session, locked bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, false
	}
	var out session
	if err := a.sealer.open(sessionCookie, c.Value, &out); err != nil {
		return nil, false
	}
	now := a.now()
	if now.Sub(time.Unix(out.Last, 0)) > a.idle {
		return nil, true
	}
	if out.Expiry != 0 && now.Unix() >= out.Expiry {
		return nil, false
	}
	return &out, false
}

// LoadOrCreateKey returns the session key kept in path, creating it (32
// random bytes, mode 0600) when the file does not exist. A key file readable
// by others is refused.
func LoadOrCreateKey(path string) ([]byte, error) {
	if fi, err := os.Stat(path); err == nil {
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("web: session key %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
		}
		key, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("web: session key %s must hold %d bytes, has %d", path, KeySize, len(key))
		}
		return key, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process won the race: use its key
		return LoadOrCreateKey(path)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(key); err != nil {
		_ = f.Close()
		return nil, err
	}
	return key, f.Close()
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
