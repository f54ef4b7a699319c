package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/postgres"
)

// LegalProcess is a stored legal process item. ExpireTime is what a person
// gave, for kinds without a statutory clock; a preservation request's
// expiry is computed from ServeTime and ExtendTime by the service.
type LegalProcess struct {
	ID              string
	CaseID          string
	Kind            string // PRESERVATION_REQUEST, SUBPOENA, …
	Recipient       string
	Identifier      string
	Description     string
	State           string // DRAFT, SERVED, RETURNED
	IssueTime       *time.Time
	ServeTime       *time.Time
	ExpireTime      *time.Time
	ReturnTime      *time.Time
	ExtendTime      *time.Time
	ExhibitIDs      []string
	CreateTime      time.Time
	UpdateTime      time.Time
	CreateUserEmail string
	UpdateUserEmail string
	Version         int64
}

const legalColumns = `id::text, case_id::text, kind, recipient, identifier, description, state, issue_time, serve_time,
	expire_time, return_time, extend_time, exhibit_ids::text[], create_time, update_time, create_user_email,
	update_user_email, version`

func scanLegal(row pgx.Row) (*LegalProcess, error) {
	l := &LegalProcess{}
	if err := row.Scan(&l.ID, &l.CaseID, &l.Kind, &l.Recipient, &l.Identifier, &l.Description, &l.State,
		&l.IssueTime, &l.ServeTime, &l.ExpireTime, &l.ReturnTime, &l.ExtendTime, &l.ExhibitIDs, &l.CreateTime,
		&l.UpdateTime, &l.CreateUserEmail, &l.UpdateUserEmail, &l.Version); err != nil {
		return nil, postgres.Translate(err)
	}
	return l, nil
}

// InsertLegalProcess inserts l as given.
func InsertLegalProcess(ctx context.Context, tx pgx.Tx, l *LegalProcess) error {
	_, err := tx.Exec(ctx, `INSERT INTO cases.legal_process (id, case_id, kind, recipient, identifier, description,
		state, issue_time, serve_time, expire_time, return_time, extend_time, exhibit_ids, create_time, update_time,
		create_user_email, update_user_email, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::text[]::uuid[], $14, $15, $16, $17, 1)`,
		l.ID, l.CaseID, l.Kind, l.Recipient, l.Identifier, l.Description, l.State, l.IssueTime, l.ServeTime,
		l.ExpireTime, l.ReturnTime, l.ExtendTime, nonNil(l.ExhibitIDs), l.CreateTime, l.UpdateTime,
		l.CreateUserEmail, l.UpdateUserEmail)
	l.Version = 1
	return postgres.Translate(err)
}

// GetLegalProcess returns the item with id, or an error wrapping
// postgres.ErrNotFound. It does not check authorization.
func GetLegalProcess(ctx context.Context, q postgres.Querier, id string) (*LegalProcess, error) {
	return scanLegal(q.QueryRow(ctx, `SELECT `+legalColumns+` FROM cases.legal_process WHERE id = $1`, id))
}

// LockLegalProcess is GetLegalProcess FOR UPDATE.
func LockLegalProcess(ctx context.Context, tx pgx.Tx, id string) (*LegalProcess, error) {
	return scanLegal(tx.QueryRow(ctx, `SELECT `+legalColumns+` FROM cases.legal_process WHERE id = $1 FOR UPDATE`, id))
}

// SaveLegalProcess writes l (locked) and bumps its version.
func SaveLegalProcess(ctx context.Context, tx pgx.Tx, l *LegalProcess) error {
	tag, err := tx.Exec(ctx, `UPDATE cases.legal_process SET recipient = $2, identifier = $3, description = $4,
		state = $5, issue_time = $6, serve_time = $7, expire_time = $8, return_time = $9, extend_time = $10,
		exhibit_ids = $11::text[]::uuid[], update_time = $12, update_user_email = $13, version = version + 1
		WHERE id = $1 AND version = $14`,
		l.ID, l.Recipient, l.Identifier, l.Description, l.State, l.IssueTime, l.ServeTime, l.ExpireTime,
		l.ReturnTime, l.ExtendTime, nonNil(l.ExhibitIDs), l.UpdateTime, l.UpdateUserEmail, l.Version)
	if err != nil {
		return postgres.Translate(err)
	}
	if tag.RowsAffected() != 1 {
		return ErrEtagMismatch
	}
	l.Version++
	return nil
}

// ListLegalProcess returns up to limit items of caseID in (create_time,
// id) order after the keyset position when afterID is set.
func ListLegalProcess(ctx context.Context, q postgres.Querier, caseID string, afterTime *time.Time, afterID string, limit int) ([]*LegalProcess, error) {
	rows, err := q.Query(ctx, `SELECT `+legalColumns+` FROM cases.legal_process WHERE case_id = $1
		AND ($3 = '' OR (create_time, id) > ($2, nullif($3, '')::uuid)) ORDER BY create_time, id LIMIT $4`,
		caseID, afterTime, afterID, limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*LegalProcess
	for rows.Next() {
		l, err := scanLegal(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, postgres.Translate(rows.Err())
}
