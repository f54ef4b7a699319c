package auth

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// StateWide is the Agencies entry of an issuer that vouches for every
// agency. It is accepted only together with IssuerConfig.StateWide, so a
// typo cannot make an agency's own IdP speak for the whole state.
const StateWide = "*"

// IssuerConfig is one trusted OIDC issuer and what it may vouch for.
type IssuerConfig struct {
	// Name binds directory users to this issuer (liaison.users.issuer); it
	// stays stable when the URL changes.
	Name string `yaml:"name"`
	// URL is the issuer identifier: the exact "iss" of its tokens and the base
	// of its discovery document.
	URL string `yaml:"url"`
	// Audience is the "aud" this deployment's tokens must carry.
	Audience string `yaml:"audience"`
	// Agencies are the ORIs this issuer speaks for: a token naming another
	// agency, or resolving to a user of another agency, is refused (401,
	// audited). ["*"] means every agency and needs StateWide.
	Agencies []string `yaml:"agencies"`
	// StateWide marks an issuer trusted for every agency (a state-wide IdP);
	// required for Agencies ["*"], refused with any other list.
	StateWide bool `yaml:"stateWide"`
	// EmailClaim (default "email"), AgencyClaim and RolesClaim name the
	// claims carrying the user's e-mail, agency ORI and IdP groups or roles
	// (a dotted name such as "realm_access.roles" reaches into nested
	// objects). An issuer vouching for more than one agency needs
	// AgencyClaim to provision users.
	EmailClaim  string `yaml:"-"`
	AgencyClaim string `yaml:"-"`
	RolesClaim  string `yaml:"-"`
	// RoleMap maps an IdP group or role name to the Casebridge roles it
	// confers. Only mapped names count; nothing maps by default, so an IdP
	// yields admin or auditor only where a line says so. Without a map,
	// roles are never taken from tokens: the directory's stand.
	RoleMap map[string][]string `yaml:"roles"`
	// RequireMFA refuses tokens that do not show multi-factor
	// authentication: an "amr" value in MFAMethods, or an "acr" in MFAAcr.
	RequireMFA bool `yaml:"requireMfa"`
	// MFAAcr are "acr" values that count as multi-factor for this issuer
	// (for example Entra ID's or Login.gov's assurance levels).
	MFAAcr []string `yaml:"mfaAcr"`
	// BindByEmail lets a token without an agency claim take over an account
	// an agency admin created (and nobody has signed into yet) by its e-mail
	// address, in any agency this issuer vouches for. For the development
	// issuer, whose tokens carry no agency claim. An issuer vouching for one
	// agency binds there without it.
	BindByEmail bool `yaml:"bindByEmail"`

	// Claims is the YAML form of the claim names.
	Claims ClaimNames `yaml:"claims"`
}

// ClaimNames are the YAML "claims:" block of an issuer.
type ClaimNames struct {
	Email  string `yaml:"email"`
	Agency string `yaml:"agency"`
	Roles  string `yaml:"roles"`
}

// MFAMethods are the RFC 8176 "amr" values that show a second factor or a
// phishing-resistant one.
var MFAMethods = []string{"mfa", "otp", "hwk", "swk", "fpt", "sc", "face", "iris", "retina", "vbm", "pop", "sms", "tel"}

var oriPattern = regexp.MustCompile(`^[A-Z]{2}[A-Z0-9]{7}$`)

// normalize fills defaults and folds ORIs to upper case.
func (c *IssuerConfig) normalize() {
	if c.Claims.Email != "" {
		c.EmailClaim = c.Claims.Email
	}
	if c.Claims.Agency != "" {
		c.AgencyClaim = c.Claims.Agency
	}
	if c.Claims.Roles != "" {
		c.RolesClaim = c.Claims.Roles
	}
	if c.EmailClaim == "" {
		c.EmailClaim = "email"
	}
	for i, o := range c.Agencies {
		c.Agencies[i] = strings.ToUpper(strings.TrimSpace(o))
	}
}

