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

	"github.com/casebridge/casebridge/pkg/postgres"
)

// ErrUnknownAgency: a token names an agency (by ORI) the directory does not
// hold, or holds as inactive. It is answered 401 like an unknown user.
var ErrUnknownAgency = errors.New("unknown or inactive agency")

// Provisioning is what Authenticate allows a token not yet bound to an
// account to do, decided from the issuer's configuration.
type Provisioning struct {
	// Agency is the ORI a new user is created in; "" when the token names
	// no agency and its issuer vouches for more than one.
	Agency string
	// BindAgencies are the ORIs in which an account an admin created in
	// advance may be bound by the token's (verified) e-mail address;
	// BindAnyAgency allows every agency (a state-wide issuer with
	// bindByEmail). Empty: never bind.
	BindAgencies  []string
	BindAnyAgency bool
	// Roles are a new user's roles: the issuer's mapping of the token's
	// groups, or none.
	Roles []string
}

// RoleChange is an account provisioning created, bound or changed the roles
// of, for the audit trail (WithChangeRecorder).
type RoleChange struct {
	Action                                     string // "ProvisionUser", "BindAccount" or "SyncRoles"
	UserID, Email, AgencyID, AgencyORI, Issuer string
	Before, After                              []string
}

// ChangeRecorder writes a RoleChange inside the transaction of the change.
type ChangeRecorder func(ctx context.Context, tx pgx.Tx, ch RoleChange) error

// Provisioner is implemented by directories that can create users on first
// sight from a verified token's claims, and keep their roles in step with
// the identity provider's.
type Provisioner interface {
	// Provision binds or creates the user the claims describe and returns
	// it. In order: an account an agency admin created for the token's
	// e-mail address (not yet bound to any identity) in one of
	// pv.BindAgencies is bound to the issuer and subject; otherwise, if
	// pv.Agency names an active agency, a user is created there with
	// pv.Roles. Each is recorded through rec (when not nil) in its
	// transaction. Errors wrap ErrUnknownUser or ErrUnknownAgency, or
	// ErrUnavailable.
	Provision(ctx context.Context, c *Claims, pv Provisioning, rec ChangeRecorder) (*Principal, error)
	// SyncRoles replaces p's roles with roles when they differ, recording
	// the change through rec.
	SyncRoles(ctx context.Context, p *Principal, roles []string, rec ChangeRecorder) error
}

// Provision implements Provisioner. Writing to the directory here is a
// documented extension of authentication's read access to it (DESIGN.md
// §2): provisioning on first sight is part of signing in.
func (d *postgresDirectory) Provision(ctx context.Context, c *Claims, pv Provisioning, rec ChangeRecorder) (*Principal, error) {
	if len(pv.BindAgencies) > 0 || pv.BindAnyAgency {
		bound, err := d.bind(ctx, c, pv, rec)
		if err != nil {
			return nil, err
		}
		if bound {
			return d.ResolveUser(ctx, c)
		}
	}
	if pv.Agency == "" {
		return nil, fmt.Errorf("%w: the token names no agency", ErrUnknownUser)
	}
	email := c.Email
	if email == "" {
		email = c.Subject
	}
	err := postgres.WithTx(ctx, d.pool, func(tx pgx.Tx) error {
		var agencyID string
		err := tx.QueryRow(ctx, `SELECT id::text FROM liaison.agencies WHERE ori = $1 AND active`, pv.Agency).Scan(&agencyID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrUnknownAgency
		}
		if err != nil {
			return err
		}
		id := uuid.NewString()
		tag, err := tx.Exec(ctx, `INSERT INTO liaison.users (id, agency_id, issuer, subject, email, display_name, roles)
			VALUES ($1, $2, $3, $4, $5, $5, $6) ON CONFLICT (issuer, subject) DO NOTHING`,
			id, agencyID, c.Issuer, c.Subject, strings.ToLower(email), pv.Roles)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			// The e-mail address belongs to an account bound to another identity.
			return fmt.Errorf("%w: e-mail already bound to another identity", ErrUnknownUser)
		}
		if err != nil || tag.RowsAffected() == 0 || rec == nil {
			return err // a concurrent first request created it: nothing to record
		}
		return rec(ctx, tx, RoleChange{Action: "ProvisionUser", UserID: id, Email: strings.ToLower(email),
			AgencyID: agencyID, AgencyORI: pv.Agency, Issuer: c.Issuer, Before: []string{}, After: pv.Roles})
	})
	switch {
	case errors.Is(err, ErrUnknownAgency), errors.Is(err, ErrUnknownUser):
		return nil, err
	case err != nil:
		return nil, interpretError(err)
	}
	return d.ResolveUser(ctx, c)
}

// bind binds a waiting account of an agency pv allows to the token's
// identity, reporting whether one was bound.
func (d *postgresDirectory) bind(ctx context.Context, c *Claims, pv Provisioning, rec ChangeRecorder) (bool, error) {
	bound := false
	err := postgres.WithTx(ctx, d.pool, func(tx pgx.Tx) error {
		var ch RoleChange
		err := tx.QueryRow(ctx, `UPDATE liaison.users u SET issuer = $1, subject = $2, update_time = now(), version = version + 1
			FROM liaison.agencies a
			WHERE a.id = u.agency_id AND lower(u.email) = lower($3) AND u.issuer IS NULL
			  AND u.active AND a.active AND ($5 OR a.ori = ANY($4))
			RETURNING u.id::text, u.email, a.id::text, a.ori, u.roles`,
			c.Issuer, c.Subject, c.Email, pv.BindAgencies, pv.BindAnyAgency).
			Scan(&ch.UserID, &ch.Email, &ch.AgencyID, &ch.AgencyORI, &ch.After)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		bound = true
		if rec == nil {
			return nil
		}
		ch.Action, ch.Issuer, ch.Before = "BindAccount", c.Issuer, ch.After
		return rec(ctx, tx, ch)
	})
	if err != nil {
		return false, interpretError(err)
	}
	return bound, nil
}

// SyncRoles implements Provisioner.
func (d *postgresDirectory) SyncRoles(ctx context.Context, p *Principal, roles []string, rec ChangeRecorder) error {
	err := postgres.WithTx(ctx, d.pool, func(tx pgx.Tx) error {
		var before []string
		err := tx.QueryRow(ctx, `SELECT roles FROM liaison.users WHERE id = $1 FOR UPDATE`, p.UserID).Scan(&before)
		if err != nil {
			return err
		}
		if slices.Equal(sortedCopy(before), roles) {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE liaison.users SET roles = $2, update_time = now(), version = version + 1
			WHERE id = $1`, p.UserID, roles); err != nil {
			return err
		}
		if rec == nil {
			return nil
		}
		return rec(ctx, tx, RoleChange{Action: "SyncRoles", UserID: p.UserID, Email: p.Email, AgencyID: p.AgencyID,
			AgencyORI: p.AgencyORI, Issuer: p.Issuer, Before: before, After: roles})
	})
	if err != nil {
		return interpretError(err)
	}
	p.Roles = roles
	return nil
}
