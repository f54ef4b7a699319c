package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	auditv1 "github.com/casebridge/casebridge/gen/casebridge/audit/v1"
	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
)

// federation is the issue-13 world: the dev issuer (state-wide, MFA) plus
// Hartford's own IdP, which vouches for Hartford only, maps two groups and
// requires MFA.
type federation struct {
	s        *apptest.System
	hartford *stateIdP
}

func startFederation(t *testing.T) *federation {
	t.Helper()
	h := newStateIdP(t)
	s := apptest.Start(t, func(c *app.Config) {
		c.Issuers = []auth.IssuerConfig{{
			Name: "hartford-idp", URL: h.url, Audience: "casebridge", Agencies: []string{"CT0006400"},
			AgencyClaim: "ori", RolesClaim: "groups", RequireMFA: true,
			RoleMap: map[string][]string{"HPD-Detectives": {"detective"}},
		}}
	})
	return &federation{s: s, hartford: h}
}

// token is a Hartford IdP token with MFA, edited.
func (f *federation) token(t *testing.T, edit func(map[string]any)) string {
	return f.hartford.token(t, func(m map[string]any) {
		m["amr"] = []string{"pwd", "mfa"}
		m["groups"] = []string{"HPD-Detectives"}
		if edit != nil {
			edit(m)
		}
	})
}

// grpcCode calls GetCurrentUser over gRPC with tok.
func (f *federation) grpcCode(t *testing.T, tok string) codes.Code {
	t.Helper()
	conn, ctx := f.s.GRPC(t, "")
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	_, err := liaisonv1.NewDirectoryServiceClient(conn).GetCurrentUser(ctx, &liaisonv1.GetCurrentUserRequest{})
	return status.Code(err)
}

