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
	// ResolveUser returns the active user bound to the token's configured
	// issuer name and subject, with its agency, which must be active too.
	// It returns an error wrapping ErrUnknownUser when there is no such
	// user (ErrInactiveUser when there is one, inactive), ErrSessionEnded
	// when the token was signed out or issued before the user's sessions
	// were ended; any other error means the directory could not be read
	// (Authenticate reports it as ErrUnavailable).
	ResolveUser(ctx context.Context, c *Claims) (*Principal, error)
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

// The package's few queries are written here; a generated query package
// would outweigh them.
const principalSelect = `
SELECT u.id::text, u.email, u.display_name, u.roles,
       a.id::text, a.ori, a.name, a.kind
FROM liaison.users u
JOIN liaison.agencies a ON a.id = u.agency_id`

// resolveUserSQL reads the user and, in the same round trip, whether the
// token still counts: not signed out, not issued before the user's
// sessions were ended. ($3 is the token's "iat", $4 its SHA-256.)
const resolveUserSQL = `
SELECT u.id::text, u.email, u.display_name, u.roles,
       a.id::text, a.ori, a.name, a.kind,
       u.active AND a.active,
       (u.sessions_valid_after IS NOT NULL AND $3::timestamptz < u.sessions_valid_after)
         OR EXISTS (SELECT 1 FROM liaison.revoked_tokens r WHERE r.token_sha256 = $4)
FROM liaison.users u
JOIN liaison.agencies a ON a.id = u.agency_id
WHERE u.issuer = $1 AND u.subject = $2`

func (d *postgresDirectory) ResolveUser(ctx context.Context, c *Claims) (*Principal, error) {
	p := &Principal{Issuer: c.Issuer, Subject: c.Subject}
	var live, ended bool
	err := d.pool.QueryRow(ctx, resolveUserSQL, c.Issuer, c.Subject, c.IssuedAt, c.TokenHash).Scan(
		&p.UserID, &p.Email, &p.DisplayName, &p.Roles,
		&p.AgencyID, &p.AgencyORI, &p.AgencyName, &p.AgencyKind, &live, &ended)
	switch {
	case err != nil:
		return nil, interpretError(err)
	case !live:
		return nil, ErrInactiveUser
	case ended:
		return nil, ErrSessionEnded
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
