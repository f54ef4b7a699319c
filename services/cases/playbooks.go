package cases

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
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
	"github.com/casebridge/casebridge/pkg/pagetoken"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/cases/internal/store"
)

func playbookEtag(p *store.Playbook) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "playbook/%s/%d", p.ID, p.Version))
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

func playbookToProto(p *store.Playbook) *casesv1.Playbook {
	out := &casesv1.Playbook{Id: p.ID, AgencyId: p.AgencyID, Name: p.Name, TitlePrefix: p.TitlePrefix,
		DefaultPriority: priorityFromDB(p.DefaultPriority), CreateTime: timestamppb.New(p.CreateTime),
		UpdateTime: timestamppb.New(p.UpdateTime), UpdateUser: p.UpdateUserEmail, Etag: playbookEtag(p)}
	for _, c := range p.Classifications {
		out.Classifications = append(out.Classifications, classificationFromDB(c))
	}
	for _, t := range p.Tasks {
		out.Tasks = append(out.Tasks, &casesv1.PlaybookTask{Key: t.Key, Title: t.Title, Description: t.Description,
			Group: t.Group, Mandatory: t.Mandatory, RequiresLog: t.RequiresLog, DueOffsetSeconds: t.DueOffsetSeconds})
	}
	return out
}

// playbookFields copies the template fields named in mask (all with nil).
func playbookFields(dst *store.Playbook, in *casesv1.Playbook, mask map[string]bool) error {
	want := func(f string) bool { return mask == nil || mask[f] }
	if want("name") {
		dst.Name = strings.TrimSpace(in.GetName())
		if dst.Name == "" {
			return rpc.FieldError("playbook.name", "is required")
		}
	}
	if want("classifications") {
		dst.Classifications = nil
		for _, c := range in.GetClassifications() {
			if c != casesv1.Classification_CLASSIFICATION_UNSPECIFIED {
				dst.Classifications = append(dst.Classifications, classificationToDB(c))
			}
		}
	}
	if want("title_prefix") {
		dst.TitlePrefix = in.GetTitlePrefix()
	}
	if want("default_priority") {
		dst.DefaultPriority = priorityToDB(in.GetDefaultPriority())
	}
	if want("tasks") {
		dst.Tasks = nil
		seen := map[string]bool{}
		for i, t := range in.GetTasks() {
			if seen[t.GetKey()] {
				return rpc.FieldError(fmt.Sprintf("playbook.tasks[%d].key", i), fmt.Sprintf("%q appears twice", t.GetKey()))
			}
			seen[t.GetKey()] = true
			dst.Tasks = append(dst.Tasks, store.PlaybookTask{Key: t.GetKey(), Title: strings.TrimSpace(t.GetTitle()),
				Description: t.GetDescription(), Group: t.GetGroup(), Mandatory: t.GetMandatory(),
				RequiresLog: t.GetRequiresLog(), DueOffsetSeconds: t.GetDueOffsetSeconds()})
		}
	}
	return nil
}

// CreatePlaybook adds a playbook to the caller's agency.
func (ts *TaskServer) CreatePlaybook(ctx context.Context, req *casesv1.CreatePlaybookRequest) (*casesv1.CreatePlaybookResponse, error) {
	s := ts.s
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, p.AgencyID, "playbook", "manage"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	now := s.timestamp()
	pb := &store.Playbook{ID: uuid.NewString(), AgencyID: p.AgencyID, CreateTime: now, UpdateTime: now, UpdateUserEmail: p.Email}
	if err := playbookFields(pb, req.GetPlaybook(), nil); err != nil {
		return nil, err
	}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if rid := req.GetRequestId(); rid != "" {
			prev, err := store.Requests.Claim(ctx, tx, p.UserID, "CreatePlaybook", rid)
			if err != nil {
				return err
			}
			if prev != "" {
				if pb, err = store.GetPlaybook(ctx, tx, p.AgencyID, prev); err != nil {
					return err
				}
				annotate(ctx, "playbook", pb.ID, "")
				return audit.Write(ctx, tx)
			}
			if err := store.Requests.Complete(ctx, tx, p.UserID, "CreatePlaybook", rid, pb.ID); err != nil {
				return err
			}
		}
		if err := store.InsertPlaybook(ctx, tx, pb, false); err != nil {
			return err
		}
		annotate(ctx, "playbook", pb.ID, "")
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &casesv1.CreatePlaybookResponse{Playbook: playbookToProto(pb)}, nil
}

