// Package store is the Cases service's PostgreSQL storage (schema cases):
// cases, their per-agency-and-year numbering, the append-only timeline, and
// idempotency keys. SQL lives here and nowhere else in the service; every
// error leaves through postgres.Translate.
//
// Why not sqlc: the list query is assembled from an optional filter and the
// authorization relation set, and sqlc would need a cgo build of libpg_query
// on every fresh CI machine for a handful of queries.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casebridge/casebridge/pkg/postgres"
)

// ErrEtagMismatch: the caller's etag is not the case's current one.
var ErrEtagMismatch = errors.New("etag mismatch")

// Case is a stored case.
type Case struct {
	ID                      string
	CaseNumber              string
	LeadAgencyID            string
	LeadAgencyORI           string
	Title                   string
	Summary                 string
	Classification          string // enum name without prefix, e.g. RANSOMWARE
	NIBRSCode               string
	Status                  string // OPEN, ACTIVE, SUSPENDED, CLOSED
	Priority                string // LOW, MEDIUM, HIGH, CRITICAL
	AssignedInvestigatorIDs []string
	IncidentStartTime       *time.Time
	DiscoveryTime           *time.Time
	LossCurrency            *string
	LossAmountMinor         *int64
	AffectedJurisdictions   []string
	CloseReason             string
	Disposition             string
	CreateTime              time.Time
	UpdateTime              time.Time
	CreateUserID            string
	CreateUserEmail         string
	UpdateUserEmail         string
	Version                 int64
}

// Note is one timeline entry.
type Note struct {
	Seq          int64
	ID           string
	CaseID       string
	Kind         string // NOTE, STATUS_CHANGE, SHARING, SYSTEM
	Body         string
	AuthorUserID string
	AuthorEmail  string
	AgencyID     string
	AgencyORI    string
	CreateTime   time.Time
}

// Actor is who makes a change.
type Actor struct {
	UserID, Email, AgencyID, AgencyORI string
}

// Store reads and writes the cases schema.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool returns the pool, for callers composing a transaction.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

const caseColumns = `id::text, case_number, lead_agency_id::text, lead_agency_ori, title, summary, classification,
	nibrs_code, status, priority, assigned_investigator_ids::text[], incident_start_time, discovery_time,
	loss_currency, loss_amount_minor, affected_jurisdictions, close_reason, disposition, create_time,
	update_time, create_user_id::text, create_user_email, update_user_email, version`

func scanCase(row pgx.Row) (*Case, error) {
	c := &Case{}
	err := row.Scan(&c.ID, &c.CaseNumber, &c.LeadAgencyID, &c.LeadAgencyORI, &c.Title, &c.Summary,
		&c.Classification, &c.NIBRSCode, &c.Status, &c.Priority, &c.AssignedInvestigatorIDs,
		&c.IncidentStartTime, &c.DiscoveryTime, &c.LossCurrency, &c.LossAmountMinor,
		&c.AffectedJurisdictions, &c.CloseReason, &c.Disposition, &c.CreateTime, &c.UpdateTime,
		&c.CreateUserID, &c.CreateUserEmail, &c.UpdateUserEmail, &c.Version)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	return c, nil
}

// GetCase returns the case with id, or an error wrapping
// postgres.ErrNotFound. It does not check authorization.
func GetCase(ctx context.Context, q postgres.Querier, id string) (*Case, error) {
	return scanCase(q.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases.cases WHERE id = $1`, id))
}

// Requests are the service's idempotency keys for creates with request_id.
var Requests = postgres.NewIdempotencyKeys("cases")

// NextCaseNumber hands out the next number for agency and year inside tx.
// The counter row stays locked until tx ends, so concurrent creates queue
// here briefly and never share a number.
func NextCaseNumber(ctx context.Context, tx pgx.Tx, agencyID, ori string, year int) (string, error) {
	var n int64
	err := tx.QueryRow(ctx, `INSERT INTO cases.case_number_counters (agency_id, year, last) VALUES ($1, $2, 1)
		ON CONFLICT (agency_id, year) DO UPDATE SET last = cases.case_number_counters.last + 1
		RETURNING last`, agencyID, year).Scan(&n)
	if err != nil {
		return "", postgres.Translate(err)
	}
	return fmt.Sprintf("%s-%04d-%06d", ori, year, n), nil
}

// InsertCase inserts c as given (the caller set every server-owned field).
func InsertCase(ctx context.Context, tx pgx.Tx, c *Case) error {
	_, err := tx.Exec(ctx, `INSERT INTO cases.cases (id, case_number, lead_agency_id, lead_agency_ori, title,
		summary, classification, nibrs_code, status, priority, assigned_investigator_ids, incident_start_time,
		discovery_time, loss_currency, loss_amount_minor, affected_jurisdictions, close_reason, disposition,
		create_time, update_time, create_user_id, create_user_email, update_user_email, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text[]::uuid[], $12, $13, $14, $15, $16, $17, $18,
		$19, $20, $21, $22, $23, $24)`,
		c.ID, c.CaseNumber, c.LeadAgencyID, c.LeadAgencyORI, c.Title, c.Summary, c.Classification,
		c.NIBRSCode, c.Status, c.Priority, nonNil(c.AssignedInvestigatorIDs), c.IncidentStartTime,
		c.DiscoveryTime, c.LossCurrency, c.LossAmountMinor, nonNil(c.AffectedJurisdictions), c.CloseReason,
		c.Disposition, c.CreateTime, c.UpdateTime, c.CreateUserID, c.CreateUserEmail, c.UpdateUserEmail, c.Version)
	return postgres.Translate(err)
}

// LockCase reads the case with id FOR UPDATE: concurrent writers of one case
// queue here, so each sees the other's committed change (no lost update).
func LockCase(ctx context.Context, tx pgx.Tx, id string) (*Case, error) {
	return scanCase(tx.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases.cases WHERE id = $1 FOR UPDATE`, id))
}

