// Package store is the Incident Report service's PostgreSQL storage (schema
// reports): reports with their details, clocks, supplements and history as
// documents, report numbers and idempotency keys. SQL lives here and nowhere
// else in the service; every error leaves through postgres.Translate.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/postgres"
)

// ErrEtagMismatch: the caller's etag is not the report's current one.
var ErrEtagMismatch = errors.New("etag mismatch")

// Report is a stored incident report. Enum values are stored by name
// without their prefix (SUBMITTED, RANSOMWARE, HIGH).
type Report struct {
	ID            string
	Number        *string // <CTIC ORI>-IR-<YYYY>-<NNNNN>, nil while a draft
	OrgAgencyID   string
	OrgAgencyORI  string
	OrgAgencyName string
	State         string
	Priority      string
	IncidentType  string
	// Details is protojson of IncidentDetails; Clocks, Supplements and
	// History are JSON arrays of protojson Clock, Supplement and Event.
	Details, Clocks, Supplements, History []byte
	InformationRequest                    string
	CaseID                                *string
	CaseNumber                            string
	SubmitTime                            *time.Time
	CreateTime, UpdateTime                time.Time
	CreateUserID, CreateUserEmail         string
	Version                               int64
}

const columns = `r.id::text, r.number, r.org_agency_id::text, r.org_agency_ori, r.org_agency_name, r.state, r.priority,
	r.incident_type, r.details, r.clocks, r.supplements, r.history, r.information_request, r.case_id::text, r.case_number,
	r.submit_time, r.create_time, r.update_time, r.create_user_id::text, r.create_user_email, r.version`

// ListRow is a listed report and whether the caller's agency triages it.
type ListRow struct {
	Report *Report
	Triage bool
}

// fields are the scan targets of columns.
func (r *Report) fields() []any {
	return []any{&r.ID, &r.Number, &r.OrgAgencyID, &r.OrgAgencyORI, &r.OrgAgencyName, &r.State, &r.Priority,
		&r.IncidentType, &r.Details, &r.Clocks, &r.Supplements, &r.History, &r.InformationRequest, &r.CaseID, &r.CaseNumber,
		&r.SubmitTime, &r.CreateTime, &r.UpdateTime, &r.CreateUserID, &r.CreateUserEmail, &r.Version}
}

func scan(row pgx.Row) (*Report, error) {
	r := &Report{}
	if err := row.Scan(r.fields()...); err != nil {
		return nil, postgres.Translate(err)
	}
	return r, nil
}

// Get returns the report with id, or an error wrapping postgres.ErrNotFound.
// It does not check authorization.
func Get(ctx context.Context, q postgres.Querier, id string) (*Report, error) {
	return scan(q.QueryRow(ctx, `SELECT `+columns+` FROM reports.reports r WHERE r.id = $1`, id))
}

// Lock reads the report with id FOR UPDATE: concurrent changes of one
// report queue here, so each sees what the other left.
func Lock(ctx context.Context, tx pgx.Tx, id string) (*Report, error) {
	return scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM reports.reports r WHERE r.id = $1 FOR UPDATE`, id))
}

// Insert inserts r as given (the caller set every server-owned field).
func Insert(ctx context.Context, tx pgx.Tx, r *Report) error {
	_, err := tx.Exec(ctx, `INSERT INTO reports.reports (id, number, org_agency_id, org_agency_ori, org_agency_name, state,
		priority, incident_type, details, clocks, supplements, history, information_request, case_id, case_number,
		submit_time, create_time, update_time, create_user_id, create_user_email, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
		r.ID, r.Number, r.OrgAgencyID, r.OrgAgencyORI, r.OrgAgencyName, r.State, r.Priority, r.IncidentType, r.Details,
		r.Clocks, r.Supplements, r.History, r.InformationRequest, r.CaseID, r.CaseNumber, r.SubmitTime, r.CreateTime,
		r.UpdateTime, r.CreateUserID, r.CreateUserEmail, r.Version)
	return postgres.Translate(err)
}

