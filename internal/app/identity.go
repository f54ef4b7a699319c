package app

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/auth/devissuer"
	"github.com/casebridge/casebridge/pkg/requestid"
)

// devIssuerConfig is the development issuer: state-wide (it signs in every
// demo user), binding accounts created in advance by e-mail (its tokens name
// no agency), and requiring MFA, which its tokens show (amr pwd+otp), so
// the multi-factor path runs in every development session and test.
func devIssuerConfig(url string) auth.IssuerConfig {
	return auth.IssuerConfig{Name: devissuer.Name, URL: url, Audience: devissuer.Audience,
		Agencies: []string{auth.StateWide}, StateWide: true, BindByEmail: true, RequireMFA: true}
}

// auditRejection adds to the audit record of a call refused at
// authentication why it was refused. A token that tried to speak for an
// agency its issuer does not vouch for is recorded in that agency's chain,
// so the agency's auditors see the attempt.
func (a *App) auditRejection(ctx context.Context, r auth.Rejection) {
	var agencyID string
	if r.AgencyORI != "" && a.pool != nil {
		// Best effort: without the id the record stays in the anonymous
		// chain, still with its reason.
		_ = a.pool.QueryRow(ctx, `SELECT id::text FROM liaison.agencies WHERE ori = $1`, r.AgencyORI).Scan(&agencyID)
	}
	audit.Annotate(ctx, func(e *audit.Event) {
		e.Reason = r.Reason
		if r.Issuer != "" {
			e.ResourceType, e.ResourceID = "issuer", r.Issuer
			e.UserEmail = r.Email
		}
		if r.AgencyORI != "" {
			e.AgencyORI = r.AgencyORI
			e.AgencyID = agencyID
		}
	})
}

// recordRoleChange is the audit record of an account that sign-in created,
// bound, or whose roles it took from the identity provider, written in the
// change's transaction with the roles before and after in clear.
func recordRoleChange(ctx context.Context, tx pgx.Tx, ch auth.RoleChange) error {
	return audit.Append(ctx, tx, &audit.Event{
		AgencyID: ch.AgencyID, Time: time.Now().UTC(), RequestID: requestid.From(ctx),
		UserID: ch.UserID, UserEmail: ch.Email, AgencyORI: ch.AgencyORI, Roles: append([]string{}, ch.After...),
		Service: "casebridge.auth", Method: ch.Action, Action: ch.Action,
		ResourceType: "user", ResourceID: ch.UserID, Outcome: audit.OutcomeAllowed, StatusCode: "OK",
		RolesBefore: append([]string{}, ch.Before...), RolesAfter: append([]string{}, ch.After...),
		Reason: "issuer " + ch.Issuer,
	})
}
