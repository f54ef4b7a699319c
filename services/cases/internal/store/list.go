package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/postgres"
)

// ListQuery selects the cases an agency may see, newest first.
type ListQuery struct {
	AgencyID string
	// Relations on a case that make it listable for the caller (from the
	// policy); empty means nothing is listed.
	Relations []string
	// NoteRelations are the relations under which the caller may read notes:
	// text search reaches into notes only of those cases, so a search term
	// cannot reveal notes the caller may not read.
	NoteRelations []string

	Status         []string // any of
	NotStatus      []string
	Classification []string
	NotClass       []string
	LeadAgency     string // agency UUID or ORI
	Text           []string

	// Keyset position: strictly after (AfterTime, AfterID) in (create_time
	// DESC, id DESC) order.
	AfterTime *time.Time
	AfterID   string
	Limit     int
}

// ListCases runs q. Authorization is part of the SQL (authz.VisibleSQL): no
// row is dropped after the query, so pages are full and counts do not leak.
func ListCases(ctx context.Context, db postgres.Querier, q ListQuery) ([]*Case, error) {
	if len(q.Relations) == 0 {
		return nil, nil
	}
	args := []any{q.AgencyID, q.Relations}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where := []string{authz.VisibleSQL("case", "c.id", "$1", "$2")}
	if len(q.Status) > 0 {
		where = append(where, "c.status = ANY("+arg(q.Status)+")")
	}
	if len(q.NotStatus) > 0 {
		where = append(where, "NOT (c.status = ANY("+arg(q.NotStatus)+"))")
	}
	if len(q.Classification) > 0 {
		where = append(where, "c.classification = ANY("+arg(q.Classification)+")")
	}
	if len(q.NotClass) > 0 {
		where = append(where, "NOT (c.classification = ANY("+arg(q.NotClass)+"))")
	}
	if q.LeadAgency != "" {
		p := arg(q.LeadAgency)
		where = append(where, "(c.lead_agency_ori = "+p+" OR c.lead_agency_id::text = "+p+")")
	}
	for _, t := range q.Text {
		p := arg(t)
		cond := "c.search @@ websearch_to_tsquery('english', " + p + ")"
		if len(q.NoteRelations) > 0 {
			nr := arg(q.NoteRelations)
			cond = "(" + cond + " OR (" + authz.VisibleSQL("case", "c.id", "$1", nr) +
				" AND EXISTS (SELECT 1 FROM cases.notes n WHERE n.case_id = c.id AND n.search @@ websearch_to_tsquery('english', " + p + "))))"
		}
		where = append(where, cond)
	}
	if q.AfterTime != nil {
		where = append(where, "(c.create_time, c.id) < ("+arg(*q.AfterTime)+"::timestamptz, "+arg(q.AfterID)+"::uuid)")
	}
	sql := `SELECT ` + qualifiedColumns + ` FROM cases.cases c WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY c.create_time DESC, c.id DESC LIMIT ` + arg(q.Limit)
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, postgres.Translate(rows.Err())
}

// qualifiedColumns is caseColumns with the c. alias, so the subqueries'
// columns cannot be confused with the case's.
var qualifiedColumns = func() string {
	cols := strings.Split(caseColumns, ",")
	for i, c := range cols {
		cols[i] = "c." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}()