func (f *federation) users(t *testing.T, where string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, f.s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM liaison.users WHERE `+where, args...).Scan(&n))
	return n
}

func TestIssuerCannotSpeakForAnotherAgency(t *testing.T) {
	t.Parallel()
	f := startFederation(t)
	s, ctx := f.s, context.Background()
	csp := demo.AgencyID("csp")

	// A private CSP case exists.
	c := s.Do(t, "det.alvarez@csp.example", "POST", "/v1/cases", map[string]any{"title": "private CSP case"})
	require.Equal(t, http.StatusOK, c.Status)

	// Attack 1: Hartford's IdP names the state police, with privileged roles.
	mallory := f.token(t, func(m map[string]any) {
		m["sub"], m["email"], m["ori"] = "mallory-1", "mallory@evil.example", "CTCSP0000"
		m["groups"] = []string{"supervisor", "admin", "auditor"}
	})
	for _, path := range []string{"/v1/cases/" + c.Str("id"), "/v1/audit/events", "/v1/me"} {
		r := s.Do(t, "", "GET", path, nil, bearer(mallory)...)
		require.Equal(t, http.StatusUnauthorized, r.Status, "%s: %s", path, r.Raw)
		require.Contains(t, string(r.Raw), "issuer hartford-idp does not vouch for agency CTCSP0000")
	}
	require.Equal(t, codes.Unauthenticated, f.grpcCode(t, mallory))
	require.Zero(t, f.users(t, `subject = 'mallory-1' OR email = 'mallory@evil.example'`), "nothing provisioned")
	// The attempt is in CSP's own audit chain, saying why.
	var n int
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM audit.events WHERE agency_id = $1
		AND status_code = 'Unauthenticated' AND outcome = 'DENIED' AND resource_type = 'issuer' AND resource_id = 'hartford-idp'
		AND reason = 'issuer hartford-idp does not vouch for agency CTCSP0000'`, csp).Scan(&n))
	require.GreaterOrEqual(t, n, 4)
	aud := s.Do(t, "aud.ellis@csp.example", "GET", "/v1/audit/events?pageSize=100", nil)
	require.Equal(t, http.StatusOK, aud.Status)
	require.Contains(t, string(aud.Raw), "mallory@evil.example")
	reasons := 0
	for _, e := range aud.List("events") {
		if e["reason"] == "issuer hartford-idp does not vouch for agency CTCSP0000" {
			reasons++
		}
	}
	require.GreaterOrEqual(t, reasons, 4, "the reason reaches the auditor")

	// Attack 2: taking over an account created in advance by naming its
	// e-mail. A CSP account waiting for its first sign-in is not bound by
	// Hartford's IdP, with or without an agency claim.
	r := s.Do(t, "admin@csp.example", "POST", "/v1/agencies/"+csp+"/users",
		map[string]any{"email": "det.waiting@csp.example", "roles": []string{"detective"}})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	for _, edit := range []func(map[string]any){
		func(m map[string]any) {
			m["sub"], m["email"] = "mallory-2", "det.waiting@csp.example"
			delete(m, "ori")
		},
		func(m map[string]any) { m["sub"], m["email"] = "mallory-3", "det.waiting@csp.example" }, // ori Hartford
		func(m map[string]any) {
			m["sub"], m["email"], m["ori"] = "mallory-4", "det.waiting@csp.example", "CTCSP0000"
		},
	} {
		tok := f.token(t, edit)
		require.Equal(t, http.StatusUnauthorized, s.Do(t, "", "GET", "/v1/me", nil, bearer(tok)...).Status)
		require.Equal(t, codes.Unauthenticated, f.grpcCode(t, tok))
	}
	require.Equal(t, 1, f.users(t, `email = 'det.waiting@csp.example' AND issuer IS NULL`), "still waiting, unbound")
	// The state-wide dev issuer (the agency's own sign-in) binds it.
	require.Equal(t, http.StatusOK, s.Do(t, "det.waiting@csp.example", "GET", "/v1/me", nil).Status)

	// A Hartford account created in advance is bound by Hartford's IdP,
	// and the binding is audited with its roles.
	hartford := demo.AgencyID("hartford")
	_, err := s.Pool.Exec(ctx, `INSERT INTO liaison.users (id, agency_id, email, roles) VALUES (gen_random_uuid(), $1, 'det.pre@hartford.example', '{detective}')`, hartford)
	require.NoError(t, err)
	pre := f.token(t, func(m map[string]any) { m["sub"], m["email"] = "h-77", "det.pre@hartford.example" })
	me := s.Do(t, "", "GET", "/v1/me", nil, bearer(pre)...)
	require.Equal(t, http.StatusOK, me.Status, string(me.Raw))
	require.Equal(t, "det.pre@hartford.example", me.Str("user.email"))
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM audit.events WHERE agency_id = $1 AND method = 'BindAccount'
		AND user_email = 'det.pre@hartford.example' AND roles_after = '{detective}'`, hartford).Scan(&n))
	require.Equal(t, 1, n)

	// Roles from the IdP pass only through the mapping: "admin" and
	// "auditor" groups map to nothing.
	newbie := f.token(t, func(m map[string]any) {
		m["sub"], m["email"] = "h-78", "det.newbie@hartford.example"
		m["groups"] = []string{"HPD-Detectives", "admin", "auditor", "supervisor"}
	})
	me = s.Do(t, "", "GET", "/v1/me", nil, bearer(newbie)...)
	require.Equal(t, http.StatusOK, me.Status, string(me.Raw))
	require.Equal(t, []any{"detective"}, me.Get("user.roles"))
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM audit.events WHERE agency_id = $1 AND method = 'ProvisionUser'
		AND user_email = 'det.newbie@hartford.example' AND roles_after = '{detective}'`, hartford).Scan(&n))
	require.Equal(t, 1, n)
}

