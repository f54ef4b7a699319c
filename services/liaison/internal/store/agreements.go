package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/postgres"
)

// Agreement is an information-sharing agreement.
type Agreement struct {
	ID, AgencyID                 string
	PartnerAgencyID, TaskforceID *string
	Title, MaxRelation           string // viewer | contributor
	ExcludedCategories           []string
	EffectiveTime                time.Time
	ExpireTime                   *time.Time
	CreateTime, UpdateTime       time.Time
	Version                      int64
}

// Active reports whether a is in force at now.
func (a *Agreement) Active(now time.Time) bool {
	return !a.EffectiveTime.After(now) && (a.ExpireTime == nil || a.ExpireTime.After(now))
}

const agreementColumns = `id::text, agency_id::text, partner_agency_id::text, taskforce_id::text, title, max_relation,
	excluded_categories, effective_time, expire_time, create_time, update_time, version`

func scanAgreement(row pgx.Row) (*Agreement, error) {
	a := &Agreement{}
	if err := row.Scan(&a.ID, &a.AgencyID, &a.PartnerAgencyID, &a.TaskforceID, &a.Title, &a.MaxRelation,
		&a.ExcludedCategories, &a.EffectiveTime, &a.ExpireTime, &a.CreateTime, &a.UpdateTime, &a.Version); err != nil {
		return nil, postgres.Translate(err)
	}
	return a, nil
}

// GetAgreement returns agreement id (ErrNotFound if none).
func GetAgreement(ctx context.Context, q postgres.Querier, id string) (*Agreement, error) {
	return scanAgreement(q.QueryRow(ctx, `SELECT `+agreementColumns+` FROM liaison.agreements WHERE id = $1`, id))
}

// LockAgreement reads agreement id FOR UPDATE.
func LockAgreement(ctx context.Context, q postgres.Querier, id string) (*Agreement, error) {
	return scanAgreement(q.QueryRow(ctx, `SELECT `+agreementColumns+` FROM liaison.agreements WHERE id = $1 FOR UPDATE`, id))
}

// ListAgreements returns up to limit agreements after (afterTime, afterID),
// newest first.
func ListAgreements(ctx context.Context, q postgres.Querier, afterTime *time.Time, afterID string, limit int) ([]*Agreement, error) {
	if afterTime == nil {
		return query(ctx, q, scanAgreement, `SELECT `+agreementColumns+` FROM liaison.agreements
			ORDER BY create_time DESC, id DESC LIMIT $1`, limit)
	}
	return query(ctx, q, scanAgreement, `SELECT `+agreementColumns+` FROM liaison.agreements
		WHERE (create_time, id) < ($1, $2::uuid) ORDER BY create_time DESC, id DESC LIMIT $3`, *afterTime, afterID, limit)
}

// AgreementsBetween returns the agreements between agencyID and the partner
// agency (in either direction) or, when taskforceID is set, between
// agencyID and the task force: the most recently effective first.
func AgreementsBetween(ctx context.Context, q postgres.Querier, agencyID, partnerID, taskforceID string) ([]*Agreement, error) {
	if taskforceID != "" {
		return query(ctx, q, scanAgreement, `SELECT `+agreementColumns+` FROM liaison.agreements
			WHERE agency_id = $1 AND taskforce_id = $2 ORDER BY effective_time DESC, id`, agencyID, taskforceID)
	}
	return query(ctx, q, scanAgreement, `SELECT `+agreementColumns+` FROM liaison.agreements
		WHERE (agency_id = $1 AND partner_agency_id = $2) OR (agency_id = $2 AND partner_agency_id = $1)
		ORDER BY effective_time DESC, id`, agencyID, partnerID)
}

