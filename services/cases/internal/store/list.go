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
	LeadAgency     string   // agency UUID or ORI
	Assignees      []string // user ids that must all be assigned
	Text           []string

	// Keyset position: strictly after (AfterTime, AfterID) in (create_time
	// DESC, id DESC) order.
	AfterTime *time.Time
	AfterID   string
	// Limit is the page size.
	Limit int
}

// ListCases runs q and reports whether more rows follow. The query walks,
// newest first, the grants through which the caller's agency sees cases —
// its own and those of each task force it is a member of now — one ordered
// index walk per grantee (authz.relations carries each case's create_time
// as sort_time), joining each case and applying the filters and the
// effective-relation rules of pkg/authz (agreement caps included): the first
// page reads about a page of index entries per grantee however many cases
// exist. The permitting relation set is part of the SQL; nothing is filtered
// after the query except duplicates (an agency reaching one case twice,
// directly and through a task force), which are adjacent in this order and
// dropped here.
func ListCases(ctx context.Context, db postgres.Querier, q ListQuery) ([]*Case, bool, error) {
	if len(q.Relations) == 0 {
		return nil, false, nil
	}
	args := []any{q.AgencyID, q.Relations}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	walk := authz.Walk{Agency: "$1", Relations: "$2"}
	where := []string{walk.WalkSQL("case")}
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
	for _, a := range q.Assignees {
		where = append(where, arg(a)+"::uuid = ANY(c.assigned_investigator_ids)")
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
		where = append(where, "(r.sort_time, r.resource_id) < ("+arg(*q.AfterTime)+"::timestamptz, "+arg(q.AfterID)+"::uuid)")
	}
	fetch := arg(q.Limit + 1)
	sql := `WITH g AS (` + walk.GranteesSQL() + `)
		SELECT ` + outerColumns + ` FROM g CROSS JOIN LATERAL (
			SELECT r.sort_time AS walk_time, r.resource_id AS walk_id, ` + qualifiedColumns + ` FROM authz.relations r JOIN cases.cases c ON c.id = r.resource_id
			WHERE ` + strings.Join(where, " AND ") + `
			ORDER BY r.sort_time DESC, r.resource_id DESC LIMIT ` + fetch + `) x
		ORDER BY x.walk_time DESC, x.walk_id DESC LIMIT ` + fetch
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, false, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*Case
	n := 0
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, false, err
		}
		n++
		if len(out) > 0 && out[len(out)-1].ID == c.ID {
			continue
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, false, postgres.Translate(err)
	}
	more := n == q.Limit+1
	if len(out) > q.Limit {
		out, more = out[:q.Limit], true
	}
	return out, more, nil
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

// outerColumns selects, from the lateral walk x, the columns of
// qualifiedColumns by their output names.
var outerColumns = func() string {
	cols := strings.Split(caseColumns, ",")
	for i, c := range cols {
		name := strings.TrimSpace(c)
		if j := strings.Index(name, "::"); j >= 0 {
			name = name[:j]
		}
		cols[i] = "x." + name
	}
	return strings.Join(cols, ", ")
}()
