// Package store is the Audit service's SQL: reads of audit.events (the
// service never writes; pkg/audit appends) joined with the directory's
// agencies (read-only) for names.
package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/postgres"
)

// Row is one record with its acting agency's name.
type Row struct {
	*audit.Stored
	AgencyName string
}

// AgencyQuery selects records of one agency's chain, newest first.
type AgencyQuery struct {
	AgencyID string
	// Each restriction is "column op value"; values are bound parameters.
	Users, NotUsers       []string
	Cases                 []string
	Actions, NotActions   []string
	Services, NotServices []string
	Outcomes, NotOutcomes []string
	From, Before          *time.Time // event_time >= From, < Before
	AfterSeq              int64      // keyset: seq < AfterSeq when > 0
	Limit                 int
}

var selectRow = `SELECT ` + columns + `, coalesce(a.name, '') FROM audit.events e LEFT JOIN liaison.agencies a ON a.id = e.agency_id`

// columns are audit.Columns prefixed with the table alias e.
var columns = func() string {
	parts := strings.Split(audit.Columns, ",")
	for i, p := range parts {
		parts[i] = "e." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}()

// ListAgency returns the records q selects. It returns no error for an empty result.
func ListAgency(ctx context.Context, db postgres.Querier, q AgencyQuery) ([]Row, error) {
	args := []any{q.AgencyID}
	where := []string{"e.agency_id = $1"}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if len(q.Users) > 0 {
		add("lower(e.user_email) = ANY($%d)", lower(q.Users))
	}
	if len(q.NotUsers) > 0 {
		add("NOT (lower(e.user_email) = ANY($%d))", lower(q.NotUsers))
	}
	if len(q.Cases) > 0 {
		add("(e.case_id = ANY($%[1]d::uuid[]) OR e.listed_case_ids && $%[1]d::uuid[])", q.Cases)
	}
	if len(q.Actions) > 0 {
		add("e.action = ANY($%d)", q.Actions)
	}
	if len(q.NotActions) > 0 {
		add("NOT (e.action = ANY($%d))", q.NotActions)
	}
	if len(q.Services) > 0 {
		add("e.service = ANY($%d)", q.Services)
	}
	if len(q.NotServices) > 0 {
		add("NOT (e.service = ANY($%d))", q.NotServices)
	}
	if len(q.Outcomes) > 0 {
		add("e.outcome = ANY($%d)", q.Outcomes)
	}
	if len(q.NotOutcomes) > 0 {
		add("NOT (e.outcome = ANY($%d))", q.NotOutcomes)
	}
	if q.From != nil {
		add("e.event_time >= $%d", *q.From)
	}
	if q.Before != nil {
		add("e.event_time < $%d", *q.Before)
	}
	if q.AfterSeq > 0 {
		add("e.seq < $%d", q.AfterSeq)
	}
	args = append(args, q.Limit)
	sql := selectRow + " WHERE " + strings.Join(where, " AND ") + fmt.Sprintf(" ORDER BY e.seq DESC LIMIT $%d", len(args))
	return collect(ctx, db, sql, args...)
}

// CaseAfter is the keyset position of the case report.
type CaseAfter struct {
	Time     time.Time
	AgencyID string
	Seq      int64
}

// caseQuery returns the records naming case $1 — made on it, or a List that
// showed it — in report order (event_time, agency_id, seq), restricted by
// bounds (SQL over e, parameters from $2 on), at most $limit of them. The
// two ways of naming a case are two branches, each ordered and limited on
// its own index (the case's ordered range; the listed cases' GIN), so a
// page costs its own length rather than a sort of the whole report.
func caseQuery(bounds string, limit int) string {
	branch := func(names string) string {
		return `(SELECT e.* FROM audit.events e WHERE ` + names + bounds + `
			ORDER BY e.event_time, e.agency_id, e.seq LIMIT $` + fmt.Sprint(limit) + `)`
	}
	return `SELECT ` + columns + `, coalesce(a.name, '') FROM (` +
		branch(`e.case_id = $1`) + ` UNION ALL ` +
		branch(`e.listed_case_ids @> ARRAY[$1::uuid] AND e.case_id IS DISTINCT FROM $1::uuid`) +
		`) e LEFT JOIN liaison.agencies a ON a.id = e.agency_id
		ORDER BY e.event_time, e.agency_id, e.seq LIMIT $` + fmt.Sprint(limit)
}

// ListCase returns the records naming caseID, from every chain, oldest
// first (by time, then chain, then position), after the position when given.
func ListCase(ctx context.Context, db postgres.Querier, caseID string, after *CaseAfter, limit int) ([]Row, error) {
	if after == nil {
		return collect(ctx, db, caseQuery("", 2), caseID, limit)
	}
	return collect(ctx, db, caseQuery(` AND (e.event_time, e.agency_id, e.seq) > ($2, $3::uuid, $4)`, 5),
		caseID, after.Time, after.AgencyID, after.Seq, limit)
}

// ListCaseBefore is ListCase restricted to records made before the time
// end (the fixed end of an export).
func ListCaseBefore(ctx context.Context, db postgres.Querier, caseID string, after *CaseAfter, end time.Time, limit int) ([]Row, error) {
	if after == nil {
		return collect(ctx, db, caseQuery(` AND e.event_time < $2`, 3), caseID, end, limit)
	}
	return collect(ctx, db, caseQuery(` AND e.event_time < $2 AND (e.event_time, e.agency_id, e.seq) > ($3, $4::uuid, $5)`, 6),
		caseID, end, after.Time, after.AgencyID, after.Seq, limit)
}

// CountCase counts the records naming caseID made before end, stopping at
// limit (it answers at least limit when there are more).
func CountCase(ctx context.Context, db postgres.Querier, caseID string, end time.Time, limit int) (int, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM (SELECT 1 FROM audit.events e WHERE e.case_id = $1 AND e.event_time < $2 LIMIT $3) s) +
		(SELECT count(*) FROM (SELECT 1 FROM audit.events e WHERE e.listed_case_ids @> ARRAY[$1::uuid]
			AND e.case_id IS DISTINCT FROM $1::uuid AND e.event_time < $2 LIMIT $3) s)`, caseID, end, limit).Scan(&n)
	return n, postgres.Translate(err)
}

func collect(ctx context.Context, db postgres.Querier, sql string, args ...any) ([]Row, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var r Row
		s, err := audit.ScanEvent(rows, &r.AgencyName)
		if err != nil {
			return nil, err
		}
		r.Stored = s
		out = append(out, r)
	}
	return out, postgres.Translate(rows.Err())
}

func lower(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strings.ToLower(x)
	}
	return out
}
