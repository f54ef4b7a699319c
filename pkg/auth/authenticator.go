package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

const (
	// notBeforeLeeway tolerates clock skew between an issuer and this server
	// for "nbf". go-oidc checks nbf only with a 5-minute leeway, which is more
	// than a freshly minted token needs, so the check is repeated here.
	// (go-oidc applies no leeway to "exp".)
	notBeforeLeeway = 30 * time.Second

	// maxTokenBytes bounds the work an unauthenticated caller can cause.
	maxTokenBytes = 16 << 10

	defaultDiscoveryTimeout = 10 * time.Second
)

// Authenticator verifies bearer tokens from the trusted issuers and resolves
// them to directory users. It is safe for concurrent use; build one per
// process and share it, so discovery and key sets are fetched once.
type Authenticator struct {
	issuers          map[string]*trustedIssuer // by issuer URL
	dir              Directory
	publicMethods    []string
	client           *http.Client
	logger           *slog.Logger
	now              func() time.Time
	discoveryTimeout time.Duration
	observe          func(context.Context, Rejection)
	record           ChangeRecorder
	// verified remembers tokens already verified (see verifiedTokens).
	verified verifiedTokens
}

// Option configures an Authenticator.
type Option func(*Authenticator)

// WithPublicMethods adds gRPC full-method prefixes (such as
// "/casebridge.meta.v1.MetaService/") the interceptors let through without a
// token, besides health checking and reflection.
func WithPublicMethods(prefixes ...string) Option {
	return func(a *Authenticator) { a.publicMethods = append(a.publicMethods, prefixes...) }
}

// WithHTTPClient sets the client for discovery and JWKS requests. The default
// has a 10-second timeout.
func WithHTTPClient(c *http.Client) Option {
	return func(a *Authenticator) { a.client = c }
}

// WithLogger sets where the interceptors log rejections (debug) and outages
// (warn). The default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(a *Authenticator) { a.logger = l }
}

// WithRejectionObserver sets a function told of every refused token with
// the reason and what the token claimed, so the audit record of the refused
// call can say why (the audit package depends on this one, so it cannot be
// called from here directly).
func WithRejectionObserver(fn func(context.Context, Rejection)) Option {
	return func(a *Authenticator) { a.observe = fn }
}

// WithChangeRecorder sets the function provisioning calls, inside its
// transaction, for every account it creates, binds or whose roles it
// changes; an error aborts the change (no unaudited role change).
func WithChangeRecorder(fn ChangeRecorder) Option {
	return func(a *Authenticator) { a.record = fn }
}

// WithClock sets the clock used for exp and nbf checks (tests).
func WithClock(now func() time.Time) Option {
	return func(a *Authenticator) { a.now = now }
}

