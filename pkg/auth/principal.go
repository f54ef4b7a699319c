// Package auth owns authentication: verifying bearer tokens from the trusted
// OIDC issuers, resolving them to an active directory user, and carrying that
// identity (the Principal) through the request context.
package auth

import (
	"context"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Principal is the authenticated caller of a request: an active user of an
// active agency, as the directory knows them at the time of the request.
type Principal struct {
	UserID      string // directory user id (UUID)
	Email       string
	DisplayName string
	AgencyID    string // UUID
	AgencyORI   string
	AgencyName  string
	AgencyKind  string // STATE, MUNICIPAL, REGIONAL or FEDERAL
	Roles       []string
	Issuer      string // configured name of the issuer that vouched for the token
	Subject     string
	// TokenHash (SHA-256 of the bearer token) and TokenExpiry identify the
	// credential of this request, for signing it out.
	TokenHash   []byte
	TokenExpiry time.Time
}

// HasRole reports whether the principal holds role.
func (p *Principal) HasRole(role string) bool { return slices.Contains(p.Roles, role) }

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal of the request, if it was authenticated.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// Require returns the request's principal, or UNAUTHENTICATED. Handlers call
// it first; the interceptor has already refused calls without a valid token,
// so this only fails for a handler wired without authentication.
func Require(ctx context.Context) (*Principal, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "authentication required")
	}
	return p, nil
}
