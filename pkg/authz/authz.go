package authz

import (
	"context"
	"errors"
	"fmt"

	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/postgres"
)

// Errors of Authorize. Services map ErrNotFound to NOT_FOUND (so nobody
// learns an invisible resource exists) and ErrDenied to PERMISSION_DENIED.
var (
	ErrNotFound = errors.New("not found")
	ErrDenied   = errors.New("permission denied")
)

// Resource names one protected resource.
type Resource struct {
	Type string // "case", …
	ID   string // UUID
}

// Authorizer answers Authorize from the policy Engine and the relations in
// the authz schema. It holds no cache: an unshare or expiry counts on the
// very next request.
type Authorizer struct {
	Engine *Engine
}

// NewAuthorizer returns an Authorizer over engine.
func NewAuthorizer(engine *Engine) *Authorizer { return &Authorizer{Engine: engine} }

// Decision explains an authorization answer (explainAccess).
type Decision struct {
	Relations []string // relations the agency holds on the resource
	Matched   []string // policy lines that allowed the action
	Allowed   bool
	Visible   bool
}

// Explain computes the decision for p doing act on obj of res.
func (a *Authorizer) Explain(ctx context.Context, q postgres.Querier, p *auth.Principal, obj, act string, res Resource) (*Decision, error) {
	rels, err := Held(ctx, q, p.AgencyID, res)
	if err != nil {
		return nil, err
	}
	d := &Decision{Relations: rels}
	for _, rel := range rels {
		ok, lines := a.Engine.Allowed(p.Roles, p.AgencyKind, rel, obj, act)
		if ok {
			d.Allowed = true
			d.Matched = append(d.Matched, lines...)
		}
		if ok, _ := a.Engine.Allowed(p.Roles, p.AgencyKind, rel, res.Type, "read"); ok {
			d.Visible = true
		}
	}
	// Being allowed the action implies seeing the resource (an auditor reads
	// a case's audit report without reading the case).
	d.Visible = d.Visible || d.Allowed
	return d, nil
}

// Authorize returns nil if p may do act on obj of res; ErrNotFound if p may
// not even read res; ErrDenied if p can see res but not do act.
func (a *Authorizer) Authorize(ctx context.Context, q postgres.Querier, p *auth.Principal, obj, act string, res Resource) error {
	d, err := a.Explain(ctx, q, p, obj, act, res)
	if err != nil {
		return err
	}
	switch {
	case d.Allowed:
		return nil
	case d.Visible:
		return fmt.Errorf("%w: %s may not %s %s", ErrDenied, p.Email, act, obj)
	default:
		return ErrNotFound
	}
}

// AuthorizeOwnAgency decides actions on the principal's own agency (opening a
// case, managing its users) through the member relation every agency holds
// to itself.
func (a *Authorizer) AuthorizeOwnAgency(p *auth.Principal, obj, act string) error {
	if ok, _ := a.Engine.Allowed(p.Roles, p.AgencyKind, RelMember, obj, act); ok {
		return nil
	}
	return fmt.Errorf("%w: %s may not %s %s", ErrDenied, p.Email, act, obj)
}

// AuthorizeAgency decides actions on an agency's own records (its users,
// contacts): the principal's agency holds the member relation to itself and
// nothing to other agencies. Agencies are public within Casebridge, so a
// refusal is ErrDenied, never ErrNotFound.
func (a *Authorizer) AuthorizeAgency(p *auth.Principal, agencyID, obj, act string) error {
	if agencyID == p.AgencyID {
		if ok, _ := a.Engine.Allowed(p.Roles, p.AgencyKind, RelMember, obj, act); ok {
			return nil
		}
	}
	return fmt.Errorf("%w: %s may not %s %s of agency %s", ErrDenied, p.Email, act, obj, agencyID)
}

// Permitting returns the relations that let p do act on obj; Lists put it
// into their SQL through VisibleSQL.
func (a *Authorizer) Permitting(p *auth.Principal, obj, act string) []string {
	return a.Engine.Permitting(p.Roles, p.AgencyKind, obj, act)
}

// Held returns the distinct relations agencyID effectively holds on res
// (effective.go: grants to it and to its groups, capped by agreements), in
// one query.
func Held(ctx context.Context, q postgres.Querier, agencyID string, res Resource) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT eff FROM (SELECT `+EffectiveSQL("r", "$3::uuid")+` AS eff
		FROM authz.relations r WHERE r.resource_type = $1 AND r.resource_id = $2 AND `+candidateSQL("r", "$3::uuid")+`) x
		WHERE eff IS NOT NULL ORDER BY eff`,
		res.Type, res.ID, agencyID)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var rels []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, postgres.Translate(err)
		}
		rels = append(rels, r)
	}
	return rels, postgres.Translate(rows.Err())
}

// Reaches reports whether agencyID holds any candidate grant on res, capped
// to nothing or not: explainAccess answers about the users of such agencies
// (and of the caller's own), and about nobody else.
func Reaches(ctx context.Context, q postgres.Querier, agencyID string, res Resource) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM authz.relations r WHERE r.resource_type = $1 AND r.resource_id = $2 AND `+
		candidateSQL("r", "$3::uuid")+`)`, res.Type, res.ID, agencyID).Scan(&ok)
	return ok, postgres.Translate(err)
}
