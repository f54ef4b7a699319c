// Package store is the Evidence service's PostgreSQL storage (schema
// evidence): items and their per-case exhibit numbering, the append-only
// custody chain, integrity checks and idempotency keys. SQL lives here and
// nowhere else in the service; every error leaves through postgres.Translate.
package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casebridge/casebridge/pkg/postgres"
)

// Item is a stored evidence item.
type Item struct {
	ID                  string
	CaseID              string
	CaseNumber          string
	ExhibitSeq          int
	ExhibitNumber       string
	ParentID            *string
	Description         string
	Kind                string // enum name without prefix, e.g. DISK_IMAGE
	SHA256, MD5, SHA1   string // lower-case hex or ""
	SizeBytes           int64
	AcquireTime         *time.Time
	AcquiredBy          string
	AcquireMethod       string
	AcquireTool         string
	AcquireToolVersion  string
	SourceLocation      string
	AuthorityType       string // enum name without prefix, or UNSPECIFIED
	AuthorityIdentifier string
	AuthorityIssuer     string
	AuthorityExpireTime *time.Time
	StorageLocation     string
	CurrentCustodian    string
	HoldingAgencyID     string
	HoldingAgencyORI    string
	Status              string // IN_CUSTODY, CHECKED_OUT, TRANSFERRED, RETURNED, DESTROYED
	Compromised         bool
	LastVerifyTime      *time.Time
	CustodyCount        int64
	CustodyHead         []byte
	CreateTime          time.Time
	UpdateTime          time.Time
	CreateUserID        string
	CreateUserEmail     string
	Version             int64

	// AuthorityLegalProcessID is the case's legal process item the exhibit
	// was returned under (issue 17), if any.
	AuthorityLegalProcessID *string
}

// Event is one stored custody event.
type Event struct {
	EvidenceID      string
	Seq             int64
	ID              string
	Action          string // INTAKE, CHECK_IN, CHECK_OUT, TRANSFER, ANALYSIS, RETURN, DESTRUCTION
	EventTime       time.Time
	FromCustodian   string
	ToCustodian     string
	ToAgencyID      string // "" unless a transfer to an agency
	ToAgencyORI     string // its ORI (transfers recorded since issue 14)
	Location        string
	Purpose         string
	FromAgencyID    string // "" for the intake
	HoldingAgencyID string
	FromStatus      string // "" for the intake
	ToStatus        string
	ActorUserID     string
	ActorEmail      string
	ActorAgencyID   string
	ActorAgencyORI  string
	CreateTime      time.Time
	// Registration is the canonical JSON of the registration record sealed
	// by the INTAKE event ("" on other events and on intakes written before
	// sealing).
	Registration string
	// LateEntry marks an event dated before its predecessor; LateReason
	// says why.
	LateEntry  bool
	LateReason string
	// INTEGRITY_CHECK only: the submitted SHA-256, the one it was compared
	// with, the result and the tool.
	CheckSHA256, CheckExpectedSHA256 string
	CheckMatch                       *bool
	CheckTool                        string
	PrevHash                         []byte
	Hash                             []byte
}

const itemColumns = `id::text, case_id::text, case_number, exhibit_seq, exhibit_number, parent_id::text,
	description, kind, sha256, md5, sha1, size_bytes, acquire_time, acquired_by, acquire_method, acquire_tool,
	acquire_tool_version, source_location, authority_type, authority_identifier, authority_issuer,
	authority_expire_time, storage_location, current_custodian, holding_agency_id::text, holding_agency_ori,
	status, compromised, last_verify_time, custody_count, custody_head, create_time, update_time,
	create_user_id::text, create_user_email, version, authority_legal_process_id::text`

