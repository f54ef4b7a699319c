package referrals

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	referralsv1 "github.com/casebridge/casebridge/gen/casebridge/referrals/v1"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/services/referrals/internal/store"
)

// SeedTarget is the receiving agency of a seeded referral.
type SeedTarget struct {
	ID, ORI, Name string
}

// SeedReferral writes, inside tx, a referral of caseID from p's agency
// (named fromName) to `to`, already SUBMITTED with a summary-only package —
// what CreateReferral and SubmitReferral leave behind, relations included —
// for the load tool (`casebridge bench seed`). No audit record: generating a
// world is not an access to one.
func SeedReferral(ctx context.Context, tx pgx.Tx, p *auth.Principal, fromName string, to SeedTarget,
	caseID, caseNumber, title, summary string, now time.Time, ackDue time.Duration) (string, error) {
	details, err := jsonOut.Marshal(&referralsv1.CaseReferral{
		Reason: referralsv1.ReferralReason_REFERRAL_REASON_INTERSTATE, RequestedAction: "review for federal action",
		Package: &referralsv1.PackageSelection{IncludeSummary: true},
	})
	if err != nil {
		return "", err
	}
	pkg, err := jsonOut.Marshal(&referralsv1.CasePackage{CaseNumber: caseNumber, Title: title, Summary: summary})
	if err != nil {
		return "", err
	}
	due := now.Add(ackDue)
	r := &store.Referral{
		ID: uuid.NewString(), Kind: kindReferral, State: "SUBMITTED",
		FromAgencyID: p.AgencyID, FromAgencyORI: p.AgencyORI, FromAgencyName: fromName,
		ToAgencyID: to.ID, ToAgencyORI: to.ORI, ToAgencyName: to.Name, CaseID: &caseID,
		Summary: summary, Details: details, Package: pkg, SubmitTime: &now, AckDueTime: &due,
		CreateTime: now, UpdateTime: now, CreateUserID: p.UserID, CreateUserEmail: p.Email, UpdateUserEmail: p.Email,
		Version: 2,
	}
	if r.History, err = appendHistory(nil, transition(p, "create", "UNSPECIFIED", "DRAFT", "", now)); err != nil {
		return "", err
	}
	if r.History, err = appendHistory(r.History, transition(p, "submit", "DRAFT", "SUBMITTED", "", now)); err != nil {
		return "", err
	}
	if r.Number, err = store.NextNumber(ctx, tx, p.AgencyID, p.AgencyORI, now.Year()); err != nil {
		return "", err
	}
	if err := store.Insert(ctx, tx, r); err != nil {
		return "", err
	}
	for _, g := range []authz.GrantRequest{
		{Resource: referralResource(r.ID), AgencyID: p.AgencyID, Relation: authz.RelLead},
		{Resource: referralResource(r.ID), AgencyID: to.ID, Relation: authz.RelRecipient},
	} {
		if _, err := authz.Grant(ctx, tx, p, g); err != nil {
			return "", err
		}
	}
	return r.ID, nil
}
