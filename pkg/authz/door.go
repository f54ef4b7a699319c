package authz

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/postgres"
)

// The one door (DESIGN.md §3, issue 12). Every insert, update or delete of
// authz.relations — and of the authorization facts decisions read beside
// them, task-force memberships and agreements — goes through the functions
// of this file, called inside the transaction of the change that justifies
// it. For a grant on a case the door applies the dissemination rules, writes
// the relation, the case's timeline entry and annotates the call's audit
// record (recipient, reason, the agreement or the override); the caller's
// one audit.Write in the same transaction writes that record, so a call is
// one record. A test (door_test.go) scans the tree for any other writer.

// Errors of the door. Services answer them as 400: ErrOverrideRequired
// names the request field overrideReason, ErrExceedsAgreement is a failed
// precondition. Both wrap a message written for the supervisor.
var (
	ErrOverrideRequired = errors.New("override reason required")
	ErrExceedsAgreement = errors.New("exceeds the information-sharing agreement")
)

// RuleError is a refusal by the dissemination rules.
type RuleError struct {
	Err error  // ErrOverrideRequired or ErrExceedsAgreement
	Msg string // for the supervisor
}

func (e *RuleError) Error() string { return e.Msg }
func (e *RuleError) Unwrap() error { return e.Err }

// Relation rank among the capped relations.
var rank = map[string]int{RelViewer: 1, RelContributor: 2}

// Capped reports whether rel is capped by agreements (a dissemination of a
// case's content to another agency).
func Capped(rel string) bool { _, ok := rank[rel]; return ok }

// Membership modes of a group grant.
const (
	MembershipFollow   = "follow"
	MembershipSnapshot = "snapshot"
)

// Terms is an agreement in force, as decisions read it.
type Terms struct {
	AgreementID, Title, MaxRelation string
	Excluded                        []string
	ExpireTime                      *time.Time
}

// TermsBetween returns the most restrictive agreement in force between
// parties a and b (agencies, or an agency and a group), or nil and the
// time the last one lapsed (nil if there never was one).
func TermsBetween(ctx context.Context, q postgres.Querier, a, b string) (*Terms, *time.Time, error) {
	t := &Terms{}
	err := q.QueryRow(ctx, `SELECT id::text, title, max_relation, excluded_categories, expire_time FROM authz.agreements
		WHERE party_lo = least($1::uuid, $2::uuid) AND party_hi = greatest($1::uuid, $2::uuid)
		  AND effective_time <= now() AND (expire_time IS NULL OR expire_time > now())
		ORDER BY (max_relation = 'viewer') DESC, effective_time DESC LIMIT 1`, a, b).
		Scan(&t.AgreementID, &t.Title, &t.MaxRelation, &t.Excluded, &t.ExpireTime)
	if err == nil {
		return t, nil, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, postgres.Translate(err)
	}
	var lapsed *time.Time
	err = q.QueryRow(ctx, `SELECT max(expire_time) FROM authz.agreements
		WHERE party_lo = least($1::uuid, $2::uuid) AND party_hi = greatest($1::uuid, $2::uuid) AND expire_time <= now()`, a, b).Scan(&lapsed)
	return nil, lapsed, postgres.Translate(err)
}

// GrantRequest is one grant through the door.
type GrantRequest struct {
	Resource Resource
	// The grantee: an agency, or a group (a task force) whose members
	// reach the resource as decisions expand it.
	AgencyID, GroupID string
	// Label names the grantee in words for the timeline: "CT0009300 (New
	// Haven Police Department)", "task force Connecticut Cyber Task Force".
	Label    string
	Relation string
	// Source is what the grant came from, for provenance and replacement:
	// "" a direct grant, "referral:<id>", "request:<id>".
	Source string
	// Via says how it came, in words, for the participants view (a
	// referral's number, a task force's name).
	Via string
	// LeadAgencyID is the case's lead agency, whose agreements cap a
	// contributor or viewer grant.
	LeadAgencyID   string
	ExpireTime     *time.Time
	Reason         string
	OverrideReason string
	Membership     string // group grants: MembershipFollow (default) or MembershipSnapshot
	// RefuseAbove refuses a grant above the agreement's highest relation (a
	// share). Without it such a grant is recorded as asked and capped when
	// decided (a referral, whose relation the agreement caps).
	RefuseAbove bool
	// Timeline opens the case timeline entry ("Shared with … as viewer:
	// reason"); the door adds the terms. Empty for grants that write none
	// (lead, holder, recipient of a referral).
	Timeline string
}

