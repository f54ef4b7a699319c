package authz

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// VisibleSQL is the one SQL predicate for "the agency holds one of these
// relations on the resource, unexpired". idCol is the resource id column,
// agencyParam and relParam the placeholders of the agency id and the
// relation array (text[]).
func VisibleSQL(resourceType, idCol, agencyParam, relParam string) string {
	return fmt.Sprintf(`EXISTS (SELECT 1 FROM authz.relations r WHERE r.resource_type = '%s' AND r.resource_id = %s AND r.agency_id = %s AND r.relation = ANY(%s) AND (r.expire_time IS NULL OR r.expire_time > now()))`,
		resourceType, idCol, agencyParam, relParam)
}

// Held returns the distinct, unexpired relations agencyID holds on res.
func Held(ctx context.Context, q postgres.Querier, agencyID string, res Resource) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT relation FROM authz.relations
		WHERE resource_type = $1 AND resource_id = $2 AND agency_id = $3
		  AND (expire_time IS NULL OR expire_time > now()) ORDER BY relation`,
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

// Grant is one relation to write.
type Grant struct {
	Resource   Resource
	AgencyID   string
	Relation   string
	Source     string // "" for direct grants
	ExpireTime *time.Time
}

// Write records g, replacing the expiry of an existing identical grant.
// Callers run it in the transaction of the change that justifies it.
func Write(ctx context.Context, q postgres.Querier, g Grant) error {
	_, err := q.Exec(ctx, `INSERT INTO authz.relations (resource_type, resource_id, agency_id, relation, source, expire_time)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (resource_type, resource_id, agency_id, relation, source) DO UPDATE SET expire_time = EXCLUDED.expire_time`,
		g.Resource.Type, g.Resource.ID, g.AgencyID, g.Relation, g.Source, g.ExpireTime)
	return postgres.Translate(err)
}

// Delete removes the direct (source "") relations of agencyID on res among
// rels, and reports how many it removed.
func Delete(ctx context.Context, q postgres.Querier, res Resource, agencyID string, rels ...string) (int64, error) {
	tag, err := q.Exec(ctx, `DELETE FROM authz.relations
		WHERE resource_type = $1 AND resource_id = $2 AND agency_id = $3 AND relation = ANY($4) AND source = ''`,
		res.Type, res.ID, agencyID, rels)
	if err != nil {
		return 0, postgres.Translate(err)
	}
	return tag.RowsAffected(), nil
}

// Relation is one stored relation.
type Relation struct {
	AgencyID   string
	Relation   string
	Source     string
	ExpireTime *time.Time
	CreateTime time.Time
}

// List returns the unexpired relations on res, by agency.
func List(ctx context.Context, q postgres.Querier, res Resource) ([]Relation, error) {
	rows, err := q.Query(ctx, `SELECT agency_id::text, relation, source, expire_time, create_time FROM authz.relations
		WHERE resource_type = $1 AND resource_id = $2 AND (expire_time IS NULL OR expire_time > now())
		ORDER BY create_time, agency_id, relation`, res.Type, res.ID)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []Relation
	for rows.Next() {
		var r Relation
		if err := rows.Scan(&r.AgencyID, &r.Relation, &r.Source, &r.ExpireTime, &r.CreateTime); err != nil {
			return nil, postgres.Translate(err)
		}
		out = append(out, r)
	}
	return out, postgres.Translate(rows.Err())
}