func scanItem(row pgx.Row) (*Item, error) {
	it := &Item{}
	err := row.Scan(&it.ID, &it.CaseID, &it.CaseNumber, &it.ExhibitSeq, &it.ExhibitNumber, &it.ParentID,
		&it.Description, &it.Kind, &it.SHA256, &it.MD5, &it.SHA1, &it.SizeBytes, &it.AcquireTime,
		&it.AcquiredBy, &it.AcquireMethod, &it.AcquireTool, &it.AcquireToolVersion, &it.SourceLocation,
		&it.AuthorityType, &it.AuthorityIdentifier, &it.AuthorityIssuer, &it.AuthorityExpireTime,
		&it.StorageLocation, &it.CurrentCustodian, &it.HoldingAgencyID, &it.HoldingAgencyORI, &it.Status,
		&it.Compromised, &it.LastVerifyTime, &it.CustodyCount, &it.CustodyHead, &it.CreateTime,
		&it.UpdateTime, &it.CreateUserID, &it.CreateUserEmail, &it.Version, &it.AuthorityLegalProcessID)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	return it, nil
}

// GetItem returns the item with id, or an error wrapping
// postgres.ErrNotFound. It does not check authorization.
func GetItem(ctx context.Context, q postgres.Querier, id string) (*Item, error) {
	return scanItem(q.QueryRow(ctx, `SELECT `+itemColumns+` FROM evidence.items WHERE id = $1`, id))
}

// LockItem reads the item FOR UPDATE: appends to one item's chain queue
// here, so each builds on the previous one's committed head (no fork).
func LockItem(ctx context.Context, tx pgx.Tx, id string) (*Item, error) {
	return scanItem(tx.QueryRow(ctx, `SELECT `+itemColumns+` FROM evidence.items WHERE id = $1 FOR UPDATE`, id))
}

// ItemCase returns the case of item id, or an error wrapping
// postgres.ErrNotFound.
func ItemCase(ctx context.Context, q postgres.Querier, id string) (string, error) {
	var caseID string
	err := q.QueryRow(ctx, `SELECT case_id::text FROM evidence.items WHERE id = $1`, id).Scan(&caseID)
	return caseID, postgres.Translate(err)
}

// ListItems returns up to limit items of caseID with an exhibit sequence
// above after, in exhibit order.
func ListItems(ctx context.Context, q postgres.Querier, caseID string, after, limit int) ([]*Item, error) {
	rows, err := q.Query(ctx, `SELECT `+itemColumns+` FROM evidence.items
		WHERE case_id = $1 AND exhibit_seq > $2 ORDER BY exhibit_seq LIMIT $3`, caseID, after, limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, postgres.Translate(rows.Err())
}

// NextExhibit hands out the next exhibit sequence of caseID inside tx. The
// counter row stays locked until tx ends, so concurrent registrations on one
// case never share a number.
func NextExhibit(ctx context.Context, tx pgx.Tx, caseID string) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `INSERT INTO evidence.exhibit_counters (case_id, last) VALUES ($1, 1)
		ON CONFLICT (case_id) DO UPDATE SET last = evidence.exhibit_counters.last + 1
		RETURNING last`, caseID).Scan(&n)
	return n, postgres.Translate(err)
}

// InsertItem inserts it as given (the caller set every server-owned field).
func InsertItem(ctx context.Context, tx pgx.Tx, it *Item) error {
	_, err := tx.Exec(ctx, `INSERT INTO evidence.items (id, case_id, case_number, exhibit_seq, exhibit_number,
		parent_id, description, kind, sha256, md5, sha1, size_bytes, acquire_time, acquired_by, acquire_method,
		acquire_tool, acquire_tool_version, source_location, authority_type, authority_identifier,
		authority_issuer, authority_expire_time, storage_location, current_custodian, holding_agency_id,
		holding_agency_ori, status, compromised, last_verify_time, custody_count, custody_head, create_time,
		update_time, create_user_id, create_user_email, version, authority_legal_process_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
		$21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37)`,
		it.ID, it.CaseID, it.CaseNumber, it.ExhibitSeq, it.ExhibitNumber, it.ParentID, it.Description, it.Kind,
		it.SHA256, it.MD5, it.SHA1, it.SizeBytes, it.AcquireTime, it.AcquiredBy, it.AcquireMethod, it.AcquireTool,
		it.AcquireToolVersion, it.SourceLocation, it.AuthorityType, it.AuthorityIdentifier, it.AuthorityIssuer,
		it.AuthorityExpireTime, it.StorageLocation, it.CurrentCustodian, it.HoldingAgencyID, it.HoldingAgencyORI,
		it.Status, it.Compromised, it.LastVerifyTime, it.CustodyCount, it.CustodyHead, it.CreateTime,
		it.UpdateTime, it.CreateUserID, it.CreateUserEmail, it.Version, it.AuthorityLegalProcessID)
	return postgres.Translate(err)
}

