package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/postgres"
)

// Task is a stored task (issue 17).
type Task struct {
	ID               string
	CaseID           string
	CaseNumber       string // joined from the case when read
	Title            string
	Description      string
	Group            string
	Status           string // WAITING, IN_PROGRESS, COMPLETED, CANCELLED
	AssigneeUserIDs  []string
	AssignedAgencyID *string
	DueTime          *time.Time
	Order            int32
	Mandatory        bool
	RequiresLog      bool
	PlaybookID       *string
	TemplateKey      *string
	CreateTime       time.Time
	UpdateTime       time.Time
	CreateUserEmail  string
	UpdateUserEmail  string
	Version          int64
}

// Open reports whether the task still has to be done.
func (t *Task) Open() bool { return t.Status == "WAITING" || t.Status == "IN_PROGRESS" }

// taskColumns reads the case number by a scalar subquery rather than a
// join: with ORDER BY … LIMIT, PostgreSQL evaluates it for the page's rows
// only (after the sort), instead of joining every candidate task.
const taskColumns = `t.id::text, t.case_id::text, (SELECT c.case_number FROM cases.cases c WHERE c.id = t.case_id), t.title, t.description, t.task_group, t.status,
	t.assignee_user_ids::text[], t.assigned_agency_id::text, t.due_time, t.sort_order, t.mandatory, t.requires_log,
	t.playbook_id::text, t.template_key, t.create_time, t.update_time, t.create_user_email, t.update_user_email, t.version`

func scanTask(row pgx.Row) (*Task, error) {
	t := &Task{}
	err := row.Scan(&t.ID, &t.CaseID, &t.CaseNumber, &t.Title, &t.Description, &t.Group, &t.Status,
		&t.AssigneeUserIDs, &t.AssignedAgencyID, &t.DueTime, &t.Order, &t.Mandatory, &t.RequiresLog,
		&t.PlaybookID, &t.TemplateKey, &t.CreateTime, &t.UpdateTime, &t.CreateUserEmail, &t.UpdateUserEmail, &t.Version)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	return t, nil
}

func scanTasks(rows pgx.Rows, err error) ([]*Task, error) {
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, postgres.Translate(rows.Err())
}

// InsertTask inserts t; with a playbook origin, a task already added from
// the same playbook entry is left alone and InsertTask reports false.
func InsertTask(ctx context.Context, tx pgx.Tx, t *Task) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO cases.tasks (id, case_id, title, description, task_group, status,
		assignee_user_ids, assigned_agency_id, due_time, sort_order, mandatory, requires_log, playbook_id,
		template_key, create_time, update_time, create_user_email, update_user_email, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7::text[]::uuid[], $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 1)
		ON CONFLICT (case_id, playbook_id, template_key) DO NOTHING`,
		t.ID, t.CaseID, t.Title, t.Description, t.Group, t.Status, nonNil(t.AssigneeUserIDs), t.AssignedAgencyID,
		t.DueTime, t.Order, t.Mandatory, t.RequiresLog, t.PlaybookID, t.TemplateKey, t.CreateTime, t.UpdateTime,
		t.CreateUserEmail, t.UpdateUserEmail)
	if err != nil {
		return false, postgres.Translate(err)
	}
	t.Version = 1
	return tag.RowsAffected() == 1, nil
}

// GetTask returns the task with id, or an error wrapping
// postgres.ErrNotFound. It does not check authorization.
func GetTask(ctx context.Context, q postgres.Querier, id string) (*Task, error) {
	return scanTask(q.QueryRow(ctx, `SELECT `+taskColumns+` FROM cases.tasks t WHERE t.id = $1`, id))
}

// LockTask reads the task FOR UPDATE (of the task row only).
func LockTask(ctx context.Context, tx pgx.Tx, id string) (*Task, error) {
	return scanTask(tx.QueryRow(ctx, `SELECT `+taskColumns+` FROM cases.tasks t
		WHERE t.id = $1 FOR UPDATE`, id))
}

// SaveTask writes every mutable column of t (locked by LockTask) and bumps
// its version; ErrEtagMismatch if it changed meanwhile.
func SaveTask(ctx context.Context, tx pgx.Tx, t *Task) error {
	tag, err := tx.Exec(ctx, `UPDATE cases.tasks SET title = $2, description = $3, task_group = $4, status = $5,
		assignee_user_ids = $6::text[]::uuid[], assigned_agency_id = $7, due_time = $8, sort_order = $9,
		mandatory = $10, requires_log = $11, update_time = $12, update_user_email = $13, version = version + 1
		WHERE id = $1 AND version = $14`,
		t.ID, t.Title, t.Description, t.Group, t.Status, nonNil(t.AssigneeUserIDs), t.AssignedAgencyID, t.DueTime,
		t.Order, t.Mandatory, t.RequiresLog, t.UpdateTime, t.UpdateUserEmail, t.Version)
	if err != nil {
		return postgres.Translate(err)
	}
	if tag.RowsAffected() != 1 {
		return ErrEtagMismatch
	}
	t.Version++
	return nil
}

// ListCaseTasks returns up to limit tasks of caseID in checklist order
// (sort_order, id), strictly after (afterOrder, afterID) when afterID is set.
func ListCaseTasks(ctx context.Context, q postgres.Querier, caseID string, afterOrder int32, afterID string, limit int) ([]*Task, error) {
	if afterID == "" {
		return scanTasks(q.Query(ctx, `SELECT `+taskColumns+` FROM cases.tasks t
			WHERE t.case_id = $1 ORDER BY t.sort_order, t.id LIMIT $2`, caseID, limit))
	}
	return scanTasks(q.Query(ctx, `SELECT `+taskColumns+` FROM cases.tasks t
		WHERE t.case_id = $1 AND (t.sort_order, t.id) > ($2, $3::uuid) ORDER BY t.sort_order, t.id LIMIT $4`,
		caseID, afterOrder, afterID, limit))
}

// OpenMandatoryTasks returns the titles of caseID's mandatory tasks still
// waiting or in progress, in checklist order.
func OpenMandatoryTasks(ctx context.Context, q postgres.Querier, caseID string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT title FROM cases.tasks WHERE case_id = $1 AND mandatory
		AND status IN ('WAITING', 'IN_PROGRESS') ORDER BY sort_order, id`, caseID)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// TaskQuery selects tasks across the cases an agency may read the tasks
