// Package store is the Liaison service's PostgreSQL storage (schema
// liaison): the agency directory and, later, contacts, task forces,
// agreements and engagements. Errors leave through postgres.Translate.
package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/postgres"
)

// Agency is a directory agency.
type Agency struct {
	ID, ORI, Name, Kind, Jurisdiction string
	// Sector is a public entity's sector ("" for law enforcement).
	Sector                 string
	Active                 bool
	CreateTime, UpdateTime time.Time
}

// User is a directory user.
type User struct {
	ID, AgencyID, Email, DisplayName string
	Roles                            []string
	Active                           bool
	Issuer, Subject                  *string
	CreateTime, UpdateTime           time.Time
	Version                          int64
}

const agencyColumns = `id::text, ori, name, kind, jurisdiction, active, create_time, update_time, sector`

func scanAgency(row pgx.Row) (*Agency, error) {
	a := &Agency{}
	if err := row.Scan(&a.ID, &a.ORI, &a.Name, &a.Kind, &a.Jurisdiction, &a.Active, &a.CreateTime, &a.UpdateTime, &a.Sector); err != nil {
		return nil, postgres.Translate(err)
	}
	return a, nil
}

// GetAgency returns the agency with id (ErrNotFound if none).
func GetAgency(ctx context.Context, q postgres.Querier, id string) (*Agency, error) {
	return scanAgency(q.QueryRow(ctx, `SELECT `+agencyColumns+` FROM liaison.agencies WHERE id = $1`, id))
}

// ListAgencies returns up to limit agencies after ORI afterORI, by ORI.
func ListAgencies(ctx context.Context, q postgres.Querier, afterORI string, limit int) ([]*Agency, error) {
	rows, err := q.Query(ctx, `SELECT `+agencyColumns+` FROM liaison.agencies WHERE ori > $1 ORDER BY ori LIMIT $2`, afterORI, limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*Agency
	for rows.Next() {
		a, err := scanAgency(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, postgres.Translate(rows.Err())
}

const userColumns = `id::text, agency_id::text, email, display_name, roles, active, issuer, subject, create_time, update_time, version`

func scanUser(row pgx.Row) (*User, error) {
	u := &User{}
	if err := row.Scan(&u.ID, &u.AgencyID, &u.Email, &u.DisplayName, &u.Roles, &u.Active, &u.Issuer, &u.Subject,
		&u.CreateTime, &u.UpdateTime, &u.Version); err != nil {
		return nil, postgres.Translate(err)
	}
	return u, nil
}

// GetUser returns the user id of agencyID (ErrNotFound if none there).
func GetUser(ctx context.Context, q postgres.Querier, agencyID, id string) (*User, error) {
	return scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM liaison.users WHERE id = $1 AND agency_id = $2`, id, agencyID))
}

// LockUser reads the user FOR UPDATE.
func LockUser(ctx context.Context, q postgres.Querier, agencyID, id string) (*User, error) {
	return scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM liaison.users WHERE id = $1 AND agency_id = $2 FOR UPDATE`, id, agencyID))
}

// ListUsers returns up to limit users of agencyID after email afterEmail.
func ListUsers(ctx context.Context, q postgres.Querier, agencyID, afterEmail string, limit int) ([]*User, error) {
	rows, err := q.Query(ctx, `SELECT `+userColumns+` FROM liaison.users WHERE agency_id = $1 AND lower(email) > $2
		ORDER BY lower(email) LIMIT $3`, agencyID, afterEmail, limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, postgres.Translate(rows.Err())
}

// InsertAgency adds a (ErrAlreadyExists if the ORI is taken).
func InsertAgency(ctx context.Context, q postgres.Querier, a *Agency) error {
	_, err := q.Exec(ctx, `INSERT INTO liaison.agencies (id, ori, name, kind, jurisdiction, sector, active, create_time, update_time)
		VALUES ($1, $2, $3, $4, $5, $6, true, $7, $7)`, a.ID, a.ORI, a.Name, a.Kind, a.Jurisdiction, a.Sector, a.CreateTime)
	return postgres.Translate(err)
}

// InsertUser adds u (ErrAlreadyExists if the e-mail is taken).
func InsertUser(ctx context.Context, q postgres.Querier, u *User) error {
	_, err := q.Exec(ctx, `INSERT INTO liaison.users (id, agency_id, email, display_name, roles, active, create_time, update_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, u.ID, u.AgencyID, u.Email, u.DisplayName, u.Roles, u.Active, u.CreateTime)
	return postgres.Translate(err)
}

// SaveUser writes the mutable fields of u and bumps its version.
func SaveUser(ctx context.Context, q postgres.Querier, u *User) error {
	_, err := q.Exec(ctx, `UPDATE liaison.users SET display_name = $2, roles = $3, active = $4, update_time = $5,
		version = version + 1 WHERE id = $1`, u.ID, u.DisplayName, u.Roles, u.Active, u.UpdateTime)
	if err == nil {
		u.Version++
	}
	return postgres.Translate(err)
}
