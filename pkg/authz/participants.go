package authz

import (
	"context"
	"fmt"
	"time"

	"github.com/casebridge/casebridge/pkg/postgres"
)

// Participant is one agency's standing on a resource, as decisions see it
// now: the grant it holds and what is left of it after the caps.
type Participant struct {
	// AgencyID is the agency (for the row of a group grant itself, the
	// group's id, with IsGroup set).
	AgencyID string
	IsGroup  bool
	// GroupID is the group the agency reaches the resource through ("" for
	// its own grants).
	GroupID string
	// Relation is the relation granted; Effective what it gives now after
	// the agreements' caps ("" for nothing).
	Relation, Effective string
	Source, Via         string
	ExpireTime          *time.Time
	CreateTime          time.Time
	// AgreementID is the agreement in force that governs the row (the
	// most restrictive between the lead and the agency, or the group for a
	// group's own row); OverrideReason the supervisor's reason where none
	// is.
	AgreementID, OverrideReason, Reason, Membership string
}

// governingSQL is the id of the most restrictive agreement in force
// between a and b, for capped relations of grant r.
func governingSQL(r, a, b string) string {
	return fmt.Sprintf(`CASE WHEN %[1]s.relation IN ('contributor', 'viewer') THEN (SELECT ag.id::text FROM authz.agreements ag
		WHERE ag.party_lo = least(%[2]s, %[3]s) AND ag.party_hi = greatest(%[2]s, %[3]s)
		  AND ag.effective_time <= now() AND (ag.expire_time IS NULL OR ag.expire_time > now())
		ORDER BY (ag.max_relation = 'viewer') DESC, ag.effective_time DESC LIMIT 1) END`, r, a, b)
}

// Participants lists, in one query, every unexpired grant on res: each
// agency's own, each group's, and each current member of a group as it
// reaches res through the group, with its effective relation.
func Participants(ctx context.Context, q postgres.Querier, res Resource) ([]Participant, error) {
	cols := func(agency, group, isGroup, expire string) string {
		return fmt.Sprintf(`%[1]s::text, %[3]s, %[2]s, r.relation, coalesce(%[4]s, ''), r.source, r.via, %[5]s, r.create_time,
			coalesce(%[6]s, ''), r.override_reason, r.reason, r.membership`,
			agency, group, isGroup, EffectiveSQL("r", agency), expire, governingSQL("r", "r.lead_agency_id", agency))
	}
	sql := `SELECT ` + cols("r.agency_id", "''", "r.grantee_type = 'group'", "r.expire_time") + `
		FROM authz.relations r WHERE r.resource_type = $1 AND r.resource_id = $2 AND ` + unexpiredSQL("r") + `
		UNION ALL
		SELECT ` + cols("m.agency_id", "r.agency_id::text", "false", "least(r.expire_time, m.end_time)") + `
		FROM authz.relations r JOIN authz.group_members m ON m.group_id = r.agency_id AND ` + memberWindowSQL("m") + ` AND ` + snapshotSQL("r", "m.start_time") + `
		WHERE r.resource_type = $1 AND r.resource_id = $2 AND r.grantee_type = 'group' AND ` + unexpiredSQL("r") + `
		ORDER BY 9, 3, 1`
	rows, err := q.Query(ctx, sql, res.Type, res.ID)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []Participant
	for rows.Next() {
		var p Participant
		if err := rows.Scan(&p.AgencyID, &p.IsGroup, &p.GroupID, &p.Relation, &p.Effective, &p.Source, &p.Via,
			&p.ExpireTime, &p.CreateTime, &p.AgreementID, &p.OverrideReason, &p.Reason, &p.Membership); err != nil {
			return nil, postgres.Translate(err)
		}
		out = append(out, p)
	}
	return out, postgres.Translate(rows.Err())
}
