package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/postgres"
)

// Assignment is a liaison assignment.
type Assignment struct {
	ID, AgencyID, UserID, UserEmail, UserName, PartnerID, PartnerORI, PartnerName string
	CreateTime                                                                    time.Time
}

const assignmentSelect = `SELECT a.id::text, a.agency_id::text, a.user_id::text, u.email, u.display_name,
	a.partner_agency_id::text, p.ori, p.name, a.create_time
	FROM liaison.liaison_assignments a JOIN liaison.users u ON u.id = a.user_id
	JOIN liaison.agencies p ON p.id = a.partner_agency_id`

func scanAssignment(row pgx.Row) (*Assignment, error) {
	a := &Assignment{}
	if err := row.Scan(&a.ID, &a.AgencyID, &a.UserID, &a.UserEmail, &a.UserName, &a.PartnerID, &a.PartnerORI,
		&a.PartnerName, &a.CreateTime); err != nil {
		return nil, postgres.Translate(err)
	}
	return a, nil
}

// ListAssignments returns up to limit assignments of agencyID after
// (afterORI, afterID), by partner ORI.
func ListAssignments(ctx context.Context, q postgres.Querier, agencyID, afterORI, afterID string, limit int) ([]*Assignment, error) {
	return query(ctx, q, scanAssignment, assignmentSelect+` WHERE a.agency_id = $1 AND (p.ori, a.id) > ($2, $3::uuid)
		ORDER BY p.ori, a.id LIMIT $4`, agencyID, afterORI, orZeroUUID(afterID), limit)
}

// GetAssignment returns assignment id.
func GetAssignment(ctx context.Context, q postgres.Querier, id string) (*Assignment, error) {
	return scanAssignment(q.QueryRow(ctx, assignmentSelect+` WHERE a.id = $1`, id))
}

// InsertAssignment adds a (ErrAlreadyExists if the same one exists).
func InsertAssignment(ctx context.Context, q postgres.Querier, a *Assignment) error {
	_, err := q.Exec(ctx, `INSERT INTO liaison.liaison_assignments (id, agency_id, user_id, partner_agency_id, create_time)
		VALUES ($1, $2, $3, $4, $5)`, a.ID, a.AgencyID, a.UserID, a.PartnerID, a.CreateTime)
	return postgres.Translate(err)
}

