package auth

import (
	"context"
	"fmt"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
)

// trustedIssuer holds one configured issuer and its verifier, discovered on
// first use. Discovery is lazy because the development issuer is served by
// this very process's gateway, which may not listen yet when services start;
// a failed discovery is not remembered, so the next request tries again.
type trustedIssuer struct {
	cfg IssuerConfig

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier // nil until discovery succeeds
	inflight *discovery            // the running discovery, if any
}

// discovery is one attempt, shared by every request that waits for it so a
// burst of requests against a slow or down issuer makes one request, not many.
type discovery struct {
	done     chan struct{}
	verifier *oidc.IDTokenVerifier
	err      error
}

// verifierFor returns the issuer's verifier, discovering the provider if
// needed. Errors wrap ErrUnavailable, or are ctx's error if the caller gave up
// waiting.
func (a *Authenticator) verifierFor(ctx context.Context, ti *trustedIssuer) (*oidc.IDTokenVerifier, error) {
	ti.mu.Lock()
	if v := ti.verifier; v != nil {
		ti.mu.Unlock()
		return v, nil
	}
	d := ti.inflight
	if d == nil {
		d = &discovery{done: make(chan struct{})}
		ti.inflight = d
		go a.discover(ti, d)
	}
	ti.mu.Unlock()

	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-d.done:
		return d.verifier, d.err
	}
}

// discover runs detached from any one request so that a caller giving up
// does not fail the attempt for the others waiting on it.
func (a *Authenticator) discover(ti *trustedIssuer, d *discovery) {
	ctx, cancel := context.WithTimeout(oidc.ClientContext(context.Background(), a.client), a.discoveryTimeout)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, ti.cfg.URL)

	ti.mu.Lock()
	if err == nil {
		// The provider's remote key set re-fetches the JWKS whenever a token
		// carries a key id it has not seen, which is how key rotation works.
		ti.verifier = provider.Verifier(&oidc.Config{ClientID: ti.cfg.Audience, Now: a.now})
		d.verifier = ti.verifier
	} else {
		d.err = fmt.Errorf("%w: discovering issuer %q: %w", ErrUnavailable, ti.cfg.Name, err)
	}
	ti.inflight = nil
	ti.mu.Unlock()
	close(d.done)
}
