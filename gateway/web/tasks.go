package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
)

// Tasks, playbooks and legal process pages (issue 17): the checklist by
// phase and the legal process with its countdowns on the case page, My
// tasks, and the agency's playbooks.

func init() {
	funcs["tlabel"] = func(v any) string {
		s := fmt.Sprint(v)
		for _, p := range []string{"TASK_STATUS_", "LEGAL_PROCESS_KIND_", "LEGAL_PROCESS_STATUS_"} {
			s = strings.TrimPrefix(s, p)
		}
		return label(s)
	}
	funcs["countdown"] = countdown
	funcs["hours"] = func(sec int64) string { return strconv.FormatFloat(float64(sec)/3600, 'f', -1, 64) }
}

// countdown says in words how far ts is from now: "in 90 days", "in 5
// hours", "3 days ago".
func countdown(ts *timestamppb.Timestamp) string {
	if ts == nil || ts.GetSeconds() == 0 {
		return ""
	}
	d := time.Until(ts.AsTime())
	past := d < 0
	if past {
		d = -d
	}
	var s string
	switch {
	case d >= 48*time.Hour:
		s = fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		s = fmt.Sprintf("%d hours", int(d.Hours()))
	default:
		s = fmt.Sprintf("%d minutes", int(d.Minutes()))
	}
	if past {
		return s + " ago"
	}
	return "in " + s
}

// taskGroup is one phase of the checklist.
type taskGroup struct {
	Name  string
	Tasks []*casesv1.Task
}

// groupTasks groups tasks (in checklist order) by phase, phases in the
// order their first task appears.
func groupTasks(tasks []*casesv1.Task) []taskGroup {
	var out []taskGroup
	idx := map[string]int{}
	for _, t := range tasks {
		i, ok := idx[t.GetGroup()]
		if !ok {
			i = len(out)
			idx[t.GetGroup()] = i
			out = append(out, taskGroup{Name: t.GetGroup()})
		}
		out[i].Tasks = append(out[i].Tasks, t)
	}
	return out
}

// caseWork adds the case page's checklist, legal process and (for the
// lead) the playbooks that can be applied.
func (a *App) caseWork(ctx context.Context, id string, data map[string]any) {
	tasks, err := a.tasks.ListTasks(ctx, &casesv1.ListTasksRequest{CaseId: id, PageSize: 100})
	if err == nil {
		data["Tasks"] = section{Items: groupTasks(tasks.GetTasks())}
	} else {
		data["Tasks"] = sectionOf(nil, err)
	}
	lp, err := a.legal.ListLegalProcess(ctx, &casesv1.ListLegalProcessRequest{CaseId: id, PageSize: 100})
	data["Legal"] = sectionOf(lp.GetLegalProcess(), err)
	data["LegalKinds"] = enumNames(casesv1.LegalProcessKind_name)
	if data["Lead"] == true {
		if pbs, err := a.tasks.ListPlaybooks(ctx, &casesv1.ListPlaybooksRequest{PageSize: 100}); err == nil {
			data["Playbooks"] = pbs.GetPlaybooks()
		}
	}
	if _, ok := data["TaskForm"]; !ok {
		data["TaskForm"] = map[string]string{"request_id": uuid.NewString()}
	}
	if _, ok := data["LegalForm"]; !ok {
		data["LegalForm"] = map[string]string{}
	}
}

// dayEnd parses a YYYY-MM-DD date as the end of that day UTC; "" is nil.
func dayEnd(v string) (*timestamppb.Timestamp, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return nil, err
	}
	return timestamppb.New(t.Add(24*time.Hour - time.Second)), nil
}

func badField(field, msg string) *problem {
	return &problem{Status: 400, Message: "Please correct the fields marked below.", Fields: map[string]string{field: msg}}
}

func (a *App) addTask(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "request_id", "task.title", "task.group", "task.dueTime", "task.assignedAgencyId", "task.mandatory")
	due, err := dayEnd(f["task.dueTime"])
	if err != nil {
		a.renderCase(w, r, s, http.StatusBadRequest, map[string]any{"TaskForm": f, "TaskProblem": badField("task.dueTime", "give a date as YYYY-MM-DD")})
		return
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	_, err = a.tasks.CreateTask(ctx, &casesv1.CreateTaskRequest{CaseId: r.PathValue("id"), RequestId: f["request_id"],
		Task: &casesv1.Task{Title: f["task.title"], Group: f["task.group"], DueTime: due,
			AssignedAgencyId: f["task.assignedAgencyId"], Mandatory: f["task.mandatory"] == "on"}})
	a.afterWrite(w, r, s, err, "Task", f, "#tasks")
}

