package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/postgres"
)

// ListQuery selects the referrals an agency may see.
type ListQuery struct {
	AgencyID string
	// Relations on a referral that make it listable for the caller (from the
	// policy); empty means nothing is listed.
	Relations []string
	// View is "inbox" (sent to AgencyID), "outbox" (sent by it) or "" (both).
	View string
	// Now is the time the overdue flag is computed at.
	Now time.Time

	States    []string // any of
	NotStates []string
	Kinds     []string
	NotKinds  []string
	Overdue   *bool
	// Agency is the partner agency (UUID or ORI): the other side of the
	// referral from AgencyID.
	Agency string
	CaseID string

	// Keyset position: strictly after (AfterTime, AfterID) in (create_time
	// DESC, id DESC) order.
	AfterTime *time.Time
	AfterID   string
	Limit     int
}

// overdueSQL is the overdue predicate; $1 is now.
const overdueSQL = `(ref.state = 'SUBMITTED' AND ref.ack_due_time < $1)`

// params collects a query's arguments.
type params struct{ args []any }

// arg adds v and returns its placeholder.
func (p *params) arg(v any) string {
	p.args = append(p.args, v)
	return fmt.Sprintf("$%d", len(p.args))
}

// where builds the WHERE clause of q with its arguments: $1 now, $2 the
// agency, $3 the relations.
func (q ListQuery) where() (string, *params) {
	ps := &params{args: []any{q.Now, q.AgencyID, q.Relations}}
	arg := ps.arg
	w := []string{authz.VisibleSQL("referral", "ref.id", "$2", "$3")}
	switch q.View {
	case "inbox":
		w = append(w, "ref.to_agency_id = $2")
	case "outbox":
		w = append(w, "ref.from_agency_id = $2")
	}
	if len(q.States) > 0 {
		w = append(w, "ref.state = ANY("+arg(q.States)+")")
	}
	if len(q.NotStates) > 0 {
		w = append(w, "NOT (ref.state = ANY("+arg(q.NotStates)+"))")
	}
	if len(q.Kinds) > 0 {
		w = append(w, "ref.kind = ANY("+arg(q.Kinds)+")")
	}
	if len(q.NotKinds) > 0 {
		w = append(w, "NOT (ref.kind = ANY("+arg(q.NotKinds)+"))")
	}
	if q.Overdue != nil {
		if *q.Overdue {
			w = append(w, overdueSQL)
		} else {
			w = append(w, "NOT "+overdueSQL)
		}
	}
	if q.Agency != "" {
		p := arg(q.Agency)
		w = append(w, "(CASE WHEN ref.from_agency_id = $2 THEN ref.to_agency_id::text ELSE ref.from_agency_id::text END = "+p+
			" OR CASE WHEN ref.from_agency_id = $2 THEN ref.to_agency_ori ELSE ref.from_agency_ori END = "+p+")")
	}
	if q.CaseID != "" {
		w = append(w, "ref.case_id = "+arg(q.CaseID)+"::uuid")
	}
	if q.AfterTime != nil {
		w = append(w, "(ref.create_time, ref.id) < ("+arg(*q.AfterTime)+"::timestamptz, "+arg(q.AfterID)+"::uuid)")
	}
	return strings.Join(w, " AND "), ps
}

// List runs q, newest first. Authorization is part of the SQL
// (authz.VisibleSQL): no row is dropped after the query, so pages are full
// and counts do not leak.
func List(ctx context.Context, db postgres.Querier, q ListQuery) ([]*Referral, error) {
	if len(q.Relations) == 0 {
		return nil, nil
	}
	where, ps := q.where()
	sql := `SELECT ` + columns + ` FROM referrals.referrals ref WHERE ` + where +
		` ORDER BY ref.create_time DESC, ref.id DESC LIMIT ` + ps.arg(q.Limit)
	rows, err := db.Query(ctx, sql, ps.args...)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*Referral
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, postgres.Translate(rows.Err())
}

// StatsRow is one group of Stats: the referrals with this state and kind,
// exchanged with this partner agency in this direction, overdue or not.
type StatsRow struct {
	State, Kind           string
	PartnerID, PartnerORI string
	Received, Overdue     bool
	Count                 int
}

// Stats counts the referrals q selects (its keyset and limit are ignored),
// grouped for the caller to sum by dimension.
func Stats(ctx context.Context, db postgres.Querier, q ListQuery) ([]StatsRow, error) {
	if len(q.Relations) == 0 {
		return nil, nil
	}
	q.AfterTime = nil
	where, ps := q.where()
	sql := `SELECT ref.state, ref.kind,
			CASE WHEN ref.from_agency_id = $2 THEN ref.to_agency_id::text ELSE ref.from_agency_id::text END,
			CASE WHEN ref.from_agency_id = $2 THEN ref.to_agency_ori ELSE ref.from_agency_ori END,
			ref.to_agency_id = $2, ` + overdueSQL + `, count(*)
		FROM referrals.referrals ref WHERE ` + where + ` GROUP BY 1, 2, 3, 4, 5, 6`
	rows, err := db.Query(ctx, sql, ps.args...)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []StatsRow
	for rows.Next() {
		var s StatsRow
		if err := rows.Scan(&s.State, &s.Kind, &s.PartnerID, &s.PartnerORI, &s.Received, &s.Overdue, &s.Count); err != nil {
			return nil, postgres.Translate(err)
		}
		out = append(out, s)
	}
	return out, postgres.Translate(rows.Err())
}