// InsertAgreement adds a.
func InsertAgreement(ctx context.Context, q postgres.Querier, a *Agreement) error {
	_, err := q.Exec(ctx, `INSERT INTO liaison.agreements (id, agency_id, partner_agency_id, taskforce_id, title, max_relation,
		excluded_categories, effective_time, expire_time, create_time, update_time, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		a.ID, a.AgencyID, a.PartnerAgencyID, a.TaskforceID, a.Title, a.MaxRelation, nonNil(a.ExcludedCategories),
		a.EffectiveTime, a.ExpireTime, a.CreateTime, a.UpdateTime, a.Version)
	return postgres.Translate(err)
}

// SaveAgreement writes the mutable fields of a (locked) and bumps its version.
func SaveAgreement(ctx context.Context, q postgres.Querier, a *Agreement) error {
	_, err := q.Exec(ctx, `UPDATE liaison.agreements SET title = $2, max_relation = $3, excluded_categories = $4,
		effective_time = $5, expire_time = $6, update_time = $7, version = version + 1 WHERE id = $1`,
		a.ID, a.Title, a.MaxRelation, nonNil(a.ExcludedCategories), a.EffectiveTime, a.ExpireTime, a.UpdateTime)
	if err == nil {
		a.Version++
	}
	return postgres.Translate(err)
}

// Engagement is one logged contact with partners.
type Engagement struct {
	ID, AgencyID             string
	AgencyIDs                []string
	OccurTime                time.Time
	Channel, Summary         string
	CaseIDs, ReferralIDs     []string
	FollowUpDue              *time.Time
	FollowUpDone             bool
	CreateUserID, CreateUser string
	CreateTime, UpdateTime   time.Time
	Version                  int64
}

const engagementColumns = `id::text, agency_id::text, agency_ids::text[], occur_time, channel, summary, case_ids::text[],
	referral_ids::text[], follow_up_due_time, follow_up_done, create_user_id::text, create_user_email, create_time,
	update_time, version`

func scanEngagement(row pgx.Row) (*Engagement, error) {
	e := &Engagement{}
	if err := row.Scan(&e.ID, &e.AgencyID, &e.AgencyIDs, &e.OccurTime, &e.Channel, &e.Summary, &e.CaseIDs, &e.ReferralIDs,
		&e.FollowUpDue, &e.FollowUpDone, &e.CreateUserID, &e.CreateUser, &e.CreateTime, &e.UpdateTime, &e.Version); err != nil {
		return nil, postgres.Translate(err)
	}
	return e, nil
}

// GetEngagement returns engagement id if viewerAgencyID is one of its
// agencies (ErrNotFound otherwise: invisible is the same as absent).
func GetEngagement(ctx context.Context, q postgres.Querier, viewerAgencyID, id string) (*Engagement, error) {
	return scanEngagement(q.QueryRow(ctx, `SELECT `+engagementColumns+` FROM liaison.engagements
		WHERE id = $1 AND $2::uuid = ANY(agency_ids)`, id, viewerAgencyID))
}

// LockEngagement reads engagement id of recording agency agencyID FOR UPDATE.
func LockEngagement(ctx context.Context, q postgres.Querier, agencyID, id string) (*Engagement, error) {
	return scanEngagement(q.QueryRow(ctx, `SELECT `+engagementColumns+` FROM liaison.engagements
		WHERE id = $1 AND agency_id = $2 FOR UPDATE`, id, agencyID))
}

// ListEngagements returns up to limit engagements viewerAgencyID took part
// in, newest first, after (afterTime, afterID).
func ListEngagements(ctx context.Context, q postgres.Querier, viewerAgencyID string, afterTime *time.Time, afterID string, limit int) ([]*Engagement, error) {
	if afterTime == nil {
		return query(ctx, q, scanEngagement, `SELECT `+engagementColumns+` FROM liaison.engagements
			WHERE $1::uuid = ANY(agency_ids) ORDER BY occur_time DESC, id DESC LIMIT $2`, viewerAgencyID, limit)
	}
	return query(ctx, q, scanEngagement, `SELECT `+engagementColumns+` FROM liaison.engagements
		WHERE $1::uuid = ANY(agency_ids) AND (occur_time, id) < ($2, $3::uuid)
		ORDER BY occur_time DESC, id DESC LIMIT $4`, viewerAgencyID, *afterTime, afterID, limit)
}

// ListOverdue returns up to limit engagements viewerAgencyID took part in
// whose follow-up is past due at now and not done, oldest due first, after
// (afterDue, afterID).
func ListOverdue(ctx context.Context, q postgres.Querier, viewerAgencyID string, now time.Time, afterDue *time.Time, afterID string, limit int) ([]*Engagement, error) {
	if afterDue == nil {
		return query(ctx, q, scanEngagement, `SELECT `+engagementColumns+` FROM liaison.engagements
			WHERE $1::uuid = ANY(agency_ids) AND NOT follow_up_done AND follow_up_due_time < $2
			ORDER BY follow_up_due_time, id LIMIT $3`, viewerAgencyID, now, limit)
	}
	return query(ctx, q, scanEngagement, `SELECT `+engagementColumns+` FROM liaison.engagements
		WHERE $1::uuid = ANY(agency_ids) AND NOT follow_up_done AND follow_up_due_time < $2
		  AND (follow_up_due_time, id) > ($3, $4::uuid)
		ORDER BY follow_up_due_time, id LIMIT $5`, viewerAgencyID, now, *afterDue, afterID, limit)
}

// InsertEngagement adds e.
func InsertEngagement(ctx context.Context, q postgres.Querier, e *Engagement) error {
	_, err := q.Exec(ctx, `INSERT INTO liaison.engagements (id, agency_id, agency_ids, occur_time, channel, summary, case_ids,
		referral_ids, follow_up_due_time, follow_up_done, create_user_id, create_user_email, create_time, update_time, version)
		VALUES ($1, $2, $3::text[]::uuid[], $4, $5, $6, $7::text[]::uuid[], $8::text[]::uuid[], $9, $10, $11, $12, $13, $14, $15)`,
		e.ID, e.AgencyID, nonNil(e.AgencyIDs), e.OccurTime, e.Channel, e.Summary, nonNil(e.CaseIDs), nonNil(e.ReferralIDs),
		e.FollowUpDue, e.FollowUpDone, e.CreateUserID, e.CreateUser, e.CreateTime, e.UpdateTime, e.Version)
	return postgres.Translate(err)
}

// SaveEngagement writes the mutable fields of e (locked) and bumps its version.
func SaveEngagement(ctx context.Context, q postgres.Querier, e *Engagement) error {
	_, err := q.Exec(ctx, `UPDATE liaison.engagements SET summary = $2, follow_up_due_time = $3, follow_up_done = $4,
		update_time = $5, version = version + 1 WHERE id = $1`, e.ID, e.Summary, e.FollowUpDue, e.FollowUpDone, e.UpdateTime)
	if err == nil {
		e.Version++
	}
	return postgres.Translate(err)
}

// AgenciesExist reports the ids among ids that name no agency.
func AgenciesExist(ctx context.Context, q postgres.Querier, ids []string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT x::text FROM unnest($1::uuid[]) x
		WHERE NOT EXISTS (SELECT 1 FROM liaison.agencies a WHERE a.id = x)`, ids)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var missing []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, postgres.Translate(err)
		}
		missing = append(missing, id)
	}
	return missing, postgres.Translate(rows.Err())
}
