package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"
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
	ID        string   // "jti"
	IssuedAt  time.Time
	NotBefore time.Time // zero if the token has no "nbf"
	Expiry    time.Time

	verifiedAt time.Time // when VerifyToken checked it (cache bookkeeping)
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
	Email     string       `json:"email"`
	NotBefore *numericDate `json:"nbf"`
	ID        string       `json:"jti"`
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