// SaveItemState writes the custody-driven and integrity columns of it and
// bumps its version. The row must be locked by LockItem in the same tx.
func SaveItemState(ctx context.Context, tx pgx.Tx, it *Item) error {
	tag, err := tx.Exec(ctx, `UPDATE evidence.items SET storage_location = $2, current_custodian = $3,
		holding_agency_id = $4, holding_agency_ori = $5, status = $6, compromised = $7, last_verify_time = $8,
		custody_count = $9, custody_head = $10, update_time = $11, version = version + 1
		WHERE id = $1 AND version = $12`,
		it.ID, it.StorageLocation, it.CurrentCustodian, it.HoldingAgencyID, it.HoldingAgencyORI, it.Status,
		it.Compromised, it.LastVerifyTime, it.CustodyCount, it.CustodyHead, it.UpdateTime, it.Version)
	if err != nil {
		return postgres.Translate(err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("item %s changed under its lock: %w", it.ID, postgres.ErrConflict)
	}
	it.Version++
	return nil
}

const eventColumns = `evidence_id::text, seq, id::text, action, event_time, from_custodian, to_custodian,
	coalesce(to_agency_id::text, ''), location, purpose, coalesce(from_agency_id::text, ''),
	holding_agency_id::text, from_status, to_status, actor_user_id::text, actor_email, actor_agency_id::text,
	actor_agency_ori, create_time, registration, late_entry, late_entry_reason, check_sha256,
	check_expected_sha256, check_match, check_tool, to_agency_ori, prev_hash, hash`

func scanEvent(row pgx.Row) (*Event, error) {
	e := &Event{}
	err := row.Scan(&e.EvidenceID, &e.Seq, &e.ID, &e.Action, &e.EventTime, &e.FromCustodian, &e.ToCustodian,
		&e.ToAgencyID, &e.Location, &e.Purpose, &e.FromAgencyID, &e.HoldingAgencyID, &e.FromStatus, &e.ToStatus,
		&e.ActorUserID, &e.ActorEmail, &e.ActorAgencyID, &e.ActorAgencyORI, &e.CreateTime, &e.Registration, &e.LateEntry, &e.LateReason,
		&e.CheckSHA256, &e.CheckExpectedSHA256, &e.CheckMatch, &e.CheckTool, &e.ToAgencyORI, &e.PrevHash, &e.Hash)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	return e, nil
}

func nullUUID(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// InsertEvent appends e. The caller holds the item's lock and computed
// e.Seq, e.PrevHash and e.Hash from its head.
func InsertEvent(ctx context.Context, tx pgx.Tx, e *Event) error {
	_, err := tx.Exec(ctx, `INSERT INTO evidence.custody_events (evidence_id, seq, id, action, event_time,
		from_custodian, to_custodian, to_agency_id, location, purpose, from_agency_id, holding_agency_id,
		from_status, to_status, actor_user_id, actor_email, actor_agency_id, actor_agency_ori, create_time,
		registration, late_entry, late_entry_reason, check_sha256, check_expected_sha256, check_match, check_tool,
		to_agency_ori, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
		$22, $23, $24, $25, $26, $27, $28, $29)`,
		e.EvidenceID, e.Seq, e.ID, e.Action, e.EventTime, e.FromCustodian, e.ToCustodian, nullUUID(e.ToAgencyID),
		e.Location, e.Purpose, nullUUID(e.FromAgencyID), e.HoldingAgencyID, e.FromStatus, e.ToStatus,
		e.ActorUserID, e.ActorEmail, e.ActorAgencyID, e.ActorAgencyORI, e.CreateTime, e.Registration, e.LateEntry,
		e.LateReason, e.CheckSHA256, e.CheckExpectedSHA256, e.CheckMatch, e.CheckTool, e.ToAgencyORI, e.PrevHash, e.Hash)
	return postgres.Translate(err)
}

// GetEvent returns the event with id.
func GetEvent(ctx context.Context, q postgres.Querier, id string) (*Event, error) {
	return scanEvent(q.QueryRow(ctx, `SELECT `+eventColumns+` FROM evidence.custody_events WHERE id = $1`, id))
}

// ListEvents returns up to limit events of item evidenceID after sequence
// after, oldest first.
func ListEvents(ctx context.Context, q postgres.Querier, evidenceID string, after int64, limit int) ([]*Event, error) {
	rows, err := q.Query(ctx, `SELECT `+eventColumns+` FROM evidence.custody_events
		WHERE evidence_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, evidenceID, after, limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, postgres.Translate(rows.Err())
}

// EachEvent calls fn for every event of item evidenceID in sequence order,
// streaming (a long chain is never held in memory). fn's error stops the
// walk and is returned.
func EachEvent(ctx context.Context, q postgres.Querier, evidenceID string, fn func(*Event) error) error {
	rows, err := q.Query(ctx, `SELECT `+eventColumns+` FROM evidence.custody_events
		WHERE evidence_id = $1 ORDER BY seq`, evidenceID)
	if err != nil {
		return postgres.Translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return postgres.Translate(rows.Err())
}

// LastEvent returns the head event of item evidenceID, or an error
// wrapping postgres.ErrNotFound when the chain is empty.
func LastEvent(ctx context.Context, q postgres.Querier, evidenceID string) (*Event, error) {
	return scanEvent(q.QueryRow(ctx, `SELECT `+eventColumns+` FROM evidence.custody_events
		WHERE evidence_id = $1 ORDER BY seq DESC LIMIT 1`, evidenceID))
}

// FirstEvent returns the event that opens item evidenceID's chain (its
// INTAKE), or an error wrapping postgres.ErrNotFound.
func FirstEvent(ctx context.Context, q postgres.Querier, evidenceID string) (*Event, error) {
	return scanEvent(q.QueryRow(ctx, `SELECT `+eventColumns+` FROM evidence.custody_events
		WHERE evidence_id = $1 ORDER BY seq LIMIT 1`, evidenceID))
}

// EachItem calls fn for every item, in id order (for checkpoints and
// whole-database verification). fn's error stops the walk.
func EachItem(ctx context.Context, q postgres.Querier, fn func(*Item) error) error {
	rows, err := q.Query(ctx, `SELECT `+itemColumns+` FROM evidence.items ORDER BY id`)
	if err != nil {
		return postgres.Translate(err)
	}
	// Collected first: fn reads events on the same connection.
	var items []*Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			rows.Close()
			return err
		}
		items = append(items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return postgres.Translate(err)
	}
	for _, it := range items {
		if err := fn(it); err != nil {
			return err
		}
	}
	return nil
}

// Requests are the service's idempotency keys for creates with request_id.
var Requests = postgres.NewIdempotencyKeys("evidence")

// ReadSnapshot runs fn in a read-only REPEATABLE READ transaction, so an
// item and its events are read as of one instant (a concurrent append is
// either wholly visible or not at all).
func ReadSnapshot(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return postgres.Translate(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	return postgres.Translate(fn(tx))
}
