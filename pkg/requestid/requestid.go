// Package requestid carries the request id through a call's context, so
// logs, errors and the audit trail of one request can be joined. The rpc
// chain sets it from the caller's X-Request-Id (or makes one).
package requestid

import (
	"context"
	"strings"
)

// Header is the metadata key (and HTTP header) carrying the request id.
const Header = "x-request-id"

type key struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context { return context.WithValue(ctx, key{}, id) }

// From returns the request id of ctx ("" outside a request).
func From(ctx context.Context) string {
	s, _ := ctx.Value(key{}).(string)
	return s
}

// Valid accepts ids a log and the audit trail can hold safely: 1–128
// characters of letters, digits and -_.:
func Valid(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)) {
			return false
		}
	}
	return true
}
