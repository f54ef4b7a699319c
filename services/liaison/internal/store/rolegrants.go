package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/postgres"
)

// RoleGrant is a proposed change of a user's roles (liaison.role_grants).
type RoleGrant struct {
	ID, AgencyID, UserID, UserEmail string
	Roles, PreviousRoles            []string
	State                           string // PENDING, APPROVED, REJECTED, APPLIED
	ProposerID, ProposerEmail       string
	DeciderID                       *string
	DeciderEmail                    string
	DecideTime                      *time.Time
	Reason                          string
	CreateTime, UpdateTime          time.Time
	Version                         int64
}

const grantColumns = `g.id::text, g.agency_id::text, g.user_id::text, u.email, g.roles, g.previous_roles, g.state,
	g.proposer_id::text, g.proposer_email, g.decider_id::text, g.decider_email, g.decide_time, g.reason,
	g.create_time, g.update_time, g.version`

const grantFrom = ` FROM liaison.role_grants g JOIN liaison.users u ON u.id = g.user_id`

func scanGrant(row pgx.Row) (*RoleGrant, error) {
	g := &RoleGrant{}
	if err := row.Scan(&g.ID, &g.AgencyID, &g.UserID, &g.UserEmail, &g.Roles, &g.PreviousRoles, &g.State,
		&g.ProposerID, &g.ProposerEmail, &g.DeciderID, &g.DeciderEmail, &g.DecideTime, &g.Reason,
		&g.CreateTime, &g.UpdateTime, &g.Version); err != nil {
		return nil, postgres.Translate(err)
	}
	return g, nil
}

// InsertRoleGrant adds g (ErrAlreadyExists when the user already has a
// pending grant).
func InsertRoleGrant(ctx context.Context, q postgres.Querier, g *RoleGrant) error {
	_, err := q.Exec(ctx, `INSERT INTO liaison.role_grants (id, agency_id, user_id, roles, previous_roles, state,
		proposer_id, proposer_email, decider_id, decider_email, decide_time, create_time, update_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)`,
		g.ID, g.AgencyID, g.UserID, g.Roles, g.PreviousRoles, g.State, g.ProposerID, g.ProposerEmail,
		g.DeciderID, g.DeciderEmail, g.DecideTime, g.CreateTime)
	return postgres.Translate(err)
}

// LockRoleGrant reads grant id of userID in agencyID FOR UPDATE
// (ErrNotFound if none there).
func LockRoleGrant(ctx context.Context, q postgres.Querier, agencyID, userID, id string) (*RoleGrant, error) {
	return scanGrant(q.QueryRow(ctx, `SELECT `+grantColumns+grantFrom+`
		WHERE g.id = $1 AND g.agency_id = $2 AND g.user_id = $3 FOR UPDATE OF g`, id, agencyID, userID))
}

// DecideRoleGrant records the decision on g (state, decider, reason).
func DecideRoleGrant(ctx context.Context, q postgres.Querier, g *RoleGrant) error {
	_, err := q.Exec(ctx, `UPDATE liaison.role_grants SET state = $2, decider_id = $3, decider_email = $4,
		decide_time = $5, reason = $6, update_time = $5, version = version + 1 WHERE id = $1`,
		g.ID, g.State, g.DeciderID, g.DeciderEmail, g.DecideTime, g.Reason)
	if err == nil {
		g.Version++
		g.UpdateTime = *g.DecideTime
	}
	return postgres.Translate(err)
}

// GrantQuery selects role grants of an agency: of one user (UserID "" for
// all), in one state ("" for all), after a keyset position.
type GrantQuery struct {
	AgencyID, UserID, State string
	AfterTime               time.Time // zero: from the newest
	AfterID                 string
	Limit                   int
}

// ListRoleGrants returns the grants q selects, newest first.
func ListRoleGrants(ctx context.Context, db postgres.Querier, q GrantQuery) ([]*RoleGrant, error) {
	rows, err := db.Query(ctx, `SELECT `+grantColumns+grantFrom+`
		WHERE g.agency_id = $1 AND ($2 = '' OR g.user_id = NULLIF($2, '')::uuid) AND ($3 = '' OR g.state = $3)
		  AND ($4::timestamptz IS NULL OR (g.create_time, g.id) < ($4, NULLIF($5, '')::uuid))
		ORDER BY g.create_time DESC, g.id DESC LIMIT $6`,
		q.AgencyID, q.UserID, q.State, nullTime(q.AfterTime), q.AfterID, q.Limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*RoleGrant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, postgres.Translate(rows.Err())
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// RevokeToken records a signed-out token (by its SHA-256) until it would
// expire anyway, and prunes the records of tokens already expired.
func RevokeToken(ctx context.Context, q postgres.Querier, userID string, hash []byte, expire time.Time) error {
	if _, err := q.Exec(ctx, `DELETE FROM liaison.revoked_tokens WHERE expire_time < now()`); err != nil {
		return postgres.Translate(err)
	}
	_, err := q.Exec(ctx, `INSERT INTO liaison.revoked_tokens (token_sha256, user_id, expire_time)
		VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, hash, userID, expire)
	return postgres.Translate(err)
}

// EndSessions refuses every token of the user issued before now. Tokens
// carry "iat" in whole seconds, so one issued later within this same
// second is refused too: safe side; signing in again a moment later works.
func EndSessions(ctx context.Context, q postgres.Querier, userID string, now time.Time) error {
	_, err := q.Exec(ctx, `UPDATE liaison.users SET sessions_valid_after = $2 WHERE id = $1`, userID, now)
	return postgres.Translate(err)
}