func TestRequireMFAAndClaimHygiene(t *testing.T) {
	t.Parallel()
	f := startFederation(t)
	s := f.s

	withMFA := f.token(t, nil)
	require.Equal(t, http.StatusOK, s.Do(t, "", "GET", "/v1/me", nil, bearer(withMFA)...).Status)
	require.Equal(t, codes.OK, f.grpcCode(t, withMFA))
	for _, amr := range []any{nil, []string{"pwd"}} {
		tok := f.token(t, func(m map[string]any) {
			if amr == nil {
				delete(m, "amr")
			} else {
				m["amr"] = amr
			}
		})
		r := s.Do(t, "", "GET", "/v1/me", nil, bearer(tok)...)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Contains(t, string(r.Raw), "this agency requires multi-factor sign-in")
		require.Equal(t, codes.Unauthenticated, f.grpcCode(t, tok))
	}
	// The development issuer requires MFA too; its tokens show it.
	require.Equal(t, http.StatusOK, s.Do(t, "det.alvarez@csp.example", "GET", "/v1/me", nil).Status)

	for name, edit := range map[string]func(map[string]any){
		"NUL in sub":        func(m map[string]any) { m["sub"] = "u-1001\x00" },
		"control in email":  func(m map[string]any) { m["email"] = "x@hartford.example\r\n" },
		"NUL in agency":     func(m map[string]any) { m["ori"] = "CT0006400\x00" },
		"5,000-char e-mail": func(m map[string]any) { m["sub"], m["email"] = "u-long", strings.Repeat("a", 4990)+"@x.example" },
		"256-char sub":      func(m map[string]any) { m["sub"] = strings.Repeat("s", 256) },
	} {
		tok := f.token(t, edit)
		r := s.Do(t, "", "GET", "/v1/me", nil, bearer(tok)...)
		require.Equal(t, http.StatusUnauthorized, r.Status, "%s: %s", name, r.Raw)
		require.Equal(t, codes.Unauthenticated, f.grpcCode(t, tok), name)
	}
	require.Zero(t, f.users(t, `subject = 'u-long' OR length(email) > 254`))
}

