// Package store is the Referral service's PostgreSQL storage (schema
// referrals): referrals with their kind-specific details, package snapshot
// and transition history, and idempotency keys. SQL lives here and nowhere
// else in the service; every error leaves through postgres.Translate.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/postgres"
)

// ErrEtagMismatch: the caller's etag is not the referral's current one.
var ErrEtagMismatch = errors.New("etag mismatch")

// Referral is a stored referral or assistance request. Enum values are
// stored by name without their prefix (SUBMITTED, REFERRAL).
type Referral struct {
	ID             string
	Number         string // <sender ORI>-<year>-R<NNNNNN>
	Kind           string
	State          string
	FromAgencyID   string
	FromAgencyORI  string
	FromAgencyName string
	ToAgencyID     string
	ToAgencyORI    string
	ToAgencyName   string
	CaseID         *string
	Summary        string
	// Details is protojson of the kind's message (AssistanceRequest or
	// CaseReferral).
	Details []byte
	// Package is protojson of the CasePackage snapshot (nil until submitted).
	Package []byte
	// History is a JSON array of protojson Transition objects.
	History         []byte
	StateReason     string
	SubmitTime      *time.Time
	AckDueTime      *time.Time
	CreateTime      time.Time
	UpdateTime      time.Time
	CreateUserID    string
	CreateUserEmail string
	UpdateUserEmail string
	Version         int64
	// Overdue is computed by the query: SUBMITTED past AckDueTime.
	Overdue bool
}

// columns are the referral columns, with the table aliased r; $1 of every
// query reading them is the time "now" for the overdue flag.
const columns = `ref.id::text, ref.kind, ref.state, ref.from_agency_id::text, ref.from_agency_ori, ref.from_agency_name,
	ref.to_agency_id::text, ref.to_agency_ori, ref.to_agency_name, ref.case_id::text, ref.summary, ref.details, ref.package,
	ref.history, ref.state_reason, ref.submit_time, ref.ack_due_time, ref.create_time, ref.update_time,
	ref.create_user_id::text, ref.create_user_email, ref.update_user_email, ref.version,
	(ref.state = 'SUBMITTED' AND ref.ack_due_time < $1), ref.number`

func scan(row pgx.Row) (*Referral, error) {
	r := &Referral{}
	err := row.Scan(&r.ID, &r.Kind, &r.State, &r.FromAgencyID, &r.FromAgencyORI, &r.FromAgencyName,
		&r.ToAgencyID, &r.ToAgencyORI, &r.ToAgencyName, &r.CaseID, &r.Summary, &r.Details, &r.Package,
		&r.History, &r.StateReason, &r.SubmitTime, &r.AckDueTime, &r.CreateTime, &r.UpdateTime,
		&r.CreateUserID, &r.CreateUserEmail, &r.UpdateUserEmail, &r.Version, &r.Overdue, &r.Number)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	return r, nil
}

// Get returns the referral with id (overdue as of now), or an error wrapping
// postgres.ErrNotFound. It does not check authorization.
func Get(ctx context.Context, q postgres.Querier, id string, now time.Time) (*Referral, error) {
	return scan(q.QueryRow(ctx, `SELECT `+columns+` FROM referrals.referrals ref WHERE ref.id = $2`, now, id))
}