func (a *App) applyPlaybook(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	_, err := a.tasks.ApplyPlaybook(ctx, &casesv1.ApplyPlaybookRequest{CaseId: r.PathValue("id"), PlaybookId: r.PostFormValue("playbookId")})
	a.afterWrite(w, r, s, err, "Task", nil, "#tasks")
}

// taskAction starts, completes, cancels or assigns a task of the case.
func (a *App) taskAction(w http.ResponseWriter, r *http.Request, s *session) {
	tid, etag := r.PathValue("tid"), r.PostFormValue("etag")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	var err error
	switch r.PathValue("action") {
	case "start":
		_, err = a.tasks.StartTask(ctx, &casesv1.StartTaskRequest{TaskId: tid, Etag: etag})
	case "complete":
		_, err = a.tasks.CompleteTask(ctx, &casesv1.CompleteTaskRequest{TaskId: tid, Etag: etag, Note: r.PostFormValue("note")})
	case "cancel":
		_, err = a.tasks.CancelTask(ctx, &casesv1.CancelTaskRequest{TaskId: tid, Etag: etag, Reason: r.PostFormValue("reason")})
	case "assign":
		_, err = a.tasks.UpdateTask(ctx, &casesv1.UpdateTaskRequest{Task: &casesv1.Task{Id: tid, Etag: etag,
			AssignedAgencyId: r.PostFormValue("assignedAgencyId")}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"assigned_agency_id"}}})
	default:
		http.NotFound(w, r)
		return
	}
	if next := r.PostFormValue("next"); err == nil && next == "/tasks" {
		a.redirect(w, r, "/tasks")
		return
	}
	a.afterWrite(w, r, s, err, "Task", nil, "#task-"+tid)
}

func (a *App) addLegal(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "legalProcess.kind", "legalProcess.recipient", "legalProcess.identifier", "legalProcess.serveTime")
	lp := &casesv1.LegalProcess{Kind: casesv1.LegalProcessKind(casesv1.LegalProcessKind_value[f["legalProcess.kind"]]),
		Recipient: f["legalProcess.recipient"], Identifier: f["legalProcess.identifier"]}
	if v := f["legalProcess.serveTime"]; v != "" {
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			a.renderCase(w, r, s, http.StatusBadRequest, map[string]any{"LegalForm": f, "LegalProblem": badField("legalProcess.serveTime", "give a date as YYYY-MM-DD")})
			return
		}
		// Served that day: noon UTC, or now when it is today.
		st := t.Add(12 * time.Hour)
		if now := time.Now().UTC(); st.After(now) {
			st = now
		}
		lp.ServeTime = timestamppb.New(st)
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	_, err := a.legal.CreateLegalProcess(ctx, &casesv1.CreateLegalProcessRequest{CaseId: r.PathValue("id"), LegalProcess: lp})
	a.afterWrite(w, r, s, err, "Legal", f, "#legal")
}

func (a *App) legalAction(w http.ResponseWriter, r *http.Request, s *session) {
	lid, etag := r.PathValue("lid"), r.PostFormValue("etag")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	var err error
	switch r.PathValue("action") {
	case "extend":
		_, err = a.legal.ExtendLegalProcess(ctx, &casesv1.ExtendLegalProcessRequest{LegalProcessId: lid, Etag: etag})
	case "serve", "return":
		st := casesv1.LegalProcessStatus_LEGAL_PROCESS_STATUS_SERVED
		if r.PathValue("action") == "return" {
			st = casesv1.LegalProcessStatus_LEGAL_PROCESS_STATUS_RETURNED
		}
		_, err = a.legal.UpdateLegalProcess(ctx, &casesv1.UpdateLegalProcessRequest{LegalProcess: &casesv1.LegalProcess{Id: lid, Etag: etag, Status: st},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}}})
	default:
		http.NotFound(w, r)
		return
	}
	a.afterWrite(w, r, s, err, "Legal", nil, "#legal")
}

