package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
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
	// roles are the role names provisioning accepts from claims.
	roles []string
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

// WithKnownRoles sets the role names that provisioning and role sync accept
// from an issuer's roles claim; others are ignored. Without it, roles are
// never taken from claims.
func WithKnownRoles(roles ...string) Option {
	return func(a *Authenticator) { a.roles = roles }
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
func (a *Authenticator) Authenticate(ctx context.Context, rawToken string) (*Principal, error) {
	claims, err := a.VerifyToken(ctx, rawToken)
	if err != nil {
		return nil, err
	}
	p, err := a.dir.ResolveUser(ctx, claims.Issuer, claims.Subject)
	prov, canProvision := a.dir.(Provisioner)
	cfg := a.issuers[claims.IssuerURL].cfg
	claimed := knownRoles(claims.Roles, a.roles)
	if errors.Is(err, ErrUnknownUser) && canProvision {
		p, err = prov.Provision(ctx, claims, claimed, cfg.BindByEmail)
	} else if err == nil && canProvision && claims.Roles != nil && !slices.Equal(sortedCopy(p.Roles), claimed) {
		// The identity provider is the source of truth for roles when it
		// sends them: a role removed there is removed here at next sign-in.
		err = prov.SyncRoles(ctx, p, claimed)
	}
	switch {
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
	return p, nil
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
	c, err := a.claims(ti.cfg, tok)
	if err != nil {
		return nil, err
	}
	a.verified.put(rawToken, c, a.now())
	cp := *c
	return &cp, nil
}

// claims reads what go-oidc does not check or expose from a verified token.
func (a *Authenticator) claims(cfg IssuerConfig, tok *oidc.IDToken) (*Claims, error) {
	var tc tokenClaims
	var raw map[string]any
	if err := tok.Claims(&tc); err != nil {
		return nil, unauthenticated("malformed claims", err)
	}
	if err := tok.Claims(&raw); err != nil {
		return nil, unauthenticated("malformed claims", err)
	}
	c := &Claims{
		Issuer:    cfg.Name,
		IssuerURL: tok.Issuer,
		Subject:   tok.Subject,
		Email:     tc.Email,
		Agency:    stringClaim(raw, cfg.AgencyClaim),
		Roles:     stringsClaim(raw, cfg.RolesClaim),
		ID:        tc.ID,
		IssuedAt:  tok.IssuedAt,
		Expiry:    tok.Expiry,
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
	return c, nil
}