func TestPrivilegedRolesNeedASecondAdmin(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	ctx := context.Background()
	csp := demo.AgencyID("csp")
	admin, alvarez := demo.UserID("admin@csp.example"), demo.UserID("det.alvarez@csp.example")
	users := "/v1/agencies/" + csp + "/users/"

	// Attack 3: an admin raises their own roles — over HTTP and gRPC.
	self := s.Do(t, "admin@csp.example", "PATCH", users+admin, map[string]any{"roles": []string{"admin", "supervisor", "auditor"}})
	require.Equal(t, http.StatusForbidden, self.Status, string(self.Raw))
	require.Equal(t, http.StatusForbidden, s.Do(t, "admin@csp.example", "POST", users+admin+"/roleGrants",
		map[string]any{"roles": []string{"admin", "auditor"}}).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, "admin@csp.example", "PATCH", users+admin, map[string]any{"active": false}).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, "admin@csp.example", "POST", users+admin+":deactivate", map[string]any{}).Status)
	conn, gctx := s.GRPC(t, "admin@csp.example")
	dir := liaisonv1.NewDirectoryServiceClient(conn)
	_, err := dir.CreateRoleGrant(gctx, &liaisonv1.CreateRoleGrantRequest{AgencyId: csp, UserId: admin,
		RoleGrant: &liaisonv1.RoleGrant{Roles: []string{"admin", "auditor"}}})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	_, err = dir.UpdateUser(gctx, &liaisonv1.UpdateUserRequest{User: &liaisonv1.User{Id: admin, AgencyId: csp, Roles: []string{"admin", "auditor"}}})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "no update mask: every field, which includes immutable ones")
	var roles []string
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT roles FROM liaison.users WHERE id = $1`, admin).Scan(&roles))
	require.Equal(t, []string{"admin"}, roles)

	// Privileged roles are not added by PATCH, nor given at creation.
	r := s.Do(t, "admin@csp.example", "PATCH", users+alvarez, map[string]any{"roles": []string{"detective", "auditor"}})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw)) // FAILED_PRECONDITION
	require.Contains(t, string(r.Raw), "roleGrants")
	r = s.Do(t, "admin@csp.example", "POST", "/v1/agencies/"+csp+"/users", map[string]any{"email": "x.admin@csp.example", "roles": []string{"admin"}})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))

	// A proposed auditor grant gives no access until a second admin approves.
	g := s.Do(t, "admin@csp.example", "POST", users+alvarez+"/roleGrants", map[string]any{"roles": []string{"detective", "auditor"}})
	require.Equal(t, http.StatusOK, g.Status, string(g.Raw))
	require.Equal(t, "ROLE_GRANT_STATE_PENDING", g.Str("state"))
	require.Equal(t, []any{"detective"}, g.Get("previousRoles"))
	grant := users + alvarez + "/roleGrants/" + g.Str("id")
	require.Equal(t, http.StatusForbidden, s.Do(t, "det.alvarez@csp.example", "GET", "/v1/audit/events", nil).Status)
	// One pending grant per user.
	require.Equal(t, http.StatusConflict, s.Do(t, "adm.ford@csp.example", "POST", users+alvarez+"/roleGrants",
		map[string]any{"roles": []string{"supervisor"}}).Status)
	// The proposer cannot approve; another agency's admin or a non-admin
	// cannot either; the grantee cannot.
	require.Equal(t, http.StatusForbidden, s.Do(t, "admin@csp.example", "POST", grant+":approve", map[string]any{}).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, "sgt.brooks@csp.example", "POST", grant+":approve", map[string]any{}).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, "det.alvarez@csp.example", "POST", grant+":approve", map[string]any{}).Status)
	_, err = dir.ApproveRoleGrant(gctx, &liaisonv1.ApproveRoleGrantRequest{AgencyId: csp, UserId: alvarez, GrantId: g.Str("id")})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	// The pending list shows it to the second admin.
	l := s.Do(t, "adm.ford@csp.example", "GET", "/v1/agencies/"+csp+"/users/-/roleGrants?state=ROLE_GRANT_STATE_PENDING", nil)
	require.Equal(t, http.StatusOK, l.Status, string(l.Raw))
	require.Len(t, l.List("roleGrants"), 1)
	require.Equal(t, "det.alvarez@csp.example", l.List("roleGrants")[0]["userEmail"])

	// The second admin approves (over gRPC): in force on the next request.
	fconn, fctx := s.GRPC(t, "adm.ford@csp.example")
	ok, err := liaisonv1.NewDirectoryServiceClient(fconn).ApproveRoleGrant(fctx,
		&liaisonv1.ApproveRoleGrantRequest{AgencyId: csp, UserId: alvarez, GrantId: g.Str("id")})
	require.NoError(t, err)
	require.Equal(t, liaisonv1.RoleGrantState_ROLE_GRANT_STATE_APPROVED, ok.GetRoleGrant().GetState())
	require.Equal(t, "adm.ford@csp.example", ok.GetRoleGrant().GetDeciderEmail())
	require.Equal(t, http.StatusOK, s.Do(t, "det.alvarez@csp.example", "GET", "/v1/audit/events", nil).Status)
	aconn, actx := s.GRPC(t, "det.alvarez@csp.example")
	_, err = auditv1.NewAuditServiceClient(aconn).ListAuditEvents(actx, &auditv1.ListAuditEventsRequest{})
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, s.Do(t, "adm.ford@csp.example", "POST", grant+":approve", map[string]any{}).Status, "decided once")

	// Every role change is an audit record naming the roles before and after.
	var before, after []string
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT roles_before, roles_after FROM audit.events
		WHERE agency_id = $1 AND method = 'ApproveRoleGrant' AND outcome = 'ALLOWED'`, csp).Scan(&before, &after))
	require.Equal(t, []string{"detective"}, before)
	require.Equal(t, []string{"auditor", "detective"}, after)
	trail := s.Do(t, "aud.ellis@csp.example", "GET", "/v1/audit/events?pageSize=100", nil)
	require.Equal(t, http.StatusOK, trail.Status)
	found := false
	for _, e := range trail.List("events") {
		if e["method"] == "ApproveRoleGrant" && e["outcome"] == "ALLOWED" {
			require.Equal(t, []any{"detective"}, e["rolesBefore"])
			require.Equal(t, []any{"auditor", "detective"}, e["rolesAfter"])
			found = true
		}
	}
	require.True(t, found, "the auditor reads the role change in the trail")

	// Removing a privileged role, or adding a plain one, needs one admin
	// and is applied at once — audited all the same.
	d := s.Do(t, "admin@csp.example", "POST", users+alvarez+"/roleGrants", map[string]any{"roles": []string{"detective", "liaison"}})
	require.Equal(t, http.StatusOK, d.Status, string(d.Raw))
	require.Equal(t, "ROLE_GRANT_STATE_APPLIED", d.Str("state"))
	require.Equal(t, http.StatusForbidden, s.Do(t, "det.alvarez@csp.example", "GET", "/v1/audit/events", nil).Status)
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT roles_before, roles_after FROM audit.events
		WHERE agency_id = $1 AND method = 'CreateRoleGrant' AND outcome = 'ALLOWED' AND roles_after IS NOT NULL`, csp).Scan(&before, &after))
	require.Equal(t, []string{"auditor", "detective"}, before)
	require.Equal(t, []string{"detective", "liaison"}, after)

	// A rejected grant changes nothing.
	p := s.Do(t, "adm.ford@csp.example", "POST", users+alvarez+"/roleGrants", map[string]any{"roles": []string{"supervisor"}})
	require.Equal(t, "ROLE_GRANT_STATE_PENDING", p.Str("state"))
	rj := s.Do(t, "admin@csp.example", "POST", users+alvarez+"/roleGrants/"+p.Str("id")+":reject", map[string]any{"reason": "not yet"})
	require.Equal(t, http.StatusOK, rj.Status, string(rj.Raw))
	require.Equal(t, "ROLE_GRANT_STATE_REJECTED", rj.Str("state"))
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT roles FROM liaison.users WHERE id = $1`, alvarez).Scan(&roles))
	require.Equal(t, []string{"detective", "liaison"}, roles)

	// The chain still verifies with the new fields.
	reports, err := audit.VerifyAll(ctx, s.Pool)
	require.NoError(t, err)
	for _, rep := range reports {
		require.True(t, rep.OK(), rep.String())
	}
}