// myTasks lists the open tasks assigned to the user or (without named
// assignees) to their agency, across cases, overdue first.
func (a *App) myTasks(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	data := map[string]any{}
	resp, err := a.tasks.SearchTasks(ctx, &casesv1.SearchTasksRequest{PageSize: 100, PageToken: r.URL.Query().Get("page"),
		Filter: "assignee = me AND status != COMPLETED AND status != CANCELLED"})
	if err != nil {
		data["Problem"] = problemOf(err)
		a.render(w, r, problemOf(err).Status, "tasks", s, data)
		return
	}
	data["Tasks"] = resp.GetTasks()
	if t := resp.GetNextPageToken(); t != "" {
		data["Next"] = "/tasks?page=" + t
	}
	a.render(w, r, http.StatusOK, "tasks", s, data)
}

func (a *App) listPlaybooks(w http.ResponseWriter, r *http.Request, s *session) {
	a.renderPlaybooks(w, r, s, http.StatusOK, map[string]any{"Form": map[string]string{}})
}

func (a *App) renderPlaybooks(w http.ResponseWriter, r *http.Request, s *session, code int, data map[string]any) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	resp, err := a.tasks.ListPlaybooks(ctx, &casesv1.ListPlaybooksRequest{PageSize: 100})
	data["Playbooks"] = sectionOf(resp.GetPlaybooks(), err)
	data["Classifications"] = enumNames(casesv1.Classification_name)
	data["Priorities"] = enumNames(casesv1.Priority_name)
	a.render(w, r, code, "playbooks", s, data)
}

// parsePlaybookTasks reads the task lines of the playbook form:
// "phase | title | hours after opening | mandatory" (the last two
// optional).
func parsePlaybookTasks(text string) ([]*casesv1.PlaybookTask, error) {
	var out []*casesv1.PlaybookTask
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		parts := strings.Split(line, "|")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		if len(parts) < 2 || parts[1] == "" {
			return nil, fmt.Errorf("line %d: write phase | title | hours | mandatory", n+1)
		}
		t := &casesv1.PlaybookTask{Key: fmt.Sprintf("t%d", len(out)+1), Group: parts[0], Title: parts[1]}
		if len(parts) > 2 && parts[2] != "" {
			h, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(parts[2], "+"), "h"), 64)
			if err != nil || h < 0 {
				return nil, fmt.Errorf("line %d: hours after opening must be a number, like 24", n+1)
			}
			t.DueOffsetSeconds = int64(h * 3600)
		}
		if len(parts) > 3 {
			t.Mandatory = strings.EqualFold(parts[3], "mandatory") || strings.EqualFold(parts[3], "yes")
		}
		out = append(out, t)
	}
	return out, nil
}

func (a *App) createPlaybook(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "playbook.name", "playbook.titlePrefix", "playbook.defaultPriority", "playbook.tasks")
	tasks, err := parsePlaybookTasks(f["playbook.tasks"])
	if err != nil {
		a.renderPlaybooks(w, r, s, http.StatusBadRequest, map[string]any{"Form": f, "Problem": badField("playbook.tasks", err.Error())})
		return
	}
	pb := &casesv1.Playbook{Name: f["playbook.name"], TitlePrefix: f["playbook.titlePrefix"], Tasks: tasks,
		DefaultPriority: casesv1.Priority(casesv1.Priority_value[f["playbook.defaultPriority"]])}
	_ = r.ParseForm()
	for _, c := range r.PostForm["playbook.classifications"] {
		pb.Classifications = append(pb.Classifications, casesv1.Classification(casesv1.Classification_value[c]))
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	if _, err := a.tasks.CreatePlaybook(ctx, &casesv1.CreatePlaybookRequest{Playbook: pb}); err != nil {
		p := problemOf(err)
		a.renderPlaybooks(w, r, s, p.Status, map[string]any{"Form": f, "Problem": p})
		return
	}
	a.redirect(w, r, "/playbooks")
}

// playbookChoices are the user's agency's playbooks for the new-case form
// (none when the API refuses).
func (a *App) playbookChoices(r *http.Request, s *session) []*casesv1.Playbook {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	resp, err := a.tasks.ListPlaybooks(ctx, &casesv1.ListPlaybooksRequest{PageSize: 100})
	if err != nil {
		return nil
	}
	return resp.GetPlaybooks()
}

