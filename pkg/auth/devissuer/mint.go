package devissuer

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Mint returns a signed JWT for subject, valid from now for ttl, with claims
// iss (issuerURL), sub, aud (Audience), email, iat, nbf, exp, a random jti
// and amr ["pwd", "otp"] (RFC 8176: password and one-time code), so the
// multi-factor check of an issuer with requireMfa runs in development and
// tests. For the demo users the subject is the email address.
func (i *Issuer) Mint(issuerURL, subject, email string, ttl time.Duration) (string, error) {
	if subject == "" {
		return "", errors.New("devissuer: empty subject")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("devissuer: ttl must be positive, got %s", ttl)
	}
	jti, err := randomID()
	if err != nil {
		return "", err
	}
	now := time.Now()
	claims := map[string]any{
		"iss": issuerURL,
		"sub": subject,
		"aud": Audience,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(ttl).Unix(),
		"jti": jti,
		"amr": []string{"pwd", "otp"},
	}
	if email != "" {
		claims["email"] = email
	}
	return i.Sign(claims)
}

// Sign returns a JWT carrying exactly claims (anything that marshals to a
// JSON object), signed RS256 with the current key. It exists for tests and
// tools that need tokens Mint will not make (expired, other audiences, extra
// claims); the server itself only uses Mint.
func (i *Issuer) Sign(claims any) (string, error) {
	i.mu.RLock()
	key := i.current
	i.mu.RUnlock()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return "", fmt.Errorf("devissuer: creating signer: %w", err)
	}
	token, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("devissuer: signing token: %w", err)
	}
	return token, nil
}

func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("devissuer: random jti: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
