// Package devissuer owns the built-in development OIDC issuer: a signing key
// kept in the data directory, the discovery document and JWKS the gateway
// serves under /dev/oidc/, and minting tokens for the demo users
// (`casebridge dev token EMAIL`).
//
// It is a real issuer as far as verifiers are concerned: tokens are RS256
// JWTs checked by pkg/auth through OIDC discovery exactly like those of a
// production identity provider, so development exercises the production path.
// It must never be trusted outside development: anyone who can read the data
// directory can mint a token for any user.
package devissuer

import (
	"strings"
)

const (
	// Name is the configured issuer name under which the demo users are bound
	// in the directory (liaison.users.issuer).
	Name = "dev"
	// Audience is the audience of every token this issuer mints.
	Audience = "casebridge"
	// PathPrefix is where the gateway mounts Handler (without stripping it).
	PathPrefix = "/dev/oidc/"
)

// IssuerURL returns the issuer URL for a gateway reachable at httpBase, for
// example "http://127.0.0.1:8080" → "http://127.0.0.1:8080/dev/oidc".
// The result is the exact "iss" of minted tokens and the URL verifiers must
// be configured with: discovery refuses any other spelling.
func IssuerURL(httpBase string) string {
	return strings.TrimRight(httpBase, "/") + strings.TrimSuffix(PathPrefix, "/")
}