// GetPlaybook returns one of the caller's agency's playbooks; another
// agency's answer NOT_FOUND.
func (ts *TaskServer) GetPlaybook(ctx context.Context, req *casesv1.GetPlaybookRequest) (*casesv1.GetPlaybookResponse, error) {
	s := ts.s
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, p.AgencyID, "playbook", "read"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	pb, err := store.GetPlaybook(ctx, s.pool, p.AgencyID, req.GetPlaybookId())
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	annotate(ctx, "playbook", pb.ID, "")
	return &casesv1.GetPlaybookResponse{Playbook: playbookToProto(pb)}, nil
}

// ListPlaybooks lists the caller's agency's playbooks by name.
func (ts *TaskServer) ListPlaybooks(ctx context.Context, req *casesv1.ListPlaybooksRequest) (*casesv1.ListPlaybooksResponse, error) {
	s := ts.s
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, p.AgencyID, "playbook", "read"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	bind := pagetoken.Bind("ListPlaybooks", p.AgencyID)
	keys, err := pagetoken.Decode(req.GetPageToken(), bind, 2)
	if err != nil {
		return nil, rpc.FieldError("pageToken", "invalid page token")
	}
	afterName, afterID := "", ""
	if keys != nil {
		if uuid.Validate(keys[1]) != nil {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
		afterName, afterID = keys[0], keys[1]
	}
	limit := pagetoken.PageSize(req.GetPageSize())
	rows, err := store.ListPlaybooks(ctx, s.pool, p.AgencyID, afterName, afterID, limit+1)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &casesv1.ListPlaybooksResponse{}
	if len(rows) > limit {
		rows = rows[:limit]
		resp.NextPageToken = pagetoken.Encode(bind, rows[limit-1].Name, rows[limit-1].ID)
	}
	for _, pb := range rows {
		resp.Playbooks = append(resp.Playbooks, playbookToProto(pb))
	}
	return resp, nil
}

var playbookUpdatable = map[string]string{
	"name": "name", "classifications": "classifications", "title_prefix": "title_prefix", "titlePrefix": "title_prefix",
	"default_priority": "default_priority", "defaultPriority": "default_priority", "tasks": "tasks",
}

var playbookServerOwned = map[string]bool{"id": true, "agency_id": true, "agencyId": true, "create_time": true,
	"createTime": true, "update_time": true, "updateTime": true, "update_user": true, "updateUser": true, "etag": true}

// UpdatePlaybook changes the fields named in update_mask.
func (ts *TaskServer) UpdatePlaybook(ctx context.Context, req *casesv1.UpdatePlaybookRequest) (*casesv1.UpdatePlaybookResponse, error) {
	s := ts.s
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetPlaybook()
	mask := map[string]bool{}
	for _, path := range req.GetUpdateMask().GetPaths() {
		if f, ok := playbookUpdatable[path]; ok {
			mask[f] = true
		} else if !playbookServerOwned[path] {
			return nil, rpc.FieldError("updateMask", fmt.Sprintf("%q cannot be updated", path))
		}
	}
	if len(mask) == 0 {
		return nil, rpc.FieldError("updateMask", "name at least one field to update")
	}
	if err := s.authz.AuthorizeAgency(p, p.AgencyID, "playbook", "manage"); err != nil {
		// A playbook of the caller's agency is visible to readers: deny;
		// otherwise not found.
		if _, gerr := store.GetPlaybook(ctx, s.pool, p.AgencyID, in.GetId()); gerr != nil {
			return nil, toStatus(ctx, s.logger, gerr)
		}
		return nil, toStatus(ctx, s.logger, err)
	}
	var out *store.Playbook
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		pb, err := store.LockPlaybook(ctx, tx, p.AgencyID, in.GetId())
		if err != nil {
			return err
		}
		if in.GetEtag() != "" && in.GetEtag() != playbookEtag(pb) {
			return store.ErrEtagMismatch
		}
		if err := playbookFields(pb, in, mask); err != nil {
			return err
		}
		pb.UpdateTime, pb.UpdateUserEmail = s.timestamp(), p.Email
		if err := store.SavePlaybook(ctx, tx, pb); err != nil {
			return err
		}
		out = pb
		annotate(ctx, "playbook", pb.ID, "")
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &casesv1.UpdatePlaybookResponse{Playbook: playbookToProto(out)}, nil
}

// applyPlaybook adds pb's tasks to case c in tx, due relative to the
// case's opening; entries added before (same playbook, same key) are
// skipped, so applying twice adds nothing. It returns the tasks added.
func (s *Server) applyPlaybook(ctx context.Context, tx pgx.Tx, p *auth.Principal, c *store.Case, pb *store.Playbook, now time.Time) ([]*store.Task, error) {
	var added []*store.Task
	for i, pt := range pb.Tasks {
		key := pt.Key
		t := &store.Task{ID: uuid.NewString(), CaseID: c.ID, CaseNumber: c.CaseNumber, Title: pt.Title,
			Description: pt.Description, Group: pt.Group, Status: "WAITING", Order: int32((i + 1) * 10),
			Mandatory: pt.Mandatory, RequiresLog: pt.RequiresLog, PlaybookID: &pb.ID, TemplateKey: &key,
			CreateTime: now, UpdateTime: now, CreateUserEmail: p.Email, UpdateUserEmail: p.Email}
		if pt.DueOffsetSeconds > 0 {
			d := c.CreateTime.Add(time.Duration(pt.DueOffsetSeconds) * time.Second)
			t.DueTime = &d
		}
		ok, err := store.InsertTask(ctx, tx, t)
		if err != nil {
			return nil, err
		}
		if ok {
			added = append(added, t)
			if err := scheduleDue(ctx, tx, t); err != nil {
				return nil, err
			}
		}
	}
	if len(added) > 0 {
		body := fmt.Sprintf("Playbook %q applied: %d tasks added", pb.Name, len(added))
		if err := s.timeline(ctx, tx, p, c.ID, "SYSTEM", body, now); err != nil {
			return nil, err
		}
	}
	return added, nil
}

// ApplyPlaybook adds one of the caller's agency's playbooks' tasks to a
// case.
func (ts *TaskServer) ApplyPlaybook(ctx context.Context, req *casesv1.ApplyPlaybookRequest) (*casesv1.ApplyPlaybookResponse, error) {
	s := ts.s
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "task", "create", caseResource(req.GetCaseId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &casesv1.ApplyPlaybookResponse{}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		pb, err := s.playbookFor(ctx, tx, p, req.GetPlaybookId())
		if err != nil {
			return err
		}
		c, err := store.LockCase(ctx, tx, req.GetCaseId())
		if err != nil {
			return err
		}
		if c.Status == "CLOSED" {
			return status.Error(codes.FailedPrecondition, "the case is closed; reopen it to add tasks")
		}
		now := s.timestamp()
		added, err := s.applyPlaybook(ctx, tx, p, c, pb, now)
		if err != nil {
			return err
		}
		for _, t := range added {
			resp.Added = append(resp.Added, taskToProto(t, now))
		}
		annotate(ctx, "case", c.ID, c.ID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return resp, nil
}

// playbookFor returns the caller's agency's playbook id for opening a case
// with it; an unknown one (or another agency's) is a bad playbookId.
func (s *Server) playbookFor(ctx context.Context, q postgres.Querier, p *auth.Principal, id string) (*store.Playbook, error) {
	if err := s.authz.AuthorizeAgency(p, p.AgencyID, "playbook", "read"); err != nil {
		return nil, err
	}
	pb, err := store.GetPlaybook(ctx, q, p.AgencyID, id)
	if errors.Is(err, postgres.ErrNotFound) {
		return nil, rpc.FieldError("playbookId", "no playbook of your agency has this id")
	}
	return pb, err
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
