package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/postgres"
)

// Contact is a point of contact at an agency.
type Contact struct {
	ID, AgencyID, Name, Title, Phone, Email, DutyPhone string
	Topics                                             []string
	CreateTime, UpdateTime                             time.Time
	Version                                            int64
}

const contactColumns = `id::text, agency_id::text, name, title, phone, email, duty_phone, topics, create_time, update_time, version`

func scanContact(row pgx.Row) (*Contact, error) {
	c := &Contact{}
	if err := row.Scan(&c.ID, &c.AgencyID, &c.Name, &c.Title, &c.Phone, &c.Email, &c.DutyPhone, &c.Topics,
		&c.CreateTime, &c.UpdateTime, &c.Version); err != nil {
		return nil, postgres.Translate(err)
	}
	return c, nil
}

// GetContact returns contact id of agencyID (ErrNotFound if none there).
func GetContact(ctx context.Context, q postgres.Querier, agencyID, id string) (*Contact, error) {
	return scanContact(q.QueryRow(ctx, `SELECT `+contactColumns+` FROM liaison.contacts WHERE id = $1 AND agency_id = $2`, id, agencyID))
}

// LockContact reads contact id of agencyID FOR UPDATE (ErrNotFound if none).
func LockContact(ctx context.Context, q postgres.Querier, agencyID, id string) (*Contact, error) {
	return scanContact(q.QueryRow(ctx, `SELECT `+contactColumns+` FROM liaison.contacts WHERE id = $1 AND agency_id = $2 FOR UPDATE`, id, agencyID))
}

// ListContacts returns up to limit contacts of agencyID after (afterName,
// afterID), by name.
func ListContacts(ctx context.Context, q postgres.Querier, agencyID, afterName, afterID string, limit int) ([]*Contact, error) {
	return query(ctx, q, scanContact, `SELECT `+contactColumns+` FROM liaison.contacts
		WHERE agency_id = $1 AND (name, id) > ($2, $3::uuid) ORDER BY name, id LIMIT $4`,
		agencyID, afterName, orZeroUUID(afterID), limit)
}

// InsertContact adds c.
func InsertContact(ctx context.Context, q postgres.Querier, c *Contact) error {
	_, err := q.Exec(ctx, `INSERT INTO liaison.contacts (id, agency_id, name, title, phone, email, duty_phone, topics,
		create_time, update_time, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.ID, c.AgencyID, c.Name, c.Title, c.Phone, c.Email, c.DutyPhone, nonNil(c.Topics), c.CreateTime, c.UpdateTime, c.Version)
	return postgres.Translate(err)
}

// SaveContact writes the mutable fields of c (locked by LockContact) and
// bumps its version.
func SaveContact(ctx context.Context, q postgres.Querier, c *Contact) error {
	_, err := q.Exec(ctx, `UPDATE liaison.contacts SET name = $2, title = $3, phone = $4, email = $5, duty_phone = $6,
		topics = $7, update_time = $8, version = version + 1 WHERE id = $1`,
		c.ID, c.Name, c.Title, c.Phone, c.Email, c.DutyPhone, nonNil(c.Topics), c.UpdateTime)
	if err == nil {
		c.Version++
	}
	return postgres.Translate(err)
}

// DeleteContact removes contact id of agencyID (ErrNotFound if none).
func DeleteContact(ctx context.Context, q postgres.Querier, agencyID, id string) error {
	tag, err := q.Exec(ctx, `DELETE FROM liaison.contacts WHERE id = $1 AND agency_id = $2`, id, agencyID)
	if err != nil {
		return postgres.Translate(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("contact %s: %w", id, postgres.ErrNotFound)
	}
	return nil
}

// query runs sql and scans every row with scan.
func query[T any](ctx context.Context, q postgres.Querier, scan func(pgx.Row) (*T, error), sql string, args ...any) ([]*T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, postgres.Translate(rows.Err())
}

func orZeroUUID(id string) string {
	if id == "" {
		return "00000000-0000-0000-0000-000000000000"
	}
	return id
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Requests are the service's idempotency keys for creates with request_id.
var Requests = postgres.NewIdempotencyKeys("liaison")
