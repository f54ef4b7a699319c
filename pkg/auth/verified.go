package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedTokens remembers tokens whose signature, issuer, audience and
// validity period were already checked, until they expire (at most
// verifiedTTL). Checking an RS256 signature is the largest CPU cost of an
// API request (about a sixth of the server's CPU under load, measured), and a
// client sends the same token with every request. Only the cryptographic
// verification is remembered: every request still resolves the user in the
// directory, so a deactivation counts at once.
type verifiedTokens struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*Claims
}

const (
	verifiedTTL = 5 * time.Minute
	verifiedMax = 20000
)

func (v *verifiedTokens) get(raw string, now time.Time) (*Claims, bool) {
	k := sha256.Sum256([]byte(raw))
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.m[k]
	if !ok || !now.Before(c.Expiry) || now.Sub(c.verifiedAt) > verifiedTTL {
		return nil, false
	}
	return c, true
}

func (v *verifiedTokens) put(raw string, c *Claims, now time.Time) {
	k := sha256.Sum256([]byte(raw))
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= verifiedMax {
		// Bounded: start over rather than track recency; a burst of new
		// tokens costs one verification each, as without the cache.
		v.m = make(map[[sha256.Size]byte]*Claims)
	}
	c.verifiedAt = now
	v.m[k] = c
}