func (g *GrantRequest) grantee() (id, kind string) {
	if g.GroupID != "" {
		return g.GroupID, "group"
	}
	return g.AgencyID, "agency"
}

// GrantOutcome is what the rules decided.
type GrantOutcome struct {
	Terms    *Terms // the agreement in force, nil under an override
	Override string
	// TimelineNoteID is the timeline entry written ("" if none).
	TimelineNoteID string
}

// Grant writes g inside tx after applying the dissemination rules to a
// capped relation: with an agreement in force between the lead and the
// grantee, a relation above it is refused (RefuseAbove) or recorded for
// decision time to cap; with none, the grant needs an override reason,
// recorded with it. An agency holds one contributor-or-viewer grant per
// case (a new one replaces the old, whatever it came from); a group one
// grant per resource. p is the acting principal (nil only for grants that
// write no timeline entry).
func Grant(ctx context.Context, tx postgres.Querier, p *auth.Principal, g GrantRequest) (*GrantOutcome, error) {
	id, kind := g.grantee()
	if id == "" || g.Relation == "" {
		return nil, fmt.Errorf("authz: grant without grantee or relation")
	}
	if kind == "group" && g.Membership == "" {
		g.Membership = MembershipFollow
	}
	if kind == "agency" {
		g.Membership = ""
	}
	out := &GrantOutcome{}
	capped := g.Resource.Type == "case" && Capped(g.Relation)
	if capped {
		if g.LeadAgencyID == "" {
			return nil, fmt.Errorf("authz: capped grant without lead agency")
		}
		terms, lapsed, err := TermsBetween(ctx, tx, g.LeadAgencyID, id)
		if err != nil {
			return nil, err
		}
		switch {
		case terms != nil && g.RefuseAbove && rank[g.Relation] > rank[terms.MaxRelation]:
			return nil, &RuleError{Err: ErrExceedsAgreement, Msg: fmt.Sprintf(
				"the information-sharing agreement %q with %s allows at most %s; a share as %s exceeds it. Nothing was shared.",
				terms.Title, g.Label, terms.MaxRelation, g.Relation)}
		case terms != nil:
			out.Terms = terms
			g.OverrideReason = "" // an agreement in force governs; an override does not lift it
		case g.OverrideReason == "":
			why := "no information-sharing agreement with " + g.Label + " is in force"
			if lapsed != nil {
				why = "the information-sharing agreement with " + g.Label + " expired on " + lapsed.UTC().Format(time.DateOnly)
			}
			return nil, &RuleError{Err: ErrOverrideRequired, Msg: why +
				"; a supervisor's overrideReason is required to share without one. Nothing was shared."}
		default:
			out.Override = g.OverrideReason
		}
		// One contributor-or-viewer grant per agency (or group) and case.
		if _, err := tx.Exec(ctx, `DELETE FROM authz.relations WHERE resource_type = $1 AND resource_id = $2
			AND agency_id = $3 AND grantee_type = $4 AND relation IN ('contributor', 'viewer')`,
			g.Resource.Type, g.Resource.ID, id, kind); err != nil {
			return nil, postgres.Translate(err)
		}
	} else {
		g.OverrideReason = ""
	}
	var lead *string
	if g.LeadAgencyID != "" {
		lead = &g.LeadAgencyID
	}
	actor := ""
	if p != nil {
		actor = p.Email
	}
	if _, err := tx.Exec(ctx, `INSERT INTO authz.relations (resource_type, resource_id, agency_id, relation, source, expire_time,
			grantee_type, lead_agency_id, reason, override_reason, membership, via, granted_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (resource_type, resource_id, agency_id, relation, source) DO UPDATE SET expire_time = EXCLUDED.expire_time,
			reason = EXCLUDED.reason, override_reason = EXCLUDED.override_reason, via = EXCLUDED.via, granted_by = EXCLUDED.granted_by`,
		g.Resource.Type, g.Resource.ID, id, g.Relation, g.Source, g.ExpireTime, kind, lead, g.Reason, g.OverrideReason,
		g.Membership, g.Via, actor); err != nil {
		return nil, postgres.Translate(err)
	}
	if g.Timeline != "" && g.Resource.Type == "case" {
		body := g.Timeline
		if g.ExpireTime != nil {
			body += " (until " + g.ExpireTime.UTC().Format(time.RFC3339) + ")"
		}
		if capped {
			body += out.note()
		}
		nid, err := timeline(ctx, tx, p, g.Resource.ID, body)
		if err != nil {
			return nil, err
		}
		out.TimelineNoteID = nid
	}
	audit.Annotate(ctx, func(e *audit.Event) {
		if g.Resource.Type == "case" {
			e.CaseID = g.Resource.ID
		}
		if p == nil || id != p.AgencyID {
			e.RecipientAgencyID = id
		}
		if e.Purpose == "" {
			e.Purpose = g.Reason
		}
		if capped {
			e.Purpose += out.purpose()
		}
	})
	return out, nil
}

