package auth

import (
	"errors"
	"fmt"
	"net/url"
)

// IssuerConfig is one trusted OIDC issuer.
type IssuerConfig struct {
	// Name binds directory users to this issuer (liaison.users.issuer); it
	// stays stable when the URL changes.
	Name string
	// URL is the issuer identifier: the exact "iss" of its tokens and the base
	// of its discovery document.
	URL string
	// Audience is the "aud" this deployment's tokens must carry.
	Audience string
	// AgencyClaim and RolesClaim name the claims carrying the agency ORI and
	// the roles (a dotted name such as "realm_access.roles" reaches into
	// nested objects). Optional; read into Claims for provisioning, never used
	// for authorization, which takes roles from the directory.
	AgencyClaim string
	RolesClaim  string
	// BindByEmail lets a token's e-mail claim take over an account an agency
	// admin created (and nobody has signed into yet) in any agency. Only for
	// the development issuer, whose tokens carry no agency claim; real
	// issuers bind only within the agency their token names.
	BindByEmail bool
}

// Validate reports a configuration that could never verify a token.
func (c IssuerConfig) Validate() error {
	if c.Name == "" {
		return errors.New("auth: issuer name is empty")
	}
	if c.Audience == "" {
		return fmt.Errorf("auth: issuer %q: audience is empty", c.Name)
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("auth: issuer %q: URL %q is not an absolute http(s) URL", c.Name, c.URL)
	}
	return nil
}

// ValidateIssuers validates each issuer and rejects duplicate names or URLs.
// Call it from configuration validation: NewAuthenticator panics on what it
// rejects.
func ValidateIssuers(issuers []IssuerConfig) error {
	names := map[string]bool{}
	urls := map[string]bool{}
	for _, c := range issuers {
		if err := c.Validate(); err != nil {
			return err
		}
		if names[c.Name] {
			return fmt.Errorf("auth: issuer name %q configured twice", c.Name)
		}
		if urls[c.URL] {
			return fmt.Errorf("auth: issuer URL %q configured twice", c.URL)
		}
		names[c.Name], urls[c.URL] = true, true
	}
	return nil
}