// SaveCase writes every mutable column of c and bumps its version. The row
// must be locked by LockCase in the same tx.
func SaveCase(ctx context.Context, tx pgx.Tx, c *Case) error {
	tag, err := tx.Exec(ctx, `UPDATE cases.cases SET title = $2, summary = $3, classification = $4,
		nibrs_code = $5, status = $6, priority = $7, assigned_investigator_ids = $8::text[]::uuid[],
		incident_start_time = $9, discovery_time = $10, loss_currency = $11, loss_amount_minor = $12,
		affected_jurisdictions = $13, close_reason = $14, disposition = $15, update_time = $16,
		update_user_email = $17, version = version + 1
		WHERE id = $1 AND version = $18`,
		c.ID, c.Title, c.Summary, c.Classification, c.NIBRSCode, c.Status, c.Priority,
		nonNil(c.AssignedInvestigatorIDs), c.IncidentStartTime, c.DiscoveryTime, c.LossCurrency,
		c.LossAmountMinor, nonNil(c.AffectedJurisdictions), c.CloseReason, c.Disposition, c.UpdateTime,
		c.UpdateUserEmail, c.Version)
	if err != nil {
		return postgres.Translate(err)
	}
	if tag.RowsAffected() != 1 {
		return ErrEtagMismatch
	}
	c.Version++
	return nil
}

// InsertNote appends n to the timeline and sets its Seq.
func InsertNote(ctx context.Context, tx pgx.Tx, n *Note) error {
	err := tx.QueryRow(ctx, `INSERT INTO cases.notes (id, case_id, kind, body, author_user_id, author_email,
		agency_id, agency_ori, create_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq`,
		n.ID, n.CaseID, n.Kind, n.Body, n.AuthorUserID, n.AuthorEmail, n.AgencyID, n.AgencyORI, n.CreateTime).Scan(&n.Seq)
	return postgres.Translate(err)
}

const noteColumns = `seq, id::text, case_id::text, kind, body, author_user_id::text, author_email, agency_id::text, agency_ori, create_time`

func scanNote(row pgx.Row) (*Note, error) {
	n := &Note{}
	if err := row.Scan(&n.Seq, &n.ID, &n.CaseID, &n.Kind, &n.Body, &n.AuthorUserID, &n.AuthorEmail,
		&n.AgencyID, &n.AgencyORI, &n.CreateTime); err != nil {
		return nil, postgres.Translate(err)
	}
	return n, nil
}

// GetNote returns the note with id.
func GetNote(ctx context.Context, q postgres.Querier, id string) (*Note, error) {
	return scanNote(q.QueryRow(ctx, `SELECT `+noteColumns+` FROM cases.notes WHERE id = $1`, id))
}

// ListNotes returns up to limit notes of caseID after seq afterSeq, oldest first.
func ListNotes(ctx context.Context, q postgres.Querier, caseID string, afterSeq int64, limit int) ([]*Note, error) {
	rows, err := q.Query(ctx, `SELECT `+noteColumns+` FROM cases.notes
		WHERE case_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, caseID, afterSeq, limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*Note
	for rows.Next() {
		n, err := scanNote(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, postgres.Translate(rows.Err())
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