// note is the terms' part of a timeline entry.
func (o *GrantOutcome) note() string {
	if o.Terms == nil {
		return ". No information-sharing agreement in force; supervisor override: " + o.Override
	}
	s := fmt.Sprintf(". Under agreement %q (at most %s)", o.Terms.Title, o.Terms.MaxRelation)
	if len(o.Terms.Excluded) > 0 {
		s += "; must not be shared: " + strings.Join(o.Terms.Excluded, ", ")
	}
	return s
}

// purpose is the terms' part of the audit record's purpose.
func (o *GrantOutcome) purpose() string {
	if o.Terms == nil {
		return " [no agreement in force; override: " + o.Override + "]"
	}
	return " [agreement " + o.Terms.AgreementID + "]"
}

// RevokeRequest ends grants through the door.
type RevokeRequest struct {
	Resource          Resource
	AgencyID, GroupID string
	Relations         []string
	// Timeline is the case timeline entry written when something was
	// revoked ("" writes none).
	Timeline string
}

// Revoke deletes the grantee's grants among r.Relations on r.Resource,
// whatever they came from, writes the timeline entry and names the former
// grantee in the call's audit record. It returns how many it removed.
func Revoke(ctx context.Context, tx postgres.Querier, p *auth.Principal, r RevokeRequest) (int64, error) {
	n, err := r.change(ctx, tx, p, `DELETE FROM authz.relations`)
	if err != nil {
		return 0, err
	}
	audit.Annotate(ctx, func(e *audit.Event) {
		if r.Resource.Type == "case" {
			e.CaseID = r.Resource.ID
		}
		if id, _ := r.grantee(); p == nil || id != p.AgencyID {
			e.RecipientAgencyID = id
		}
	})
	return n, nil
}

// ChangeExpiry moves the expiry of the grantee's grants among r.Relations on
// r.Resource (nil: no expiry) and writes the timeline entry when given. It
// returns how many grants it changed.
func ChangeExpiry(ctx context.Context, tx postgres.Querier, p *auth.Principal, r RevokeRequest, expire *time.Time) (int64, error) {
	return r.change(ctx, tx, p, `UPDATE authz.relations SET expire_time = $6`, expire)
}

func (r *RevokeRequest) grantee() (id, kind string) {
	if r.GroupID != "" {
		return r.GroupID, "group"
	}
	return r.AgencyID, "agency"
}