func TestSignOutRevokesTokens(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	tok, other := s.Token(t, "det.alvarez@csp.example"), s.Token(t, "det.alvarez@csp.example")
	require.NotEqual(t, tok, other)

	require.Equal(t, http.StatusOK, s.Do(t, "", "POST", "/v1/me:signOut", map[string]any{}, bearer(tok)...).Status)
	require.Equal(t, http.StatusUnauthorized, s.Do(t, "", "GET", "/v1/me", nil, bearer(tok)...).Status)
	conn, ctx := s.GRPC(t, "")
	_, err := casesv1.NewCaseServiceClient(conn).ListCases(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok), &casesv1.ListCasesRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	// Another session of the same user is untouched by a single sign-out…
	require.Equal(t, http.StatusOK, s.Do(t, "", "GET", "/v1/me", nil, bearer(other)...).Status)

	// …and ended by "sign out everywhere", with every other token issued
	// so far, over gRPC as over HTTP.
	third := s.Token(t, "det.alvarez@csp.example")
	dir := liaisonv1.NewDirectoryServiceClient(conn)
	_, err = dir.SignOutEverywhere(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+other), &liaisonv1.SignOutEverywhereRequest{})
	require.NoError(t, err)
	for _, tk := range []string{other, third} {
		r := s.Do(t, "", "GET", "/v1/me", nil, bearer(tk)...)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Contains(t, string(r.Raw), "this sign-in has ended")
	}
	// Signing in again works; other users are untouched.
	nextSecond()
	require.Equal(t, http.StatusOK, s.Do(t, "det.alvarez@csp.example", "GET", "/v1/me", nil).Status)
	require.Equal(t, http.StatusOK, s.Do(t, "sgt.brooks@csp.example", "GET", "/v1/me", nil).Status)
}