// Validate reports a configuration that could never verify a token, or
// one that would trust an issuer further than it says.
func (c IssuerConfig) Validate() error {
	c.normalize()
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
	if len(c.Agencies) == 0 {
		return fmt.Errorf("auth: issuer %q: agencies is empty: list the ORIs it vouches for, or \"*\" with stateWide: true", c.Name)
	}
	if slices.Contains(c.Agencies, StateWide) {
		if len(c.Agencies) != 1 || !c.StateWide {
			return fmt.Errorf("auth: issuer %q: agencies \"*\" must stand alone and needs stateWide: true", c.Name)
		}
	} else {
		if c.StateWide {
			return fmt.Errorf("auth: issuer %q: stateWide: true needs agencies [\"*\"]", c.Name)
		}
		for _, o := range c.Agencies {
			if !oriPattern.MatchString(o) {
				return fmt.Errorf("auth: issuer %q: agency %q is not an ORI (two letters and seven letters or digits)", c.Name, o)
			}
		}
	}
	if len(c.RoleMap) > 0 && c.RolesClaim == "" {
		return fmt.Errorf("auth: issuer %q: a role mapping needs claims.roles", c.Name)
	}
	for group, roles := range c.RoleMap {
		if strings.TrimSpace(group) == "" || group == "*" {
			return fmt.Errorf("auth: issuer %q: role mapping keys name one IdP group or role (not %q)", c.Name, group)
		}
		if len(roles) == 0 {
			return fmt.Errorf("auth: issuer %q: group %q maps to no role", c.Name, group)
		}
	}
	return nil
}

// vouchesFor reports whether the issuer speaks for the agency with ori.
func (c *IssuerConfig) vouchesFor(ori string) bool {
	return c.StateWide || slices.Contains(c.Agencies, strings.ToUpper(ori))
}

// soleAgency is the one ORI the issuer vouches for, or "".
func (c *IssuerConfig) soleAgency() string {
	if c.StateWide || len(c.Agencies) != 1 {
		return ""
	}
	return c.Agencies[0]
}

// ValidateIssuers validates each issuer and rejects duplicate names or URLs,
// and (when knownRoles is given) role mappings to roles this deployment does
// not have. Call it from configuration validation: NewAuthenticator panics
// on what it rejects.
func ValidateIssuers(issuers []IssuerConfig, knownRoles ...string) error {
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
		if len(knownRoles) == 0 {
			continue
		}
		for group, roles := range c.RoleMap {
			for _, r := range roles {
				if !slices.Contains(knownRoles, r) {
					return fmt.Errorf("auth: issuer %q: group %q maps to unknown role %q (known: %s)",
						c.Name, group, r, strings.Join(knownRoles, ", "))
				}
			}
		}
	}
	return nil
}

// issuersFile is the YAML document of --issuers.
type issuersFile struct {
	Issuers []IssuerConfig `yaml:"issuers"`
}

// LoadIssuersFile reads the trusted issuers from a YAML file (--issuers):
//
//	issuers:
//	  - name: hartford-entra
//	    url: https://login.microsoftonline.com/<tenant>/v2.0
//	    audience: api://casebridge
//	    agencies: [CT0006400]
//	    claims: {email: preferred_username, roles: groups}
//	    roles: {"CB-Detectives": [detective]}
//	    requireMfa: true
//
// Unknown keys are errors (a misspelt "requireMfa" must not silently turn
// MFA off). The result is validated (without role names; see
// ValidateIssuers).
func LoadIssuersFile(path string) ([]IssuerConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: issuers file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f issuersFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("auth: issuers file %s: %w", path, err)
	}
	if len(f.Issuers) == 0 {
		return nil, fmt.Errorf("auth: issuers file %s lists no issuers", path)
	}
	for i := range f.Issuers {
		f.Issuers[i].normalize()
	}
	if err := ValidateIssuers(f.Issuers); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f.Issuers, nil
}