// change runs verb (a DELETE or an UPDATE of authz.relations, extra
// arguments from $6) on the grantee's grants among r.Relations, and writes
// r.Timeline on a case when something changed.
func (r *RevokeRequest) change(ctx context.Context, tx postgres.Querier, p *auth.Principal, verb string, extra ...any) (int64, error) {
	id, kind := r.grantee()
	args := append([]any{r.Resource.Type, r.Resource.ID, id, kind, r.Relations}, extra...)
	tag, err := tx.Exec(ctx, verb+` WHERE resource_type = $1 AND resource_id = $2 AND agency_id = $3 AND grantee_type = $4
		AND relation = ANY($5)`, args...)
	if err != nil {
		return 0, postgres.Translate(err)
	}
	n := tag.RowsAffected()
	if n > 0 && r.Timeline != "" && r.Resource.Type == "case" {
		if _, err := timeline(ctx, tx, p, r.Resource.ID, r.Timeline); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// timeline appends a SHARING entry to case caseID's timeline as p. The
// timeline belongs to the Cases service; the door writes its access
// entries there, in the granting transaction, because an access change and
// its record must commit together whichever service made it (a referral's
// acceptance, a membership change by a task force's sponsor).
func timeline(ctx context.Context, tx postgres.Querier, p *auth.Principal, caseID, body string) (string, error) {
	if p == nil {
		return "", fmt.Errorf("authz: timeline entry without an acting principal")
	}
	id := uuid.NewString()
	_, err := tx.Exec(ctx, `INSERT INTO cases.notes (id, case_id, kind, body, author_user_id, author_email, agency_id, agency_ori, create_time)
		VALUES ($1, $2, 'SHARING', $3, $4, $5, $6, $7, $8)`,
		id, caseID, body, p.UserID, p.Email, p.AgencyID, p.AgencyORI, time.Now().UTC())
	return id, postgres.Translate(err)
}

// Membership is one agency's membership of a group (a task force).
type Membership struct {
	GroupID, AgencyID string
	// GroupLabel and AgencyLabel name them in timeline entries.
	GroupLabel, AgencyLabel string
	StartTime               time.Time
	EndTime                 *time.Time
}

// reach returns, for each case the agency reaches through group grants of
// groupID, the relation it effectively holds that way.
func reach(ctx context.Context, tx postgres.Querier, groupID, agencyID string) (map[string]string, error) {
	rows, err := tx.Query(ctx, `SELECT r.resource_id::text, coalesce(`+EffectiveSQL("r", "$2::uuid")+`, '')
		FROM authz.relations r WHERE r.resource_type = 'case' AND r.grantee_type = 'group' AND r.agency_id = $1
		  AND r.lead_agency_id IS DISTINCT FROM $2::uuid AND `+candidateSQL("r", "$2::uuid"), groupID, agencyID)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, rel string
		if err := rows.Scan(&id, &rel); err != nil {
			return nil, postgres.Translate(err)
		}
		if rel != "" {
			out[id] = rel
		}
	}
	return out, postgres.Translate(rows.Err())
}

// changeMembership runs change between two readings of what the agency
// reaches through the group, then records every case whose access changed:
// a timeline entry on each and their ids in the call's audit record (so
// each case's disclosure report shows when the agency gained or lost it,
// and by whose action — a sponsor that is not the lead included).
func changeMembership(ctx context.Context, tx postgres.Querier, p *auth.Principal, m Membership, change func() error) ([]string, error) {
	before, err := reach(ctx, tx, m.GroupID, m.AgencyID)
	if err != nil {
		return nil, err
	}
	if err := change(); err != nil {
		return nil, err
	}
	after, err := reach(ctx, tx, m.GroupID, m.AgencyID)
	if err != nil {
		return nil, err
	}
	var ids, bodies []string
	by := func() string { return "" }
	if p != nil {
		by = func() string { return " (membership changed by " + p.Email + ", " + p.AgencyORI + ")" }
	}
	for id, rel := range after {
		if before[id] != rel {
			ids = append(ids, id)
			bodies = append(bodies, fmt.Sprintf("%s now reaches this case as %s through %s%s", m.AgencyLabel, rel, m.GroupLabel, by()))
		}
	}
	for id := range before {
		if _, ok := after[id]; !ok {
			ids = append(ids, id)
			bodies = append(bodies, fmt.Sprintf("%s no longer reaches this case through %s%s", m.AgencyLabel, m.GroupLabel, by()))
		}
	}
	if len(ids) > 0 && p == nil {
		return nil, fmt.Errorf("authz: a membership change that changes access needs an acting principal")
	}
	if len(ids) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO cases.notes (id, case_id, kind, body, author_user_id, author_email, agency_id, agency_ori, create_time)
			SELECT gen_random_uuid(), c, 'SHARING', b, $3, $4, $5, $6, $7 FROM unnest($1::uuid[], $2::text[]) AS x(c, b)`,
			ids, bodies, p.UserID, p.Email, p.AgencyID, p.AgencyORI, time.Now().UTC()); err != nil {
			return nil, postgres.Translate(err)
		}
	}
	audit.Annotate(ctx, func(e *audit.Event) {
		e.RecipientAgencyID = m.AgencyID
		e.ListedCaseIDs = append(e.ListedCaseIDs, ids...)
	})
	return ids, nil
}

// PutMember adds agency m.AgencyID to group m.GroupID, or changes its
// dates, and records the cases whose access that changed. It returns their
// ids.
func PutMember(ctx context.Context, tx postgres.Querier, p *auth.Principal, m Membership) ([]string, error) {
	return changeMembership(ctx, tx, p, m, func() error {
		// A start "now" by the caller's clock must count in this very
		// transaction (whose now() is its start) and despite clock skew:
		// memberships never start in the future, so clamp to the database's
		// now.
		_, err := tx.Exec(ctx, `INSERT INTO authz.group_members (group_id, agency_id, start_time, end_time) VALUES ($1, $2, least($3::timestamptz, now()), $4)
			ON CONFLICT (group_id, agency_id) DO UPDATE SET start_time = EXCLUDED.start_time, end_time = EXCLUDED.end_time`,
			m.GroupID, m.AgencyID, m.StartTime, m.EndTime)
		return postgres.Translate(err)
	})
}

// RemoveMember ends agency m.AgencyID's membership of group m.GroupID and
// records the cases it no longer reaches.
func RemoveMember(ctx context.Context, tx postgres.Querier, p *auth.Principal, m Membership) ([]string, error) {
	return changeMembership(ctx, tx, p, m, func() error {
		_, err := tx.Exec(ctx, `DELETE FROM authz.group_members WHERE group_id = $1 AND agency_id = $2`, m.GroupID, m.AgencyID)
		return postgres.Translate(err)
	})
}

// Agreement is an information-sharing agreement as decisions read it.
type Agreement struct {
	ID, PartyA, PartyB string // PartyB: an agency or a group
	Title, MaxRelation string
	Excluded           []string
	EffectiveTime      time.Time
	ExpireTime         *time.Time
}

// PutAgreement records or replaces agreement a, inside the liaison
// service's transaction that records it: from the next request every share
// it governs is decided under its terms.
func PutAgreement(ctx context.Context, tx postgres.Querier, a Agreement) error {
	if a.Excluded == nil {
		a.Excluded = []string{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO authz.agreements (id, party_lo, party_hi, title, max_relation, excluded_categories, effective_time, expire_time)
		VALUES ($1, least($2::uuid, $3::uuid), greatest($2::uuid, $3::uuid), $4, $5, $6, $7, $8)
		ON CONFLICT (id) DO UPDATE SET party_lo = EXCLUDED.party_lo, party_hi = EXCLUDED.party_hi, title = EXCLUDED.title,
			max_relation = EXCLUDED.max_relation, excluded_categories = EXCLUDED.excluded_categories,
			effective_time = EXCLUDED.effective_time, expire_time = EXCLUDED.expire_time`,
		a.ID, a.PartyA, a.PartyB, a.Title, a.MaxRelation, a.Excluded, a.EffectiveTime, a.ExpireTime)
	return postgres.Translate(err)
}

