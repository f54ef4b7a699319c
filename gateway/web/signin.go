package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
)

// oidcClient discovers the issuer on first use (and again after a failure).
func (a *App) oidcClient(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	a.oidcMu.Lock()
	defer a.oidcMu.Unlock()
	if a.oauth != nil {
		return a.oauth, a.verifier, nil
	}
	ctx, cancel := context.WithTimeout(a.issuerContext(ctx), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, a.cfg.IssuerURL)
	if err != nil {
		return nil, nil, fmt.Errorf("web: OIDC discovery of %s: %w", a.cfg.IssuerURL, err)
	}
	a.oauth = &oauth2.Config{
		ClientID: a.cfg.ClientID, ClientSecret: a.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: strings.TrimRight(a.cfg.PublicURL, "/") + "/signin/callback",
		Scopes:      []string{oidc.ScopeOpenID, "email", "profile"},
	}
	a.verifier = p.Verifier(&oidc.Config{ClientID: a.cfg.ClientID})
	return a.oauth, a.verifier, nil
}

// signin starts the authorization-code flow with PKCE. After an idle lock
// it asks the identity provider to authenticate the user again
// (prompt=login), so a locked session is only reopened by signing in.
func (a *App) signin(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("go") == "" {
		// A page first, so that "locked" and sign-in errors can be read.
		a.render(w, r, http.StatusOK, "signin", nil, map[string]any{
			"Locked": r.URL.Query().Get("locked") != "", "Next": localPath(r.URL.Query().Get("next")),
			"Error": r.URL.Query().Get("error"),
		})
		return
	}
	conf, _, err := a.oidcClient(r.Context())
	if err != nil {
		a.logger.Error("web: sign-in unavailable", "err", err)
		a.render(w, r, http.StatusServiceUnavailable, "signin", nil, map[string]any{"Error": "The identity provider cannot be reached. Try again in a moment."})
		return
	}
	p := pendingSignin{State: randomToken(), Verifier: oauth2.GenerateVerifier(), Next: localPath(r.URL.Query().Get("next")),
		Expiry: a.now().Add(10 * time.Minute).Unix()}
	if err := a.setCookie(w, r, signinCookie, p, 10*time.Minute); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(p.Verifier)}
	if r.URL.Query().Get("locked") != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"))
	}
	http.Redirect(w, r, conf.AuthCodeURL(p.State, opts...), http.StatusFound)
}

// callback completes the flow: it checks the state, exchanges the code with
// the PKCE verifier, verifies the id_token through go-oidc (as the API
// does), asks the directory who the user is with that token, and opens the
// session.
func (a *App) callback(w http.ResponseWriter, r *http.Request) {
	fail := func(msg string, err error) {
		a.logger.Warn("web: sign-in failed", "reason", msg, "err", err)
		a.clearCookie(w, r, signinCookie)
		http.Redirect(w, r, "/signin?error="+urlQueryEscape(msg), http.StatusSeeOther)
	}
	var p pendingSignin
	c, err := r.Cookie(signinCookie)
	if err != nil || a.sealer.open(signinCookie, c.Value, &p) != nil || a.now().Unix() > p.Expiry {
		fail("The sign-in took too long or was started elsewhere. Please sign in again.", err)
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		fail("The identity provider refused the sign-in: "+q.Get("error_description"), errors.New(e))
		return
	}
	if q.Get("state") == "" || q.Get("state") != p.State {
		fail("The sign-in response did not match this browser's request. Please sign in again.", nil)
		return
	}
	conf, verifier, err := a.oidcClient(r.Context())
	if err != nil {
		fail("The identity provider cannot be reached.", err)
		return
	}
	ctx, cancel := context.WithTimeout(a.issuerContext(r.Context()), 15*time.Second)
	defer cancel()
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.Verifier))
	if err != nil {
		fail("The sign-in code was refused.", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		fail("The identity token could not be verified.", err)
		return
	}
	s := &session{Token: raw, Expiry: idt.Expiry.Unix(), CSRF: randomToken(), Last: a.now().Unix()}
	rctx, rcancel := a.rpc(r, s)
	defer rcancel()
	me, err := a.directory.GetCurrentUser(rctx, &liaisonv1.GetCurrentUserRequest{})
	if err != nil {
		fail("Casebridge does not know this account, or it is not active: "+problemOf(err).Message, err)
		return
	}
	u, ag := me.GetUser(), me.GetAgency()
	s.UserID, s.Email, s.Name, s.Roles = u.GetId(), u.GetEmail(), u.GetDisplayName(), u.GetRoles()
	s.AgencyID, s.AgencyORI, s.AgencyName = ag.GetId(), ag.GetOri(), ag.GetName()
	s.AgencyKind = strings.TrimPrefix(ag.GetKind().String(), "AGENCY_KIND_")
	a.clearCookie(w, r, signinCookie)
	if err := a.setCookie(w, r, sessionCookie, s, 12*time.Hour); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	next := p.Next
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signout ends the session (POST, with the CSRF token) on the server too:
// the API revokes the session's token, so a copy of the cookie replayed
// later is sent to sign in. Should the API not answer, the cookie is still
// cleared and the page says the sign-out was not recorded.
func (a *App) signout(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	_, err := a.directory.SignOut(ctx, &liaisonv1.SignOutRequest{})
	a.endSession(w, r, "/signout", err)
}

// signoutEverywhere ends every session and API token of the user, on every
// device.
func (a *App) signoutEverywhere(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	_, err := a.directory.SignOutEverywhere(ctx, &liaisonv1.SignOutEverywhereRequest{})
	a.endSession(w, r, "/signout?everywhere=1", err)
}

func (a *App) endSession(w http.ResponseWriter, r *http.Request, target string, err error) {
	a.clearCookie(w, r, sessionCookie)
	if err != nil && status.Code(err) != codes.Unauthenticated { // already ended: nothing to record
		a.logger.Warn("web: sign-out not recorded by the API", "err", err)
		target = "/signout?unrecorded=1"
	}
	a.leave(w, r, target)
}

// signedOut is the page after sign-out.
func (a *App) signedOut(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a.render(w, r, http.StatusOK, "signin", nil, map[string]any{"SignedOut": true,
		"Everywhere": q.Get("everywhere") != "", "Unrecorded": q.Get("unrecorded") != ""})
}

// localPath keeps only same-site paths ("/cases?x"), never "//host", a URL,
// or a path a browser would turn into one: browsers drop tabs and newlines
// and read "\\" as "/", so "/\t/evil.example" would leave the site.
func localPath(p string) string {
	u, err := url.Parse(p)
	if err != nil {
		return ""
	}
	// Checked raw and decoded: "%09" decodes to a tab.
	for _, r := range p + u.Path {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return ""
		}
	}
	if u.Scheme != "" || u.Host != "" || u.User != nil ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") || strings.HasPrefix(p, "//") ||
		strings.HasPrefix(u.Path, "/signin") {
		return ""
	}
	return p
}

// issuerContext carries the HTTP client for the identity provider (one
// trusting the development CA when the gateway serves HTTPS with it).
func (a *App) issuerContext(ctx context.Context) context.Context {
	if a.cfg.HTTPClient == nil {
		return ctx
	}
	return oidc.ClientContext(ctx, a.cfg.HTTPClient)
}
