package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Directory resolves a verified token's issuer and subject to a user.
type Directory interface {
	// ResolveUser returns the active user bound to the configured issuer name
	// and subject, with its agency, which must be active too. It returns an
	// error wrapping ErrUnknownUser when there is no such user; any other
	// error means the directory could not be read (Authenticate reports it
	// as ErrUnavailable).
	ResolveUser(ctx context.Context, issuerName, subject string) (*Principal, error)
}

// NewPostgresDirectory returns a Directory reading the liaison service's
// users and agencies. This read-only access is one of the design's deliberate
// exceptions to schema ownership: authentication needs it on every request.
// Errors other than "no such user" wrap ErrUnavailable and the pgx error.
func NewPostgresDirectory(pool *pgxpool.Pool) Directory {
	return &postgresDirectory{pool: pool}
}

type postgresDirectory struct {
	pool *pgxpool.Pool
}

// resolveUserSQL is the package's only query; a generated query package
// would outweigh it.
const principalSelect = `
SELECT u.id::text, u.email, u.display_name, u.roles,
       a.id::text, a.ori, a.name, a.kind
FROM liaison.users u
JOIN liaison.agencies a ON a.id = u.agency_id`

const resolveUserSQL = principalSelect + `
WHERE u.issuer = $1 AND u.subject = $2 AND u.active AND a.active`

func (d *postgresDirectory) ResolveUser(ctx context.Context, issuerName, subject string) (*Principal, error) {
	p := &Principal{Issuer: issuerName, Subject: subject}
	err := d.pool.QueryRow(ctx, resolveUserSQL, issuerName, subject).Scan(
		&p.UserID, &p.Email, &p.DisplayName, &p.Roles,
		&p.AgencyID, &p.AgencyORI, &p.AgencyName, &p.AgencyKind)
	if err != nil {
		return nil, interpretError(err)
	}
	if p.Roles == nil {
		p.Roles = []string{}
	}
	return p, nil
}

// LookupByEmail returns the active user with email as a Principal, for
// explaining another user's access. Errors are as for ResolveUser.
func LookupByEmail(ctx context.Context, pool *pgxpool.Pool, email string) (*Principal, error) {
	p := &Principal{}
	err := pool.QueryRow(ctx, principalSelect+` WHERE lower(u.email) = lower($1) AND u.active AND a.active`, email).Scan(
		&p.UserID, &p.Email, &p.DisplayName, &p.Roles, &p.AgencyID, &p.AgencyORI, &p.AgencyName, &p.AgencyKind)
	if err != nil {
		return nil, interpretError(err)
	}
	return p, nil
}

// interpretError is the one place database errors are translated.
func interpretError(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrUnknownUser
	}
	return fmt.Errorf("%w: reading directory: %w", ErrUnavailable, err)
}
