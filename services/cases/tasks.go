package cases

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/filter"
	"github.com/casebridge/casebridge/pkg/pagetoken"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/cases/internal/store"
)

// TaskServer implements casesv1.TaskServiceServer: tasks, their log,
// playbooks and "my tasks". It shares the Cases service's pool,
// authorizer and timeline.
type TaskServer struct {
	casesv1.UnimplementedTaskServiceServer
	s *Server
}

// NewTaskServer returns the task service over the Cases service s.
func NewTaskServer(s *Server) *TaskServer { return &TaskServer{s: s} }

func taskEtag(t *store.Task) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "task/%s/%d", t.ID, t.Version))
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

func taskStatusFromDB(s string) casesv1.TaskStatus {
	return casesv1.TaskStatus(casesv1.TaskStatus_value["TASK_STATUS_"+s])
}

func taskToProto(t *store.Task, now time.Time) *casesv1.Task {
	out := &casesv1.Task{
		Id: t.ID, CaseId: t.CaseID, CaseNumber: t.CaseNumber, Title: t.Title, Description: t.Description,
		Group: t.Group, Status: taskStatusFromDB(t.Status), AssigneeUserIds: t.AssigneeUserIDs,
		Order: t.Order, Mandatory: t.Mandatory, RequiresLog: t.RequiresLog,
		CreateTime: timestamppb.New(t.CreateTime), UpdateTime: timestamppb.New(t.UpdateTime),
		CreateUser: t.CreateUserEmail, UpdateUser: t.UpdateUserEmail, Etag: taskEtag(t),
	}
	if t.AssignedAgencyID != nil {
		out.AssignedAgencyId = *t.AssignedAgencyID
	}
	if t.PlaybookID != nil {
		out.PlaybookId = *t.PlaybookID
	}
	if t.DueTime != nil {
		out.DueTime = timestamppb.New(*t.DueTime)
		// Computed when read, never stored: it cannot go stale.
		out.Overdue = t.Open() && now.After(*t.DueTime)
	}
	return out
}

// authorizeTask decides act on task t: the policy on t's case and, for
// work by an agency other than the lead, that the task is assigned to the
// caller's agency or to the caller.
func (ts *TaskServer) authorizeTask(ctx context.Context, q postgres.Querier, p *auth.Principal, act string, t *store.Task) error {
	res := caseResource(t.CaseID)
	if err := ts.s.authz.Authorize(ctx, q, p, "task", act, res); err != nil {
		return err
	}
	if act != "work" {
		return nil
	}
	rels, err := authz.Held(ctx, q, p.AgencyID, res)
	if err != nil {
		return err
	}
	if slices.Contains(rels, authz.RelLead) ||
		(t.AssignedAgencyID != nil && *t.AssignedAgencyID == p.AgencyID) || slices.Contains(t.AssigneeUserIDs, p.UserID) {
		return nil
	}
	return fmt.Errorf("%w: the task is not assigned to %s or their agency", authz.ErrDenied, p.Email)
}

// checkAssignment refuses assignees who could not work the case: an
// assigned agency must hold lead or contributor on it, and every assignee
// must be an active user whose agency's relation lets their roles work
// tasks.
func (ts *TaskServer) checkAssignment(ctx context.Context, q postgres.Querier, caseID string, agencyID *string, users []string) error {
	res := caseResource(caseID)
	if agencyID != nil {
		rels, err := authz.Held(ctx, q, *agencyID, res)
		if err != nil {
			return err
		}
		if !slices.Contains(rels, authz.RelLead) && !slices.Contains(rels, authz.RelContributor) {
			return rpc.FieldError("task.assignedAgencyId", "that agency does not work this case (it must be the lead or a contributor)")
		}
	}
	if len(users) == 0 {
		return nil
	}
	found, err := store.ActiveUsers(ctx, q, users)
	if err != nil {
		return err
	}
	for _, id := range users {
		u, ok := found[id]
		if !ok {
			return rpc.FieldError("task.assigneeUserIds", fmt.Sprintf("no active user %s", id))
		}
		kind, err := store.AgencyKind(ctx, q, u.AgencyID)
		if err != nil {
			return err
		}
		rels, err := authz.Held(ctx, q, u.AgencyID, res)
		if err != nil {
			return err
		}
		can := false
		for _, rel := range rels {
			if ok, _ := ts.s.authz.Engine.Allowed(u.Roles, kind, rel, "task", "work"); ok {
				can = true
			}
		}
		if !can {
			return rpc.FieldError("task.assigneeUserIds", fmt.Sprintf("%s cannot work this case's tasks", u.Email))
		}
	}
	return nil
}