// playbookText writes a playbook's tasks in the form's line format.
func playbookText(tasks []*casesv1.PlaybookTask) string {
	var b strings.Builder
	for _, t := range tasks {
		fmt.Fprintf(&b, "%s | %s | %s", t.GetGroup(), t.GetTitle(), strconv.FormatFloat(float64(t.GetDueOffsetSeconds())/3600, 'f', -1, 64))
		if t.GetMandatory() {
			b.WriteString(" | mandatory")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// keepKeys gives edited tasks the keys of the old tasks with the same
// title (so applying the edited playbook to a case that had it adds only
// the new tasks) and fresh keys to new ones; requires_log and descriptions
// carry over too, as the form does not show them.
func keepKeys(old, edited []*casesv1.PlaybookTask) {
	byTitle := map[string]*casesv1.PlaybookTask{}
	taken := map[string]bool{}
	for _, t := range old {
		byTitle[t.GetTitle()] = t
		taken[t.GetKey()] = true
	}
	given := map[string]bool{}
	for _, t := range edited {
		t.Key = ""
		if o, ok := byTitle[t.GetTitle()]; ok && !given[o.GetKey()] {
			t.Key, t.RequiresLog, t.Description = o.GetKey(), o.GetRequiresLog(), o.GetDescription()
			given[t.Key] = true
		}
	}
	n := 0
	for _, t := range edited {
		for t.Key == "" {
			n++
			if k := fmt.Sprintf("t%d", n); !taken[k] && !given[k] {
				t.Key, given[k] = k, true
			}
		}
	}
}

func (a *App) showPlaybook(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	got, err := a.tasks.GetPlaybook(ctx, &casesv1.GetPlaybookRequest{PlaybookId: r.PathValue("pid")})
	if err != nil {
		a.fail(w, r, s, err)
		return
	}
	pb := got.GetPlaybook()
	a.renderPlaybook(w, r, s, http.StatusOK, pb, map[string]string{"playbook.name": pb.GetName(), "playbook.titlePrefix": pb.GetTitlePrefix(),
		"playbook.defaultPriority": pb.GetDefaultPriority().String(), "playbook.tasks": playbookText(pb.GetTasks())}, nil)
}

func (a *App) renderPlaybook(w http.ResponseWriter, r *http.Request, s *session, code int, pb *casesv1.Playbook, form map[string]string, p *problem) {
	classes := map[string]bool{}
	for _, c := range pb.GetClassifications() {
		classes[c.String()] = true
	}
	a.render(w, r, code, "playbook", s, map[string]any{"Playbook": pb, "Form": form, "Problem": p, "Selected": classes,
		"Classifications": enumNames(casesv1.Classification_name), "Priorities": enumNames(casesv1.Priority_name)})
}

// updatePlaybook saves the edit form: every field, the task list whole.
func (a *App) updatePlaybook(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "etag", "playbook.name", "playbook.titlePrefix", "playbook.defaultPriority", "playbook.tasks")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	got, err := a.tasks.GetPlaybook(ctx, &casesv1.GetPlaybookRequest{PlaybookId: r.PathValue("pid")})
	if err != nil {
		a.fail(w, r, s, err)
		return
	}
	old := got.GetPlaybook()
	tasks, err := parsePlaybookTasks(f["playbook.tasks"])
	if err != nil {
		a.renderPlaybook(w, r, s, http.StatusBadRequest, old, f, badField("playbook.tasks", err.Error()))
		return
	}
	keepKeys(old.GetTasks(), tasks)
	pb := &casesv1.Playbook{Id: old.GetId(), Etag: f["etag"], Name: f["playbook.name"], TitlePrefix: f["playbook.titlePrefix"], Tasks: tasks,
		DefaultPriority: casesv1.Priority(casesv1.Priority_value[f["playbook.defaultPriority"]])}
	for _, c := range r.PostForm["playbook.classifications"] {
		pb.Classifications = append(pb.Classifications, casesv1.Classification(casesv1.Classification_value[c]))
	}
	_, err = a.tasks.UpdatePlaybook(ctx, &casesv1.UpdatePlaybookRequest{Playbook: pb,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name", "title_prefix", "default_priority", "classifications", "tasks"}}})
	if err != nil {
		p := problemOf(err)
		a.renderPlaybook(w, r, s, p.Status, old, f, p)
		return
	}
	a.redirect(w, r, "/playbooks")
}
