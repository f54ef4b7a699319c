// Package pagetoken owns the opaque page tokens of every List method: a
// keyset position (the sort keys of the last item returned) bound to the
// query it came from, so a token replayed against another filter is refused
// rather than silently skipping or repeating items (AIP-158).
package pagetoken

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
)

// ErrInvalid is returned for a token that is malformed or belongs to another
// query.
var ErrInvalid = errors.New("invalid page token")

type payload struct {
	V int      `json:"v"`
	Q string   `json:"q"`
	K []string `json:"k"`
}

// Bind returns the binding of a query: a short digest of everything that
// shapes its result set (method, caller's scope, filter, order).
func Bind(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// Encode returns a token for the position after the item whose sort keys are
// keys, valid only with the query binding bind.
func Encode(bind string, keys ...string) string {
	b, _ := json.Marshal(payload{V: 1, Q: bind, K: keys})
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode returns the sort keys in token. An empty token means the first page
// and returns nil keys. want is the number of keys the caller expects.
func Decode(token, bind string, want int) ([]string, error) {
	if token == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, ErrInvalid
	}
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil || p.V != 1 || len(p.K) != want {
		return nil, ErrInvalid
	}
	if p.Q != bind {
		return nil, errors.Join(ErrInvalid, errors.New("page token was issued for a different query"))
	}
	return p.K, nil
}

// Page sizes of every List method (DESIGN.md §5).
const (
	DefaultPageSize = 25
	MaxPageSize     = 100
)

// PageSize is the page size for a request's page_size: the default for 0
// (or less: validation refuses negatives), and at most MaxPageSize — larger
// values are treated as the maximum (AIP-158).
func PageSize(n int32) int {
	switch {
	case n <= 0:
		return DefaultPageSize
	case n > MaxPageSize:
		return MaxPageSize
	}
	return int(n)
}