func optUUID(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(ts *timestamppb.Timestamp) *time.Time {
	if ts == nil {
		return nil
	}
	t := ts.AsTime().UTC().Truncate(time.Microsecond)
	return &t
}

func dedupe(ids []string) []string {
	out := []string{}
	for _, id := range ids {
		id = strings.ToLower(id)
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// CreateTask adds a task to a case.
func (ts *TaskServer) CreateTask(ctx context.Context, req *casesv1.CreateTaskRequest) (*casesv1.CreateTaskResponse, error) {
	s := ts.s
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "task", "create", caseResource(req.GetCaseId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	in := req.GetTask()
	now := s.timestamp()
	t := &store.Task{
		ID: uuid.NewString(), CaseID: req.GetCaseId(), Title: strings.TrimSpace(in.GetTitle()),
		Description: in.GetDescription(), Group: strings.TrimSpace(in.GetGroup()), Status: "WAITING",
		AssigneeUserIDs: dedupe(in.GetAssigneeUserIds()), AssignedAgencyID: optUUID(strings.ToLower(in.GetAssignedAgencyId())),
		DueTime: optTime(in.GetDueTime()), Order: in.GetOrder(), Mandatory: in.GetMandatory(), RequiresLog: in.GetRequiresLog(),
		CreateTime: now, UpdateTime: now, CreateUserEmail: p.Email, UpdateUserEmail: p.Email,
	}
	key := "CreateTask:" + req.GetCaseId()
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if req.GetRequestId() != "" {
			prev, err := store.Requests.Claim(ctx, tx, p.UserID, key, req.GetRequestId())
			if err != nil {
				return err
			}
			if prev != "" {
				if t, err = store.GetTask(ctx, tx, prev); err != nil {
					return err
				}
				annotate(ctx, "task", t.ID, t.CaseID)
				return audit.Write(ctx, tx)
			}
			if err := store.Requests.Complete(ctx, tx, p.UserID, key, req.GetRequestId(), t.ID); err != nil {
				return err
			}
		}
		c, err := store.LockCase(ctx, tx, t.CaseID) // queues behind a concurrent close
		if err != nil {
			return err
		}
		if c.Status == "CLOSED" {
			return status.Error(codes.FailedPrecondition, "the case is closed; reopen it to add tasks")
		}
		t.CaseNumber = c.CaseNumber
		if err := ts.checkAssignment(ctx, tx, t.CaseID, t.AssignedAgencyID, t.AssigneeUserIDs); err != nil {
			return err
		}
		if _, err := store.InsertTask(ctx, tx, t); err != nil {
			return err
		}
		if err := s.timeline(ctx, tx, p, t.CaseID, "SYSTEM", fmt.Sprintf("Task added: %s", t.Title), now); err != nil {
			return err
		}
		if err := ts.emitAssigned(ctx, tx, t); err != nil {
			return err
		}
		annotate(ctx, "task", t.ID, t.CaseID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &casesv1.CreateTaskResponse{Task: taskToProto(t, now)}, nil
}

func (ts *TaskServer) emitAssigned(ctx context.Context, tx pgx.Tx, t *store.Task) error {
	if err := scheduleDue(ctx, tx, t); err != nil {
		return err
	}
	if len(t.AssigneeUserIDs) == 0 && t.AssignedAgencyID == nil {
		return nil
	}
	e := Event{Kind: EventTaskAssigned, CaseID: t.CaseID, TaskID: t.ID, UserIDs: t.AssigneeUserIDs, Due: t.DueTime}
	if t.AssignedAgencyID != nil {
		e.AgencyID = *t.AssignedAgencyID
	}
	return ts.s.emit(ctx, tx, e)
}

// loadTask reads a task and decides act on it; an invisible task and a
// missing one both answer NOT_FOUND.
func (ts *TaskServer) loadTask(ctx context.Context, p *auth.Principal, id, act string) (*store.Task, error) {
	t, err := store.GetTask(ctx, ts.s.pool, id)
	if err != nil {
		return nil, err
	}
	if err := ts.authorizeTask(ctx, ts.s.pool, p, act, t); err != nil {
		return nil, err
	}
	return t, nil
}

// GetTask returns one task.
func (ts *TaskServer) GetTask(ctx context.Context, req *casesv1.GetTaskRequest) (*casesv1.GetTaskResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	t, err := ts.loadTask(ctx, p, req.GetTaskId(), "read")
	if err != nil {
		return nil, toStatus(ctx, ts.s.logger, err)
	}
	annotate(ctx, "task", t.ID, t.CaseID)
	return &casesv1.GetTaskResponse{Task: taskToProto(t, ts.s.timestamp())}, nil
}

// ListTasks lists a case's tasks in checklist order.
func (ts *TaskServer) ListTasks(ctx context.Context, req *casesv1.ListTasksRequest) (*casesv1.ListTasksResponse, error) {
	s := ts.s
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "task", "read", caseResource(req.GetCaseId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	bind := pagetoken.Bind("ListTasks", req.GetCaseId())
	keys, err := pagetoken.Decode(req.GetPageToken(), bind, 2)
	if err != nil {
		return nil, rpc.FieldError("pageToken", "invalid or issued for another case")
	}
	var afterOrder int64
	afterID := ""
	if keys != nil {
		if afterOrder, err = strconv.ParseInt(keys[0], 10, 32); err != nil || uuid.Validate(keys[1]) != nil {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
		afterID = keys[1]
	}
	limit := pagetoken.PageSize(req.GetPageSize())
	rows, err := store.ListCaseTasks(ctx, s.pool, req.GetCaseId(), int32(afterOrder), afterID, limit+1)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &casesv1.ListTasksResponse{}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		resp.NextPageToken = pagetoken.Encode(bind, strconv.Itoa(int(last.Order)), last.ID)
	}
	now := s.timestamp()
	for _, t := range rows {
		resp.Tasks = append(resp.Tasks, taskToProto(t, now))
	}
	annotate(ctx, "task", "", req.GetCaseId())
	return resp, nil
}

var taskFilterFields = []string{"assignee", "assigned_agency", "status", "case"}

// SearchTasks lists tasks across the cases the caller may read the tasks
// of, due first (overdue ones lead).
func (ts *TaskServer) SearchTasks(ctx context.Context, req *casesv1.SearchTasksRequest) (*casesv1.SearchTasksResponse, error) {
	s := ts.s
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	q := store.TaskQuery{AgencyID: p.AgencyID, Relations: s.authz.Permitting(p, "task", "read"),
		Limit: pagetoken.PageSize(req.GetPageSize())}
	terms, err := filter.Parse(req.GetFilter(), taskFilterFields...)
	if err != nil {
		return nil, rpc.FieldError("filter", err.Error())
	}
	for _, t := range terms {
		if t.Field == "" {
			return nil, rpc.FieldError("filter", "tasks have no text search; use assignee, assigned_agency, status or case")
		}
		if t.Field != "status" && t.Op != "=" {
			return nil, rpc.FieldError("filter", t.Field+" supports = only")
		}
		switch t.Field {
		case "assignee":
			v := t.Value
			if v == "me" {
				v, q.AgencyOf = p.UserID, p.AgencyID
			}
			if uuid.Validate(v) != nil || (q.Assignee != "" && q.Assignee != v) {
				return nil, rpc.FieldError("filter", fmt.Sprintf("assignee must be one user id or me, not %q", t.Value))
			}
			q.Assignee = v
		case "assigned_agency":
			v := t.Value
			if v == "me" {
				v = p.AgencyID
			}
			if uuid.Validate(v) != nil {
				return nil, rpc.FieldError("filter", fmt.Sprintf("assigned_agency must be an agency id or me, not %q", t.Value))
			}
			q.Agency = v
		case "case":
			if uuid.Validate(t.Value) != nil {
				return nil, rpc.FieldError("filter", fmt.Sprintf("case must be a case id, not %q", t.Value))
			}
			q.CaseID = t.Value
		case "status":
			v := strings.TrimPrefix(strings.ToUpper(t.Value), "TASK_STATUS_")
			if _, ok := casesv1.TaskStatus_value["TASK_STATUS_"+v]; !ok || v == "UNSPECIFIED" {
				return nil, rpc.FieldError("filter", fmt.Sprintf("unknown status %q (WAITING, IN_PROGRESS, COMPLETED, CANCELLED)", t.Value))
			}
			if t.Op == "=" {
				q.Status = append(q.Status, v)
			} else {
				q.NotStatus = append(q.NotStatus, v)
			}
		}
	}
	bind := pagetoken.Bind("SearchTasks", p.AgencyID, p.UserID, req.GetFilter())
	keys, err := pagetoken.Decode(req.GetPageToken(), bind, 2)
	if err != nil {
		return nil, rpc.FieldError("pageToken", "invalid or issued for a different filter; start again without a page token")
	}
	if keys != nil {
		if uuid.Validate(keys[1]) != nil {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
		if keys[0] != "" {
			d, err := time.Parse(time.RFC3339Nano, keys[0])
			if err != nil {
				return nil, rpc.FieldError("pageToken", "invalid page token")
			}
			q.AfterDue = &d
		}
		q.AfterID = keys[1]
	}
	rows, more, err := store.SearchTasks(ctx, s.pool, q)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &casesv1.SearchTasksResponse{}
	if more && len(rows) > 0 {
		last := rows[len(rows)-1]
		due := ""
		if last.DueTime != nil {
			due = last.DueTime.UTC().Format(time.RFC3339Nano)
		}
		resp.NextPageToken = pagetoken.Encode(bind, due, last.ID)
	}
	now := s.timestamp()
	var caseIDs []string
	for _, t := range rows {
		resp.Tasks = append(resp.Tasks, taskToProto(t, now))
		if !slices.Contains(caseIDs, t.CaseID) {
			caseIDs = append(caseIDs, t.CaseID)
		}
	}
	audit.Annotate(ctx, func(e *audit.Event) { e.ResourceType, e.ListedCaseIDs = "task", caseIDs })
	return resp, nil
}

// taskUpdatable maps update_mask paths (proto or JSON spelling) to fields.
var taskUpdatable = map[string]string{
	"title": "title", "description": "description", "group": "group",
	"assignee_user_ids": "assignees", "assigneeUserIds": "assignees",
	"assigned_agency_id": "agency", "assignedAgencyId": "agency",
	"due_time": "due", "dueTime": "due", "order": "order", "mandatory": "mandatory",
	"requires_log": "requires_log", "requiresLog": "requires_log",
}

// taskServerOwned are fields a client may send back unchanged but never
// changes through UpdateTask.
var taskServerOwned = map[string]bool{
	"id": true, "case_id": true, "caseId": true, "status": true, "overdue": true, "playbook_id": true,
	"playbookId": true, "case_number": true, "caseNumber": true, "create_time": true, "createTime": true,
	"update_time": true, "updateTime": true, "create_user": true, "createUser": true, "update_user": true,
	"updateUser": true, "etag": true,
}

// mutateTask locks the task, checks the etag, lets fn change it, saves it
// and audits, in one transaction. act was authorized on the task first.
func (ts *TaskServer) mutateTask(ctx context.Context, p *auth.Principal, id, act, wantEtag string,
	fn func(tx pgx.Tx, t *store.Task, now time.Time) error) (*store.Task, time.Time, error) {
	s := ts.s
	if _, err := ts.loadTask(ctx, p, id, act); err != nil {
		return nil, time.Time{}, err
	}
	var out *store.Task
	now := s.timestamp()
	err := postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		t, err := store.LockTask(ctx, tx, id)
		if err != nil {
			return err
		}
		if wantEtag != "" && wantEtag != taskEtag(t) {
			return store.ErrEtagMismatch
		}
		if err := fn(tx, t, now); err != nil {
			return err
		}
		t.UpdateTime, t.UpdateUserEmail = now, p.Email
		if err := store.SaveTask(ctx, tx, t); err != nil {
			return err
		}
		out = t
		annotate(ctx, "task", t.ID, t.CaseID)
		return audit.Write(ctx, tx)
	})
	return out, now, err
}

// UpdateTask changes the fields named in update_mask.
func (ts *TaskServer) UpdateTask(ctx context.Context, req *casesv1.UpdateTaskRequest) (*casesv1.UpdateTaskResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetTask()
	mask := map[string]bool{}
	for _, path := range req.GetUpdateMask().GetPaths() {
		if f, ok := taskUpdatable[path]; ok {
			mask[f] = true
			continue
		}
		if taskServerOwned[path] {
			continue
		}
		return nil, rpc.FieldError("updateMask", fmt.Sprintf("%q cannot be updated", path))
	}
	if len(mask) == 0 {
		return nil, rpc.FieldError("updateMask", "name at least one field to update")
	}
	if mask["title"] && strings.TrimSpace(in.GetTitle()) == "" {
		return nil, rpc.FieldError("task.title", "must not be empty")
	}
	out, now, err := ts.mutateTask(ctx, p, in.GetId(), "update", in.GetEtag(), func(tx pgx.Tx, t *store.Task, now time.Time) error {
		if mask["title"] {
			t.Title = strings.TrimSpace(in.GetTitle())
		}
		if mask["description"] {
			t.Description = in.GetDescription()
		}
		if mask["group"] {
			t.Group = strings.TrimSpace(in.GetGroup())
		}
		if mask["due"] {
			t.DueTime = optTime(in.GetDueTime())
		}
		if mask["order"] {
			t.Order = in.GetOrder()
		}
		if mask["mandatory"] {
			t.Mandatory = in.GetMandatory()
		}
		if mask["requires_log"] {
			t.RequiresLog = in.GetRequiresLog()
		}
		if !mask["assignees"] && !mask["agency"] {
			if mask["due"] {
				return scheduleDue(ctx, tx, t)
			}
			return nil
		}
		if mask["assignees"] {
			t.AssigneeUserIDs = dedupe(in.GetAssigneeUserIds())
		}
		if mask["agency"] {
			t.AssignedAgencyID = optUUID(strings.ToLower(in.GetAssignedAgencyId()))
		}
		if err := ts.checkAssignment(ctx, tx, t.CaseID, t.AssignedAgencyID, t.AssigneeUserIDs); err != nil {
			return err
		}
		return ts.emitAssigned(ctx, tx, t)
	})
	if err != nil {
		return nil, toStatus(ctx, ts.s.logger, err)
	}
	return &casesv1.UpdateTaskResponse{Task: taskToProto(out, now)}, nil
}

// transition moves a task from one of from to to, logging note (when
// given) and writing the change to the case timeline.
func (ts *TaskServer) transition(ctx context.Context, id, etag, to, note string, from ...string) (*store.Task, time.Time, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	return ts.mutateTask(ctx, p, id, "work", etag, func(tx pgx.Tx, t *store.Task, now time.Time) error {
		if !slices.Contains(from, t.Status) {
			return status.Errorf(codes.FailedPrecondition, "a %s task cannot become %s", t.Status, to)
		}
		if to == "COMPLETED" && t.RequiresLog && strings.TrimSpace(note) == "" {
			return rpc.FieldError("note", "this task needs a log entry to be completed: say what was done")
		}
		if strings.TrimSpace(note) != "" {
			a := actor(p)
			if err := store.InsertTaskLog(ctx, tx, &store.TaskLogEntry{ID: uuid.NewString(), TaskID: t.ID, Body: note,
				AuthorUserID: a.UserID, AuthorEmail: a.Email, AgencyID: a.AgencyID, CreateTime: now}); err != nil {
				return err
			}
		}
		body := fmt.Sprintf("Task %q: %s → %s", t.Title, t.Status, to)
		t.Status = to
		return ts.s.timeline(ctx, tx, p, t.CaseID, "STATUS_CHANGE", body, now)
	})
}

// StartTask moves a waiting task to IN_PROGRESS.
func (ts *TaskServer) StartTask(ctx context.Context, req *casesv1.StartTaskRequest) (*casesv1.StartTaskResponse, error) {
	t, now, err := ts.transition(ctx, req.GetTaskId(), req.GetEtag(), "IN_PROGRESS", "", "WAITING")
	if err != nil {
		return nil, toStatus(ctx, ts.s.logger, err)
	}
	return &casesv1.StartTaskResponse{Task: taskToProto(t, now)}, nil
}

// CompleteTask completes an open task.
func (ts *TaskServer) CompleteTask(ctx context.Context, req *casesv1.CompleteTaskRequest) (*casesv1.CompleteTaskResponse, error) {
	t, now, err := ts.transition(ctx, req.GetTaskId(), req.GetEtag(), "COMPLETED", req.GetNote(), "WAITING", "IN_PROGRESS")
	if err != nil {
		return nil, toStatus(ctx, ts.s.logger, err)
	}
	return &casesv1.CompleteTaskResponse{Task: taskToProto(t, now)}, nil
}

// CancelTask cancels an open task with a reason.
func (ts *TaskServer) CancelTask(ctx context.Context, req *casesv1.CancelTaskRequest) (*casesv1.CancelTaskResponse, error) {
	t, now, err := ts.transition(ctx, req.GetTaskId(), req.GetEtag(), "CANCELLED", "Cancelled: "+req.GetReason(), "WAITING", "IN_PROGRESS")
	if err != nil {
		return nil, toStatus(ctx, ts.s.logger, err)
	}
	return &casesv1.CancelTaskResponse{Task: taskToProto(t, now)}, nil
}

// CreateTaskLogEntry appends to a task's log.
func (ts *TaskServer) CreateTaskLogEntry(ctx context.Context, req *casesv1.CreateTaskLogEntryRequest) (*casesv1.CreateTaskLogEntryResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	t, err := ts.loadTask(ctx, p, req.GetTaskId(), "work")
	if err != nil {
		return nil, toStatus(ctx, ts.s.logger, err)
	}
	a := actor(p)
	e := &store.TaskLogEntry{ID: uuid.NewString(), TaskID: t.ID, Body: req.GetEntry().GetBody(),
		AuthorUserID: a.UserID, AuthorEmail: a.Email, AgencyID: a.AgencyID, CreateTime: ts.s.timestamp()}
	err = postgres.WithTx(ctx, ts.s.pool, func(tx pgx.Tx) error {
		if err := store.InsertTaskLog(ctx, tx, e); err != nil {
			return err
		}
		annotate(ctx, "task", t.ID, t.CaseID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, ts.s.logger, err)
	}
	return &casesv1.CreateTaskLogEntryResponse{Entry: logToProto(e)}, nil
}

func logToProto(e *store.TaskLogEntry) *casesv1.TaskLogEntry {
	return &casesv1.TaskLogEntry{Id: e.ID, TaskId: e.TaskID, Body: e.Body, AuthorUserId: e.AuthorUserID,
		AuthorEmail: e.AuthorEmail, AgencyId: e.AgencyID, CreateTime: timestamppb.New(e.CreateTime)}
}

// ListTaskLogEntries returns a task's log, oldest first.
func (ts *TaskServer) ListTaskLogEntries(ctx context.Context, req *casesv1.ListTaskLogEntriesRequest) (*casesv1.ListTaskLogEntriesResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	t, err := ts.loadTask(ctx, p, req.GetTaskId(), "read")
	if err != nil {
		return nil, toStatus(ctx, ts.s.logger, err)
	}
	bind := pagetoken.Bind("ListTaskLogEntries", t.ID)
	keys, err := pagetoken.Decode(req.GetPageToken(), bind, 1)
	if err != nil {
		return nil, rpc.FieldError("pageToken", "invalid or issued for another task")
	}
	var after int64
	if keys != nil {
		if after, err = strconv.ParseInt(keys[0], 10, 64); err != nil {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
	}
	limit := pagetoken.PageSize(req.GetPageSize())
	rows, err := store.ListTaskLog(ctx, ts.s.pool, t.ID, after, limit+1)
	if err != nil {
		return nil, toStatus(ctx, ts.s.logger, err)
	}
	resp := &casesv1.ListTaskLogEntriesResponse{}
	if len(rows) > limit {
		rows = rows[:limit]
		resp.NextPageToken = pagetoken.Encode(bind, strconv.FormatInt(rows[limit-1].Seq, 10))
	}
	for _, e := range rows {
		resp.Entries = append(resp.Entries, logToProto(e))
	}
	annotate(ctx, "task", t.ID, t.CaseID)
	return resp, nil
}