// SeedGrant is one grant of a generated world (the load tool's, the
// invariant tests').
type SeedGrant struct {
	ResourceType         string
	ResourceID, AgencyID uuid.UUID // AgencyID: the group's id when Group
	Relation             string
	Group                bool
	Membership           string // group grants: MembershipFollow (default) or MembershipSnapshot
	Source               string
	LeadAgencyID         *uuid.UUID
	OverrideReason       string
	Reason               string
	ExpireTime           *time.Time
	CreateTime           time.Time // zero: now
}

// SeedGrants bulk-loads generated grants with COPY: no rules, no timeline,
// no audit — a world that never was used (casebridge bench seed, tests).
// Nothing serving requests calls it. Grants must be distinct.
func SeedGrants(ctx context.Context, tx pgx.Tx, gs []SeedGrant) error {
	now := time.Now().UTC()
	rows := make([][]any, len(gs))
	for i, g := range gs {
		kind, mode := "agency", ""
		if g.Group {
			kind, mode = "group", g.Membership
			if mode == "" {
				mode = MembershipFollow
			}
		}
		ct := g.CreateTime
		if ct.IsZero() {
			ct = now
		}
		rows[i] = []any{g.ResourceType, g.ResourceID, g.AgencyID, g.Relation, g.Source, g.ExpireTime, ct, kind,
			g.LeadAgencyID, g.Reason, g.OverrideReason, mode}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"authz", "relations"},
		[]string{"resource_type", "resource_id", "agency_id", "relation", "source", "expire_time", "create_time", "grantee_type",
			"lead_agency_id", "reason", "override_reason", "membership"}, pgx.CopyFromRows(rows))
	return postgres.Translate(err)
}
