package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Claims are the verified claims of a token that Authenticate uses or keeps
// for later provisioning.
type Claims struct {
	Issuer    string // configured issuer name (IssuerConfig.Name)
	IssuerURL string // the token's "iss"
	Subject   string
	Email     string
	Agency    string   // value of IssuerConfig.AgencyClaim, "" if unset or absent
	Roles     []string // value of IssuerConfig.RolesClaim, nil if unset or absent
	// EmailVerified is false only when the token says "email_verified":
	// false; an address its IdP has not verified never binds an account.
	EmailVerified bool
	AMR           []string // "amr" (RFC 8176)
	ACR           string   // "acr"
	ID            string   // "jti"
	IssuedAt      time.Time
	NotBefore     time.Time // zero if the token has no "nbf"
	Expiry        time.Time

	// TokenHash is the SHA-256 of the compact token: how a sign-out names
	// it (liaison.revoked_tokens), since not every issuer sets "jti".
	TokenHash []byte

	verifiedAt time.Time // when VerifyToken checked it (cache bookkeeping)
}

func tokenHash(raw string) []byte {
	h := sha256.Sum256([]byte(raw))
	return h[:]
}

// unverifiedIssuer returns the "iss" of a compact JWS without checking
// anything else. It only chooses which configured issuer will verify the
// token; nothing read here is trusted.
func unverifiedIssuer(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", errors.New("not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", err
	}
	if c.Iss == "" {
		return "", errors.New("no iss claim")
	}
	return c.Iss, nil
}

// tokenClaims is what Authenticate reads beyond go-oidc's IDToken fields.
type tokenClaims struct {
	EmailVerified *bool        `json:"email_verified"`
	ACR           string       `json:"acr"`
	NotBefore     *numericDate `json:"nbf"`
	ID            string       `json:"jti"`
}

// numericDate is a JWT NumericDate: seconds since the epoch, possibly
// fractional.
type numericDate float64

func (d numericDate) time() time.Time {
	sec, frac := math.Modf(float64(d))
	return time.Unix(int64(sec), int64(frac*1e9))
}

// lookupClaim finds a claim by name, or by a dotted path into nested objects
// when no top-level claim has the full name.
func lookupClaim(raw map[string]any, name string) (any, bool) {
	if name == "" {
		return nil, false
	}
	if v, ok := raw[name]; ok {
		return v, true
	}
	var cur any = raw
	for part := range strings.SplitSeq(name, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// stringClaim returns a string claim; a claim of another type reads as "".
func stringClaim(raw map[string]any, name string) string {
	v, _ := lookupClaim(raw, name)
	s, _ := v.(string)
	return s
}

// stringsClaim returns a list claim given as a JSON array of strings or as
// one space-separated string (as OAuth scopes are); other values read as nil.
// Being lenient here cannot widen access: roles for authorization come from
// the directory, not from the token.
func stringsClaim(raw map[string]any, name string) []string {
	v, _ := lookupClaim(raw, name)
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Limits on identity claims (issue 13): RFC 5321 bounds an address at 254
// characters; 255 is the common bound of a subject (OIDC Core §2).
const (
	maxEmailLen   = 254
	maxSubjectLen = 255
	maxAgencyLen  = 64
)

// cleanClaim reports why a claim value cannot identify anyone: control
// characters (NUL included, which PostgreSQL refuses) or excessive length.
func cleanClaim(name, v string, max int) string {
	if len(v) > max {
		return fmt.Sprintf("%s is longer than %d characters", name, max)
	}
	for _, r := range v {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return name + " contains control characters"
		}
	}
	return ""
}