// of, due first.
type TaskQuery struct {
	AgencyID string
	// Relations on a case under which the caller reads its tasks (from the
	// policy); empty lists nothing.
	Relations []string
	// AssigneeOrAgency: tasks assigned to this user, or to AgencyOf
	// without named assignees ("assignee = me").
	Assignee  string
	AgencyOf  string
	Agency    string // assigned_agency = …
	CaseID    string
	Status    []string
	NotStatus []string
	// Keyset: strictly after (AfterDue, AfterID) in (due_time ASC NULLS
	// LAST, id) order; AfterDue nil with AfterID set means "among the
	// undated".
	AfterDue *time.Time
	AfterID  string
	Limit    int
}

// farFuture orders undated tasks after every dated one in keyset terms.
const farFuture = `'infinity'::timestamptz`

// SearchTasks runs q and reports whether more rows follow. Visibility is in
// the SQL, so every listed task passes Authorize and every task that
// passes is listed; ascending due time puts overdue tasks first. Two
// shapes, by what narrows the search most:
//
//   - with an assignee, an assigned agency or a case, the tasks so named
//     (GIN index on assignees, B-tree on agency and on case) are checked
//     one by one with authz.VisibleSQL on their case;
//   - otherwise the caller's visible cases are walked from its grants
//     (authz.Walk, as ListCases does) and their tasks joined.
func SearchTasks(ctx context.Context, db postgres.Querier, q TaskQuery) ([]*Task, bool, error) {
	if len(q.Relations) == 0 {
		return nil, false, nil
	}
	args := []any{q.AgencyID, q.Relations}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	narrowed := q.Assignee != "" || q.Agency != "" || q.CaseID != ""
	var where []string
	if narrowed {
		where = append(where, authz.VisibleSQL("case", "t.case_id", "$1", "$2"))
	}
	if q.Assignee != "" {
		// @> (not = ANY) so the GIN index serves it; with the agency
		// branch the planner ORs two index scans.
		u := arg(q.Assignee)
		cond := "t.assignee_user_ids @> ARRAY[" + u + "::uuid]"
		if q.AgencyOf != "" {
			cond = "(" + cond + " OR (t.assigned_agency_id = " + arg(q.AgencyOf) + "::uuid AND t.assignee_user_ids = '{}'))"
		}
		where = append(where, cond)
	}
	if q.Agency != "" {
		where = append(where, "t.assigned_agency_id = "+arg(q.Agency)+"::uuid")
	}
	if q.CaseID != "" {
		where = append(where, "t.case_id = "+arg(q.CaseID)+"::uuid")
	}
	if len(q.Status) > 0 {
		where = append(where, "t.status = ANY("+arg(q.Status)+")")
	}
	if len(q.NotStatus) > 0 {
		where = append(where, "NOT (t.status = ANY("+arg(q.NotStatus)+"))")
	}
	due := "coalesce(t.due_time, " + farFuture + ")"
	if q.AfterID != "" {
		after := farFuture
		if q.AfterDue != nil {
			after = arg(*q.AfterDue) + "::timestamptz"
		}
		where = append(where, "("+due+", t.id) > ("+after+", "+arg(q.AfterID)+"::uuid)")
	}
	from := `FROM cases.tasks t`
	if !narrowed {
		walk := authz.Walk{Agency: "$1", Relations: "$2"}
		from = `FROM (SELECT DISTINCT r.resource_id AS case_id FROM (` + walk.GranteesSQL() + `) g
			JOIN authz.relations r ON ` + walk.WalkSQL("case") + `) vis
			JOIN cases.tasks t ON t.case_id = vis.case_id`
	}
	if len(where) == 0 {
		where = append(where, "true")
	}
	sql := `SELECT ` + taskColumns + ` ` + from + ` WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY ` + due + `, t.id LIMIT ` + arg(q.Limit+1)
	out, err := scanTasks(db.Query(ctx, sql, args...))
	if err != nil {
		return nil, false, err
	}
	more := len(out) > q.Limit
	if more {
		out = out[:q.Limit]
	}
	return out, more, nil
}