// DeleteAssignment removes assignment id of agencyID (ErrNotFound if none).
func DeleteAssignment(ctx context.Context, q postgres.Querier, agencyID, id string) error {
	tag, err := q.Exec(ctx, `DELETE FROM liaison.liaison_assignments WHERE id = $1 AND agency_id = $2`, id, agencyID)
	if err != nil {
		return postgres.Translate(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("liaison assignment %s: %w", id, postgres.ErrNotFound)
	}
	return nil
}

// Taskforce is a task force with its members.
type Taskforce struct {
	ID, Name, Description, SponsorAgencyID string
	Members                                []*Member
	CreateTime, UpdateTime                 time.Time
	Version                                int64
}

// Member is one agency's membership of a task force.
type Member struct {
	AgencyID, AgencyORI, AgencyName string
	StartTime                       time.Time
	EndTime                         *time.Time
}

const taskforceColumns = `id::text, name, description, sponsor_agency_id::text, create_time, update_time, version`

func scanTaskforce(row pgx.Row) (*Taskforce, error) {
	t := &Taskforce{}
	if err := row.Scan(&t.ID, &t.Name, &t.Description, &t.SponsorAgencyID, &t.CreateTime, &t.UpdateTime, &t.Version); err != nil {
		return nil, postgres.Translate(err)
	}
	return t, nil
}

// GetTaskforce returns task force id with its members (ErrNotFound if none).
func GetTaskforce(ctx context.Context, q postgres.Querier, id string) (*Taskforce, error) {
	t, err := scanTaskforce(q.QueryRow(ctx, `SELECT `+taskforceColumns+` FROM liaison.taskforces WHERE id = $1`, id))
	if err != nil {
		return nil, err
	}
	return t, loadMembers(ctx, q, []*Taskforce{t})
}

// LockTaskforce reads task force id FOR UPDATE: membership changes of one
// task force queue here, so each reads (for its record of the cases whose
// access it changed) the membership the previous one left.
func LockTaskforce(ctx context.Context, q postgres.Querier, id string) (*Taskforce, error) {
	return scanTaskforce(q.QueryRow(ctx, `SELECT `+taskforceColumns+` FROM liaison.taskforces WHERE id = $1 FOR UPDATE`, id))
}

// ListTaskforces returns up to limit task forces after (afterName, afterID),
// by name, with their members.
func ListTaskforces(ctx context.Context, q postgres.Querier, afterName, afterID string, limit int) ([]*Taskforce, error) {
	tfs, err := query(ctx, q, scanTaskforce, `SELECT `+taskforceColumns+` FROM liaison.taskforces
		WHERE (name, id) > ($1, $2::uuid) ORDER BY name, id LIMIT $3`, afterName, orZeroUUID(afterID), limit)
	if err != nil {
		return nil, err
	}
	return tfs, loadMembers(ctx, q, tfs)
}

func loadMembers(ctx context.Context, q postgres.Querier, tfs []*Taskforce) error {
	if len(tfs) == 0 {
		return nil
	}
	ids := make([]string, len(tfs))
	byID := map[string]*Taskforce{}
	for i, t := range tfs {
		ids[i] = t.ID
		byID[t.ID] = t
		t.Members = nil
	}
	rows, err := q.Query(ctx, `SELECT m.taskforce_id::text, m.agency_id::text, a.ori, a.name, m.start_time, m.end_time
		FROM liaison.taskforce_members m JOIN liaison.agencies a ON a.id = m.agency_id
		WHERE m.taskforce_id = ANY($1::uuid[]) ORDER BY a.ori`, ids)
	if err != nil {
		return postgres.Translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var tfID string
		m := &Member{}
		if err := rows.Scan(&tfID, &m.AgencyID, &m.AgencyORI, &m.AgencyName, &m.StartTime, &m.EndTime); err != nil {
			return postgres.Translate(err)
		}
		byID[tfID].Members = append(byID[tfID].Members, m)
	}
	return postgres.Translate(rows.Err())
}

// InsertTaskforce adds t without members (ErrAlreadyExists if the name is
// taken).
func InsertTaskforce(ctx context.Context, q postgres.Querier, t *Taskforce) error {
	_, err := q.Exec(ctx, `INSERT INTO liaison.taskforces (id, name, description, sponsor_agency_id, create_time, update_time, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, t.ID, t.Name, t.Description, t.SponsorAgencyID, t.CreateTime, t.UpdateTime, t.Version)
	return postgres.Translate(err)
}

// TouchTaskforce bumps the version and update time of task force id.
func TouchTaskforce(ctx context.Context, q postgres.Querier, id string, now time.Time) error {
	_, err := q.Exec(ctx, `UPDATE liaison.taskforces SET update_time = $2, version = version + 1 WHERE id = $1`, id, now)
	return postgres.Translate(err)
}

// UpsertMember adds agencyID to task force tfID or changes its dates. The
// caller holds LockTaskforce and mirrors the membership into the
// authorization facts through the door (authz.PutMember) in the same
// transaction: decisions expand task-force shares from there.
func UpsertMember(ctx context.Context, q postgres.Querier, tfID, agencyID string, start time.Time, end *time.Time) error {
	_, err := q.Exec(ctx, `INSERT INTO liaison.taskforce_members (taskforce_id, agency_id, start_time, end_time)
		VALUES ($1, $2, $3, $4) ON CONFLICT (taskforce_id, agency_id) DO UPDATE
		SET start_time = EXCLUDED.start_time, end_time = EXCLUDED.end_time`, tfID, agencyID, start, end)
	return postgres.Translate(err)
}

// DeleteMember removes agencyID from task force tfID (ErrNotFound if it was
// no member). The caller holds LockTaskforce and ends the membership in the
// authorization facts through the door (authz.RemoveMember).
func DeleteMember(ctx context.Context, q postgres.Querier, tfID, agencyID string) error {
	tag, err := q.Exec(ctx, `DELETE FROM liaison.taskforce_members WHERE taskforce_id = $1 AND agency_id = $2`, tfID, agencyID)
	if err != nil {
		return postgres.Translate(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("member %s: %w", agencyID, postgres.ErrNotFound)
	}
	return nil
}