// NewAuthenticator returns an Authenticator trusting issuers and resolving
// users through dir. No network request is made here: each issuer is
// discovered on its first token. It panics if ValidateIssuers rejects issuers,
// so validate configuration first.
func NewAuthenticator(issuers []IssuerConfig, dir Directory, opts ...Option) *Authenticator {
	if err := ValidateIssuers(issuers); err != nil {
		panic(err)
	}
	a := &Authenticator{
		issuers:          make(map[string]*trustedIssuer, len(issuers)),
		dir:              dir,
		publicMethods:    []string{"/grpc.health.v1.Health/", "/grpc.reflection."},
		client:           &http.Client{Timeout: defaultDiscoveryTimeout},
		logger:           slog.Default(),
		now:              time.Now,
		discoveryTimeout: defaultDiscoveryTimeout,
	}
	for _, c := range issuers {
		c.normalize()
		c.Agencies = slices.Clone(c.Agencies)
		a.issuers[c.URL] = &trustedIssuer{cfg: c}
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Authenticate verifies rawToken and returns the active directory user it
// vouches for. Errors wrap ErrUnauthenticated (bad or unknown credentials; the
// text is fit for the caller), ErrUnavailable (directory or issuer
// unreachable), or are ctx's error.
//
// The issuer must vouch for the agency: a token whose agency claim names
// another is refused before the directory is read (so nothing is
// provisioned), and so is a token resolving to a user of an agency the
// issuer does not vouch for, however the account came to be bound.
func (a *Authenticator) Authenticate(ctx context.Context, rawToken string) (*Principal, error) {
	claims, err := a.VerifyToken(ctx, rawToken)
	if err != nil {
		return nil, err
	}
	cfg := &a.issuers[claims.IssuerURL].cfg
	p, err := a.dir.ResolveUser(ctx, claims)
	prov, canProvision := a.dir.(Provisioner)
	if errors.Is(err, ErrUnknownUser) && !errors.Is(err, ErrInactiveUser) && canProvision {
		p, err = prov.Provision(ctx, claims, a.provisioning(cfg, claims), a.record)
	}
	switch {
	case errors.Is(err, ErrSessionEnded):
		return nil, unauthenticated("this sign-in has ended; sign in again", err)
	case errors.Is(err, ErrUnknownAgency):
		return nil, unauthenticated("unknown agency", err)
	case errors.Is(err, ErrUnknownUser):
		return nil, unauthenticated("unknown or inactive user", err)
	case err != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		return nil, fmt.Errorf("%w: resolving user: %w", ErrUnavailable, err)
	case p == nil:
		return nil, fmt.Errorf("%w: directory returned no user and no error", ErrUnavailable)
	}
	if !cfg.vouchesFor(p.AgencyORI) {
		return nil, refuseAgency(cfg, claims, p.AgencyORI,
			fmt.Sprintf("issuer %s does not vouch for agency %s", cfg.Name, p.AgencyORI))
	}
	if claims.Agency != "" && !strings.EqualFold(claims.Agency, p.AgencyORI) {
		return nil, refuseAgency(cfg, claims, claims.Agency,
			fmt.Sprintf("the token names agency %s, the account belongs to %s", strings.ToUpper(claims.Agency), p.AgencyORI))
	}
	if mapped, ok := cfg.mapRoles(claims.Roles); ok && canProvision && !slices.Equal(sortedCopy(p.Roles), mapped) {
		// Where an issuer maps roles, the identity provider is the source of
		// truth for them: a group removed there is a role removed here at
		// the next request.
		if err := prov.SyncRoles(ctx, p, mapped, a.record); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("%w: syncing roles: %w", ErrUnavailable, err)
		}
	}
	p.TokenHash, p.TokenExpiry = claims.TokenHash, claims.Expiry
	return p, nil
}

// provisioning decides where a token not yet bound may bind or create an
// account: only in an agency the issuer vouches for, the one the token
// names or, for an issuer vouching for one agency, that one.
func (a *Authenticator) provisioning(cfg *IssuerConfig, c *Claims) Provisioning {
	pv := Provisioning{Agency: strings.ToUpper(c.Agency)}
	if pv.Agency == "" {
		pv.Agency = cfg.soleAgency()
	}
	pv.Roles, _ = cfg.mapRoles(c.Roles)
	if pv.Roles == nil {
		pv.Roles = []string{}
	}
	if c.Email == "" || !c.EmailVerified {
		return pv
	}
	switch {
	case pv.Agency != "":
		pv.BindAgencies = []string{pv.Agency}
	case cfg.BindByEmail:
		pv.BindAnyAgency = cfg.StateWide
		pv.BindAgencies = cfg.Agencies
	}
	return pv
}

// mapRoles maps a token's groups to Casebridge roles through the issuer's
// mapping, sorted and unique. ok is false when the issuer maps no roles or
// the token carries no roles claim: then roles are the directory's.
func (c *IssuerConfig) mapRoles(groups []string) (roles []string, ok bool) {
	if len(c.RoleMap) == 0 || groups == nil {
		return nil, false
	}
	out := []string{}
	for _, g := range groups {
		for _, r := range c.RoleMap[g] {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	slices.Sort(out)
	return out, true
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	if c == nil {
		c = []string{}
	}
	return c
}

// VerifyToken checks rawToken's signature, issuer, audience and validity
// period and returns its claims, without consulting the directory (for
// provisioning a user not yet in it). Errors are as for Authenticate.
func (a *Authenticator) VerifyToken(ctx context.Context, rawToken string) (*Claims, error) {
	if rawToken == "" {
		return nil, unauthenticated("missing token", nil)
	}
	if len(rawToken) > maxTokenBytes {
		return nil, unauthenticated("token too large", nil)
	}
	if c, ok := a.verified.get(rawToken, a.now()); ok {
		cp := *c
		return &cp, nil
	}
	iss, err := unverifiedIssuer(rawToken)
	if err != nil {
		return nil, unauthenticated("malformed token", err)
	}
	ti, ok := a.issuers[iss]
	if !ok {
		return nil, unauthenticated("untrusted issuer", nil)
	}
	verifier, err := a.verifierFor(ctx, ti)
	if err != nil {
		return nil, err
	}
	tok, err := verifier.Verify(ctx, rawToken)
	if err != nil {
		var expired *oidc.TokenExpiredError
		switch {
		case errors.As(err, &expired):
			return nil, unauthenticated("token expired", err)
		case ctx.Err() != nil:
			return nil, ctx.Err()
		default:
			// Signature, algorithm, issuer or audience: one reason for all,
			// so a forger learns nothing about which check failed.
			return nil, unauthenticated("invalid token", err)
		}
	}
	c, err := a.claims(&ti.cfg, tok)
	if err != nil {
		return nil, err
	}
	c.TokenHash = tokenHash(rawToken)
	a.verified.put(rawToken, c, a.now())
	cp := *c
	return &cp, nil
}

// claims reads what go-oidc does not check or expose from a verified token,
// and refuses what cannot identify anyone or what the issuer may not say.
func (a *Authenticator) claims(cfg *IssuerConfig, tok *oidc.IDToken) (*Claims, error) {
	var tc tokenClaims
	var raw map[string]any
	if err := tok.Claims(&tc); err != nil {
		return nil, unauthenticated("malformed claims", err)
	}
	if err := tok.Claims(&raw); err != nil {
		return nil, unauthenticated("malformed claims", err)
	}
	c := &Claims{
		Issuer:        cfg.Name,
		IssuerURL:     tok.Issuer,
		Subject:       tok.Subject,
		Email:         stringClaim(raw, cfg.EmailClaim),
		EmailVerified: tc.EmailVerified == nil || *tc.EmailVerified,
		Agency:        stringClaim(raw, cfg.AgencyClaim),
		Roles:         stringsClaim(raw, cfg.RolesClaim),
		AMR:           stringsClaim(raw, "amr"),
		ACR:           tc.ACR,
		ID:            tc.ID,
		IssuedAt:      tok.IssuedAt,
		Expiry:        tok.Expiry,
	}
	if tc.NotBefore != nil {
		c.NotBefore = tc.NotBefore.time()
		if c.NotBefore.After(a.now().Add(notBeforeLeeway)) {
			return nil, unauthenticated("token not yet valid", nil)
		}
	}
	if c.Subject == "" {
		return nil, unauthenticated("token has no subject", nil)
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"sub", c.Subject, maxSubjectLen}, {"email", c.Email, maxEmailLen}, {"agency claim", c.Agency, maxAgencyLen}} {
		if why := cleanClaim(f.name, f.v, f.max); why != "" {
			return nil, unauthenticated("token "+why, nil)
		}
	}
	if c.Agency != "" && !cfg.vouchesFor(c.Agency) {
		return nil, refuseAgency(cfg, c, c.Agency,
			fmt.Sprintf("issuer %s does not vouch for agency %s", cfg.Name, strings.ToUpper(c.Agency)))
	}
	if cfg.RequireMFA && !c.showsMFA(cfg) {
		return nil, unauthenticated("this agency requires multi-factor sign-in", nil)
	}
	return c, nil
}

// showsMFA reports whether the token records multi-factor authentication:
// an RFC 8176 "amr" value of a second or phishing-resistant factor, or an
// "acr" the issuer's configuration counts as multi-factor.
func (c *Claims) showsMFA(cfg *IssuerConfig) bool {
	for _, m := range c.AMR {
		if slices.Contains(MFAMethods, strings.ToLower(m)) {
			return true
		}
	}
	return c.ACR != "" && slices.Contains(cfg.MFAAcr, c.ACR)
}