// Lock reads the referral with id FOR UPDATE: concurrent transitions of one
// referral queue here, so each sees the state the other left.
func Lock(ctx context.Context, tx pgx.Tx, id string, now time.Time) (*Referral, error) {
	return scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM referrals.referrals ref WHERE ref.id = $2 FOR UPDATE`, now, id))
}

// Insert inserts r as given (the caller set every server-owned field).
func Insert(ctx context.Context, tx pgx.Tx, r *Referral) error {
	_, err := tx.Exec(ctx, `INSERT INTO referrals.referrals (id, kind, state, from_agency_id, from_agency_ori,
		from_agency_name, to_agency_id, to_agency_ori, to_agency_name, case_id, summary, details, package, history,
		state_reason, submit_time, ack_due_time, create_time, update_time, create_user_id, create_user_email,
		update_user_email, version, number)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`,
		r.ID, r.Kind, r.State, r.FromAgencyID, r.FromAgencyORI, r.FromAgencyName, r.ToAgencyID, r.ToAgencyORI,
		r.ToAgencyName, r.CaseID, r.Summary, r.Details, r.Package, r.History, r.StateReason, r.SubmitTime,
		r.AckDueTime, r.CreateTime, r.UpdateTime, r.CreateUserID, r.CreateUserEmail, r.UpdateUserEmail, r.Version, r.Number)
	return postgres.Translate(err)
}

// NextNumber hands out the next referral number of the sending agency for
// year inside tx (the counter row stays locked until tx ends).
func NextNumber(ctx context.Context, tx pgx.Tx, agencyID, ori string, year int) (string, error) {
	var n int64
	err := tx.QueryRow(ctx, `INSERT INTO referrals.number_counters (agency_id, year, last) VALUES ($1, $2, 1)
		ON CONFLICT (agency_id, year) DO UPDATE SET last = referrals.number_counters.last + 1
		RETURNING last`, agencyID, year).Scan(&n)
	if err != nil {
		return "", postgres.Translate(err)
	}
	return fmt.Sprintf("%s-%04d-R%06d", ori, year, n), nil
}

// Save writes every mutable column of r and bumps its version. The row must
// be locked by Lock in the same tx; a version that moved answers
// ErrEtagMismatch.
func Save(ctx context.Context, tx pgx.Tx, r *Referral) error {
	tag, err := tx.Exec(ctx, `UPDATE referrals.referrals SET state = $2, to_agency_id = $3, to_agency_ori = $4,
		to_agency_name = $5, case_id = $6, summary = $7, details = $8, package = $9, history = $10,
		state_reason = $11, submit_time = $12, ack_due_time = $13, update_time = $14, update_user_email = $15,
		version = version + 1
		WHERE id = $1 AND version = $16`,
		r.ID, r.State, r.ToAgencyID, r.ToAgencyORI, r.ToAgencyName, r.CaseID, r.Summary, r.Details, r.Package,
		r.History, r.StateReason, r.SubmitTime, r.AckDueTime, r.UpdateTime, r.UpdateUserEmail, r.Version)
	if err != nil {
		return postgres.Translate(err)
	}
	if tag.RowsAffected() != 1 {
		return ErrEtagMismatch
	}
	r.Version++
	return nil
}

// Requests are the service's idempotency keys for creates with request_id.
var Requests = postgres.NewIdempotencyKeys("referrals")

// AcceptClaim is the claim to open the case of accepting a referral.
type AcceptClaim struct {
	CaseID      string // "" until opened
	ClaimUserID string
	ClaimTime   time.Time
}

// GetAcceptClaim returns referralID's claim, or nil when there is none.
func GetAcceptClaim(ctx context.Context, q postgres.Querier, referralID string) (*AcceptClaim, error) {
	c := &AcceptClaim{}
	var caseID *string
	err := q.QueryRow(ctx, `SELECT case_id::text, claim_user_id::text, claim_time FROM referrals.accept_cases WHERE referral_id = $1`,
		referralID).Scan(&caseID, &c.ClaimUserID, &c.ClaimTime)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, postgres.Translate(err)
	}
	if caseID != nil {
		c.CaseID = *caseID
	}
	return c, nil
}

// ClaimAccept claims the opening of referralID's case for userID: a new
// claim, or taking over one by another user older than stale (whose
// opener died). It reports whether userID holds the claim now.
func ClaimAccept(ctx context.Context, q postgres.Querier, referralID, userID string, now time.Time, stale time.Duration) (bool, error) {
	tag, err := q.Exec(ctx, `INSERT INTO referrals.accept_cases (referral_id, case_id, claim_user_id, claim_time)
		VALUES ($1, NULL, $2, $3)
		ON CONFLICT (referral_id) DO UPDATE SET claim_user_id = excluded.claim_user_id, claim_time = excluded.claim_time
		WHERE accept_cases.case_id IS NULL AND (accept_cases.claim_user_id = excluded.claim_user_id OR accept_cases.claim_time < $4)`,
		referralID, userID, now, now.Add(-stale))
	if err != nil {
		return false, postgres.Translate(err)
	}
	return tag.RowsAffected() == 1, nil
}

// RecordAcceptCase records the case opened under userID's claim (the
// first case recorded wins).
func RecordAcceptCase(ctx context.Context, q postgres.Querier, referralID, userID, caseID string) error {
	_, err := q.Exec(ctx, `UPDATE referrals.accept_cases SET case_id = $3
		WHERE referral_id = $1 AND claim_user_id = $2 AND case_id IS NULL`, referralID, userID, caseID)
	return postgres.Translate(err)
}

// ReleaseAcceptClaim gives up userID's claim when opening the case failed
// (the user may not open cases; the Cases service refused), so a
// colleague's accept need not wait for it to go stale.
func ReleaseAcceptClaim(ctx context.Context, q postgres.Querier, referralID, userID string) error {
	_, err := q.Exec(ctx, `DELETE FROM referrals.accept_cases WHERE referral_id = $1 AND claim_user_id = $2 AND case_id IS NULL`,
		referralID, userID)
	return postgres.Translate(err)
}