// Save writes every mutable column of r and bumps its version. The row must
// be locked by Lock in the same tx; a version that moved answers
// ErrEtagMismatch.
func Save(ctx context.Context, tx pgx.Tx, r *Report) error {
	tag, err := tx.Exec(ctx, `UPDATE reports.reports SET number = $2, state = $3, priority = $4, incident_type = $5,
		details = $6, clocks = $7, supplements = $8, history = $9, information_request = $10, case_id = $11,
		case_number = $12, submit_time = $13, update_time = $14, version = version + 1
		WHERE id = $1 AND version = $15`,
		r.ID, r.Number, r.State, r.Priority, r.IncidentType, r.Details, r.Clocks, r.Supplements, r.History,
		r.InformationRequest, r.CaseID, r.CaseNumber, r.SubmitTime, r.UpdateTime, r.Version)
	if err != nil {
		return postgres.Translate(err)
	}
	if tag.RowsAffected() != 1 {
		return ErrEtagMismatch
	}
	r.Version++
	return nil
}

// NextNumber hands out the next report number of the receiving agency ori
// for year inside tx (the counter row stays locked until tx ends, so
// numbers are dense and unique under concurrency).
func NextNumber(ctx context.Context, tx pgx.Tx, ori string, year int) (string, error) {
	var n int64
	err := tx.QueryRow(ctx, `INSERT INTO reports.number_counters (ori, year, last) VALUES ($1, $2, 1)
		ON CONFLICT (ori, year) DO UPDATE SET last = reports.number_counters.last + 1
		RETURNING last`, ori, year).Scan(&n)
	if err != nil {
		return "", postgres.Translate(err)
	}
	return fmt.Sprintf("%s-IR-%04d-%05d", ori, year, n), nil
}

// ListQuery selects the reports an agency may see.
type ListQuery struct {
	AgencyID string
	// Relations on a report that make it listable for the caller (from the
	// policy); empty lists nothing.
	Relations []string
	// TriageRelations permit read_triage: the row's Triage flag says
	// whether the caller's agency holds one of them.
	TriageRelations []string
	States          []string
	NotStates       []string
	// Keyset position: strictly after (AfterTime, AfterID) in (create_time
	// DESC, id DESC) order.
	AfterTime *time.Time
	AfterID   string
	Limit     int
}

// List returns up to q.Limit reports, newest first. Visibility is in the
// SQL (authz.VisibleSQL), so a page never holds, and a count never counts,
// a report the caller may not read.
func List(ctx context.Context, q postgres.Querier, lq ListQuery) ([]ListRow, error) {
	if len(lq.Relations) == 0 {
		return nil, nil
	}
	args := []any{lq.AgencyID, lq.Relations, lq.TriageRelations}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	where := authz.VisibleSQL("incident_report", "r.id", "$1", "$2")
	if len(lq.Relations) == 1 && lq.Relations[0] == authz.RelLead {
		// A reporter: lead is granted only to the reporting organisation
		// when the report is created, so its reports are the org's rows —
		// walk the org's index instead of every report (the visibility
		// predicate stays, so nothing else can be listed).
		where += " AND r.org_agency_id = $1"
	}
	if len(lq.States) > 0 {
		where += " AND r.state = ANY(" + arg(lq.States) + ")"
	}
	if len(lq.NotStates) > 0 {
		where += " AND NOT (r.state = ANY(" + arg(lq.NotStates) + "))"
	}
	if lq.AfterTime != nil {
		where += " AND (r.create_time, r.id) < (" + arg(*lq.AfterTime) + ", " + arg(lq.AfterID) + "::uuid)"
	}
	rows, err := q.Query(ctx, `SELECT `+columns+`, `+authz.VisibleSQL("incident_report", "r.id", "$1", "$3")+
		` FROM reports.reports r WHERE `+where+
		` ORDER BY r.create_time DESC, r.id DESC LIMIT `+arg(lq.Limit), args...)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []ListRow
	for rows.Next() {
		var row ListRow
		row.Report = &Report{}
		if err := rows.Scan(append(row.Report.fields(), &row.Triage)...); err != nil {
			return nil, postgres.Translate(err)
		}
		out = append(out, row)
	}
	return out, postgres.Translate(rows.Err())
}

// Requests are the service's idempotency keys for creates with request_id.
var Requests = postgres.NewIdempotencyKeys("reports")
