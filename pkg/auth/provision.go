package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrUnknownAgency: a token names an agency (by ORI) the directory does not
// hold, or holds as inactive. It is answered 401 like an unknown user.
var ErrUnknownAgency = errors.New("unknown or inactive agency")

// Provisioner is implemented by directories that can create users on first
// sight from a verified token's claims, and keep their roles in step with
// the identity provider's.
type Provisioner interface {
	// Provision binds or creates the user the claims describe and returns
	// it. In order: an account an agency admin created for this e-mail
	// address (not yet bound to any identity) in the agency the token names
	// — or, for an issuer trusted with bindByEmail, in any agency — is bound
	// to the issuer and subject; otherwise, if the token names an active
	// agency by ORI, a user is created there with the claimed roles.
	// Errors wrap ErrUnknownUser or ErrUnknownAgency, or ErrUnavailable.
	Provision(ctx context.Context, c *Claims, roles []string, bindByEmail bool) (*Principal, error)
	// SyncRoles replaces p's roles with roles when they differ.
	SyncRoles(ctx context.Context, p *Principal, roles []string) error
}

// knownRoles keeps only the roles this deployment knows, sorted and unique:
// an identity provider's unrelated groups never become Casebridge roles.
func knownRoles(claimed, known []string) []string {
	out := []string{}
	for _, r := range claimed {
		r = strings.ToLower(strings.TrimSpace(r))
		if slices.Contains(known, r) && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// Provision implements Provisioner. Writing to the directory here is a
// documented extension of authentication's read access to it (DESIGN.md
// §2): provisioning on first sight is part of signing in.
func (d *postgresDirectory) Provision(ctx context.Context, c *Claims, roles []string, bindByEmail bool) (*Principal, error) {
	if c.Email != "" && (c.Agency != "" || bindByEmail) {
		tag, err := d.pool.Exec(ctx, `UPDATE liaison.users u SET issuer = $1, subject = $2, update_time = now(), version = version + 1
			FROM liaison.agencies a
			WHERE a.id = u.agency_id AND lower(u.email) = lower($3) AND u.issuer IS NULL
			  AND u.active AND a.active AND ($4 = '' OR a.ori = $4)`, c.Issuer, c.Subject, c.Email, strings.ToUpper(c.Agency))
		if err != nil {
			return nil, interpretError(err)
		}
		if tag.RowsAffected() == 1 {
			return d.ResolveUser(ctx, c.Issuer, c.Subject)
		}
	}
	if c.Agency == "" {
		return nil, fmt.Errorf("%w: the token names no agency", ErrUnknownUser)
	}
	var agencyID string
	err := d.pool.QueryRow(ctx, `SELECT id::text FROM liaison.agencies WHERE ori = $1 AND active`, strings.ToUpper(c.Agency)).Scan(&agencyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrUnknownAgency
	}
	if err != nil {
		return nil, interpretError(err)
	}
	email := c.Email
	if email == "" {
		email = c.Subject
	}
	_, err = d.pool.Exec(ctx, `INSERT INTO liaison.users (id, agency_id, issuer, subject, email, display_name, roles)
		VALUES ($1, $2, $3, $4, $5, $5, $6) ON CONFLICT (issuer, subject) DO NOTHING`,
		uuid.NewString(), agencyID, c.Issuer, c.Subject, strings.ToLower(email), roles)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		// The e-mail address belongs to an account bound to another identity.
		return nil, fmt.Errorf("%w: e-mail already bound to another identity", ErrUnknownUser)
	}
	if err != nil {
		return nil, interpretError(err)
	}
	return d.ResolveUser(ctx, c.Issuer, c.Subject)
}

// SyncRoles implements Provisioner.
func (d *postgresDirectory) SyncRoles(ctx context.Context, p *Principal, roles []string) error {
	_, err := d.pool.Exec(ctx, `UPDATE liaison.users SET roles = $3, update_time = now(), version = version + 1
		WHERE issuer = $1 AND subject = $2 AND roles IS DISTINCT FROM $3`, p.Issuer, p.Subject, roles)
	if err != nil {
		return interpretError(err)
	}
	p.Roles = roles
	return nil
}