// TaskLogEntry is one entry of a task's log.
type TaskLogEntry struct {
	Seq          int64
	ID           string
	TaskID       string
	Body         string
	AuthorUserID string
	AuthorEmail  string
	AgencyID     string
	CreateTime   time.Time
}

// InsertTaskLog appends e and sets its Seq.
func InsertTaskLog(ctx context.Context, tx pgx.Tx, e *TaskLogEntry) error {
	err := tx.QueryRow(ctx, `INSERT INTO cases.task_log (id, task_id, body, author_user_id, author_email, agency_id,
		create_time) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq`,
		e.ID, e.TaskID, e.Body, e.AuthorUserID, e.AuthorEmail, e.AgencyID, e.CreateTime).Scan(&e.Seq)
	return postgres.Translate(err)
}

// ListTaskLog returns up to limit entries of taskID after seq, oldest first.
func ListTaskLog(ctx context.Context, q postgres.Querier, taskID string, afterSeq int64, limit int) ([]*TaskLogEntry, error) {
	rows, err := q.Query(ctx, `SELECT seq, id::text, task_id::text, body, author_user_id::text, author_email,
		agency_id::text, create_time FROM cases.task_log WHERE task_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
		taskID, afterSeq, limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*TaskLogEntry
	for rows.Next() {
		e := &TaskLogEntry{}
		if err := rows.Scan(&e.Seq, &e.ID, &e.TaskID, &e.Body, &e.AuthorUserID, &e.AuthorEmail, &e.AgencyID, &e.CreateTime); err != nil {
			return nil, postgres.Translate(err)
		}
		out = append(out, e)
	}
	return out, postgres.Translate(rows.Err())
}

// User is what the Cases service needs of a directory user to assign a
// task: their agency and roles. Read-only, as authentication reads the
// directory on every request (DESIGN.md §2).
type User struct {
	ID, AgencyID, Email string
	Roles               []string
}

// ActiveUsers returns the active users among ids; unknown or inactive ids
// are missing from the result.
func ActiveUsers(ctx context.Context, q postgres.Querier, ids []string) (map[string]User, error) {
	rows, err := q.Query(ctx, `SELECT id::text, agency_id::text, email, roles FROM liaison.users
		WHERE id = ANY($1::text[]::uuid[]) AND active`, ids)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	out := map[string]User{}
	for rows.Next() {
		var u User
		if err := rows.Scan(&u.ID, &u.AgencyID, &u.Email, &u.Roles); err != nil {
			return nil, postgres.Translate(err)
		}
		out[u.ID] = u
	}
	return out, postgres.Translate(rows.Err())
}

// AgencyKind returns the kind (STATE, FEDERAL, …) of an active agency, or
// an error wrapping postgres.ErrNotFound.
func AgencyKind(ctx context.Context, q postgres.Querier, id string) (string, error) {
	var kind string
	err := q.QueryRow(ctx, `SELECT kind FROM liaison.agencies WHERE id = $1 AND active`, id).Scan(&kind)
	return kind, postgres.Translate(err)
}

// PlaybookTask is one task of a playbook template.
type PlaybookTask struct {
	Key              string `json:"key"`
	Title            string `json:"title"`
	Description      string `json:"description,omitempty"`
	Group            string `json:"group,omitempty"`
	Mandatory        bool   `json:"mandatory,omitempty"`
	RequiresLog      bool   `json:"requires_log,omitempty"`
	DueOffsetSeconds int64  `json:"due_offset_seconds,omitempty"`
}

// Playbook is an agency's case template.
type Playbook struct {
	ID              string
	AgencyID        string
	Name            string
	Classifications []string
	TitlePrefix     string
	DefaultPriority string
	Tasks           []PlaybookTask
	CreateTime      time.Time
	UpdateTime      time.Time
	UpdateUserEmail string
	Version         int64
}

const playbookColumns = `id::text, agency_id::text, name, classifications, title_prefix, default_priority, tasks,
	create_time, update_time, update_user_email, version`

func scanPlaybook(row pgx.Row) (*Playbook, error) {
	p := &Playbook{}
	var tasks []byte
	if err := row.Scan(&p.ID, &p.AgencyID, &p.Name, &p.Classifications, &p.TitlePrefix, &p.DefaultPriority, &tasks,
		&p.CreateTime, &p.UpdateTime, &p.UpdateUserEmail, &p.Version); err != nil {
		return nil, postgres.Translate(err)
	}
	if err := json.Unmarshal(tasks, &p.Tasks); err != nil {
		return nil, fmt.Errorf("playbook %s tasks: %w", p.ID, err)
	}
	return p, nil
}

// UpsertPlaybook inserts p, or (with onConflictNothing) leaves an existing
// playbook of the same id alone — the demo seed's idempotence.
func InsertPlaybook(ctx context.Context, q postgres.Querier, p *Playbook, onConflictNothing bool) error {
	tasks, err := json.Marshal(p.Tasks)
	if err != nil {
		return err
	}
	sql := `INSERT INTO cases.playbooks (id, agency_id, name, classifications, title_prefix, default_priority, tasks,
		create_time, update_time, update_user_email, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1)`
	if onConflictNothing {
		sql += ` ON CONFLICT DO NOTHING`
	}
	_, err = q.Exec(ctx, sql, p.ID, p.AgencyID, p.Name, nonNil(p.Classifications), p.TitlePrefix, p.DefaultPriority,
		tasks, p.CreateTime, p.UpdateTime, p.UpdateUserEmail)
	p.Version = 1
	return postgres.Translate(err)
}

// GetPlaybook returns the playbook with id if agencyID keeps it, else an
// error wrapping postgres.ErrNotFound (another agency's playbooks are
// invisible).
func GetPlaybook(ctx context.Context, q postgres.Querier, agencyID, id string) (*Playbook, error) {
	return scanPlaybook(q.QueryRow(ctx, `SELECT `+playbookColumns+` FROM cases.playbooks WHERE id = $1 AND agency_id = $2`, id, agencyID))
}

// LockPlaybook is GetPlaybook FOR UPDATE.
func LockPlaybook(ctx context.Context, tx pgx.Tx, agencyID, id string) (*Playbook, error) {
	return scanPlaybook(tx.QueryRow(ctx, `SELECT `+playbookColumns+` FROM cases.playbooks WHERE id = $1 AND agency_id = $2 FOR UPDATE`, id, agencyID))
}

// SavePlaybook writes p (locked) and bumps its version.
func SavePlaybook(ctx context.Context, tx pgx.Tx, p *Playbook) error {
	tasks, err := json.Marshal(p.Tasks)
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `UPDATE cases.playbooks SET name = $2, classifications = $3, title_prefix = $4,
		default_priority = $5, tasks = $6, update_time = $7, update_user_email = $8, version = version + 1
		WHERE id = $1 AND version = $9`,
		p.ID, p.Name, nonNil(p.Classifications), p.TitlePrefix, p.DefaultPriority, tasks, p.UpdateTime, p.UpdateUserEmail, p.Version)
	if err != nil {
		return postgres.Translate(err)
	}
	if tag.RowsAffected() != 1 {
		return ErrEtagMismatch
	}
	p.Version++
	return nil
}

// ListPlaybooks returns up to limit playbooks of agencyID by (name, id),
// strictly after (afterName, afterID) when afterID is set.
func ListPlaybooks(ctx context.Context, q postgres.Querier, agencyID, afterName, afterID string, limit int) ([]*Playbook, error) {
	rows, err := q.Query(ctx, `SELECT `+playbookColumns+` FROM cases.playbooks WHERE agency_id = $1
		AND ($3 = '' OR (name, id) > ($2, nullif($3, '')::uuid)) ORDER BY name, id LIMIT $4`, agencyID, afterName, afterID, limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*Playbook
	for rows.Next() {
		p, err := scanPlaybook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, postgres.Translate(rows.Err())
}
