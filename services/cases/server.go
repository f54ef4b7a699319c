// Package cases is the Cases service (casebridge.cases.v1): the gRPC handlers
// that open, find, update and close cases and keep their timeline. Handlers
// are thin: they authorize through pkg/authz, run one transaction through the
// store, and map errors in toStatus.
package cases

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	evidencev1 "github.com/casebridge/casebridge/gen/casebridge/evidence/v1"
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/filter"
	"github.com/casebridge/casebridge/pkg/pagetoken"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/cases/internal/store"
)

// Server implements casesv1.CaseServiceServer.
type Server struct {
	casesv1.UnimplementedCaseServiceServer
	pool  *pgxpool.Pool
	authz *authz.Authorizer
	dir   liaisonv1.DirectoryServiceClient
	// sharing answers which information-sharing agreement governs a share
	// (the liaison service); set by WithLiaison (participants.go).
	sharing liaisonv1.LiaisonServiceClient
	// evidence builds case packages (export.go); set by WithEvidence.
	evidence evidencev1.EvidenceServiceClient
	logger   *slog.Logger
	now      func() time.Time
	// notifier receives task and legal process events (events.go); nil
	// drops them until notifications are wired.
	notifier Notifier
}

// NewServer returns the Cases service on pool. dir is the agency directory
// (the liaison service), called with the caller's identity.
func NewServer(pool *pgxpool.Pool, az *authz.Authorizer, dir liaisonv1.DirectoryServiceClient, logger *slog.Logger) *Server {
	return &Server{pool: pool, authz: az, dir: dir, logger: logger, now: time.Now}
}

func (s *Server) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func actor(p *auth.Principal) store.Actor {
	return store.Actor{UserID: p.UserID, Email: p.Email, AgencyID: p.AgencyID, AgencyORI: p.AgencyORI}
}

func caseResource(id string) authz.Resource { return authz.Resource{Type: "case", ID: id} }

// annotate names the resource of the call's audit record.
func annotate(ctx context.Context, resourceType, resourceID, caseID string) {
	audit.Annotate(ctx, func(e *audit.Event) {
		e.ResourceType, e.ResourceID, e.CaseID = resourceType, resourceID, caseID
	})
}

// CreateCase opens a case led by the caller's agency.
func (s *Server) CreateCase(ctx context.Context, req *casesv1.CreateCaseRequest) (*casesv1.CreateCaseResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeOwnAgency(p, "case", "create"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	in := req.GetCase()
	now := s.timestamp()
	c := &store.Case{
		ID:                      uuid.NewString(),
		LeadAgencyID:            p.AgencyID,
		LeadAgencyORI:           p.AgencyORI,
		Title:                   strings.TrimSpace(in.GetTitle()),
		Summary:                 in.GetSummary(),
		Classification:          classificationToDB(in.GetClassification()),
		NIBRSCode:               in.GetNibrsCode(),
		Status:                  "OPEN",
		Priority:                priorityToDB(in.GetPriority()),
		AssignedInvestigatorIDs: in.GetAssignedInvestigatorIds(),
		AffectedJurisdictions:   in.GetAffectedJurisdictions(),
		Disposition:             "UNSPECIFIED",
		CreateTime:              now,
		UpdateTime:              now,
		CreateUserID:            p.UserID,
		CreateUserEmail:         p.Email,
		UpdateUserEmail:         p.Email,
		Version:                 1,
	}
	if c.Priority == "UNSPECIFIED" {
		c.Priority = "MEDIUM"
	}
	if c.NIBRSCode == "" {
		c.NIBRSCode = nibrsDefault[in.GetClassification()]
	}
	if err := applyTimesAndLoss(c, in, nil); err != nil {
		return nil, err
	}

	var out *store.Case
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if req.GetRequestId() != "" {
			prev, err := store.Requests.Claim(ctx, tx, p.UserID, "CreateCase", req.GetRequestId())
			if err != nil {
				return err
			}
			if prev != "" {
				if out, err = store.GetCase(ctx, tx, prev); err != nil {
					return err
				}
				annotate(ctx, "case", out.ID, out.ID)
				return audit.Write(ctx, tx)
			}
		}
		var pb *store.Playbook
		if id := req.GetPlaybookId(); id != "" {
			if pb, err = s.playbookFor(ctx, tx, p, id); err != nil {
				return err
			}
			if pb.TitlePrefix != "" && !strings.HasPrefix(c.Title, pb.TitlePrefix) {
				c.Title = pb.TitlePrefix + c.Title
			}
			if in.GetPriority() == casesv1.Priority_PRIORITY_UNSPECIFIED && pb.DefaultPriority != "UNSPECIFIED" {
				c.Priority = pb.DefaultPriority
			}
		}
		number, err := store.NextCaseNumber(ctx, tx, p.AgencyID, p.AgencyORI, now.Year())
		if err != nil {
			return err
		}
		c.CaseNumber = number
		if err := store.InsertCase(ctx, tx, c); err != nil {
			return err
		}
		if _, err := authz.Grant(ctx, tx, p, authz.GrantRequest{Resource: caseResource(c.ID), AgencyID: p.AgencyID,
			Relation: authz.RelLead, LeadAgencyID: p.AgencyID}); err != nil {
			return err
		}
		if err := s.timeline(ctx, tx, p, c.ID, "STATUS_CHANGE", "Case opened ("+c.CaseNumber+")", now); err != nil {
			return err
		}
		if pb != nil {
			if _, err := s.applyPlaybook(ctx, tx, p, c, pb, now); err != nil {
				return err
			}
		}
		if req.GetRequestId() != "" {
			if err := store.Requests.Complete(ctx, tx, p.UserID, "CreateCase", req.GetRequestId(), c.ID); err != nil {
				return err
			}
		}
		out = c
		annotate(ctx, "case", c.ID, c.ID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &casesv1.CreateCaseResponse{Case: caseToProto(out)}, nil
}

// applyTimesAndLoss copies the optional time and money fields; with a mask
// only the named ones. An incident cannot start after it was discovered: the
// check runs on the merged result (an update may change only one of the
// two) and names the field the caller set.
func applyTimesAndLoss(c *store.Case, in *casesv1.Case, mask map[string]bool) error {
	want := func(f string) bool { return mask == nil || mask[f] }
	if want("incident_start_time") {
		c.IncidentStartTime = nil
		if in.GetIncidentStartTime() != nil {
			t := in.GetIncidentStartTime().AsTime().UTC()
			c.IncidentStartTime = &t
		}
	}
	if want("discovery_time") {
		c.DiscoveryTime = nil
		if in.GetDiscoveryTime() != nil {
			t := in.GetDiscoveryTime().AsTime().UTC()
			c.DiscoveryTime = &t
		}
	}
	if want("estimated_loss") {
		c.LossCurrency, c.LossAmountMinor = nil, nil
		if l := in.GetEstimatedLoss(); l != nil {
			cur, amt := l.GetCurrencyCode(), l.GetAmountMinor()
			c.LossCurrency, c.LossAmountMinor = &cur, &amt
		}
	}
	if c.IncidentStartTime != nil && c.DiscoveryTime != nil && c.IncidentStartTime.After(*c.DiscoveryTime) {
		if mask != nil && !mask["incident_start_time"] {
			return rpc.FieldError("case.discoveryTime", "must not be before the case's incidentStartTime")
		}
		return rpc.FieldError("case.incidentStartTime", "must not be after discoveryTime")
	}
	return nil
}

// GetCase returns one case the caller may read.
func (s *Server) GetCase(ctx context.Context, req *casesv1.GetCaseRequest) (*casesv1.GetCaseResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "case", "read", caseResource(req.GetCaseId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	c, err := store.GetCase(ctx, s.pool, req.GetCaseId())
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &casesv1.GetCaseResponse{Case: caseToProto(c)}, nil
}

// filterFields are the fields ListCases filters on.
var filterFields = []string{"status", "classification", "lead_agency", "assignee"}

// ListCases lists the cases the caller may read, newest first.
func (s *Server) ListCases(ctx context.Context, req *casesv1.ListCasesRequest) (*casesv1.ListCasesResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	q := store.ListQuery{
		AgencyID:      p.AgencyID,
		Relations:     s.authz.Permitting(p, "case", "read"),
		NoteRelations: s.authz.Permitting(p, "note", "read"),
		Limit:         pagetoken.PageSize(req.GetPageSize()),
	}
	if err := parseCaseFilter(req.GetFilter(), p.UserID, &q); err != nil {
		return nil, err
	}
	// Bound to the caller too: "assignee = me" means another list for
	// another user.
	bind := pagetoken.Bind("ListCases", p.AgencyID, p.UserID, req.GetFilter())
	keys, err := pagetoken.Decode(req.GetPageToken(), bind, 2)
	if err != nil {
		return nil, rpc.FieldError("pageToken", "invalid or issued for a different filter; start again without a page token")
	}
	if keys != nil {
		t, err := time.Parse(time.RFC3339Nano, keys[0])
		if err != nil || uuid.Validate(keys[1]) != nil {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
		q.AfterTime, q.AfterID = &t, keys[1]
	}
	rows, more, err := store.ListCases(ctx, s.pool, q)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &casesv1.ListCasesResponse{}
	if more && len(rows) > 0 {
		last := rows[len(rows)-1]
		resp.NextPageToken = pagetoken.Encode(bind, last.CreateTime.UTC().Format(time.RFC3339Nano), last.ID)
	}
	ids := make([]string, 0, len(rows))
	for _, c := range rows {
		resp.Cases = append(resp.Cases, caseToProto(c))
		ids = append(ids, c.ID)
	}
	// Each listed case was shown to the caller: name them all in the audit
	// record, so every case's disclosure report includes this access.
	audit.Annotate(ctx, func(e *audit.Event) { e.ResourceType, e.ListedCaseIDs = "case", ids })
	return resp, nil
}

// parseCaseFilter turns the filter text into q's restrictions. Enum values
// may be given with or without their prefix (ACTIVE or STATUS_ACTIVE).
func parseCaseFilter(text, caller string, q *store.ListQuery) error {
	terms, err := filter.Parse(text, filterFields...)
	if err != nil {
		return rpc.FieldError("filter", err.Error())
	}
	for _, t := range terms {
		switch t.Field {
		case "":
			q.Text = append(q.Text, t.Value)
		case "status":
			v := strings.TrimPrefix(strings.ToUpper(t.Value), "STATUS_")
			if _, ok := casesv1.Status_value["STATUS_"+v]; !ok || v == "UNSPECIFIED" {
				return rpc.FieldError("filter", fmt.Sprintf("unknown status %q (OPEN, ACTIVE, SUSPENDED, CLOSED)", t.Value))
			}
			if t.Op == "=" {
				q.Status = append(q.Status, v)
			} else {
				q.NotStatus = append(q.NotStatus, v)
			}
		case "classification":
			v := strings.TrimPrefix(strings.ToUpper(t.Value), "CLASSIFICATION_")
			if _, ok := casesv1.Classification_value["CLASSIFICATION_"+v]; !ok {
				return rpc.FieldError("filter", fmt.Sprintf("unknown classification %q", t.Value))
			}
			if t.Op == "=" {
				q.Classification = append(q.Classification, v)
			} else {
				q.NotClass = append(q.NotClass, v)
			}
		case "assignee":
			if t.Op != "=" {
				return rpc.FieldError("filter", "assignee supports = only")
			}
			v := t.Value
			if v == "me" {
				v = caller
			}
			if uuid.Validate(v) != nil {
				return rpc.FieldError("filter", fmt.Sprintf("assignee must be a user id or me, not %q", t.Value))
			}
			q.Assignees = append(q.Assignees, v)
		case "lead_agency":
			if t.Op != "=" {
				return rpc.FieldError("filter", "lead_agency supports = only")
			}
			if q.LeadAgency != "" {
				return rpc.FieldError("filter", "lead_agency may appear once")
			}
			q.LeadAgency = t.Value
		}
	}
	return nil
}

// updatable maps update_mask paths (proto or JSON spelling) to the field.
var updatable = map[string]string{
	"title": "title", "summary": "summary", "classification": "classification",
	"nibrs_code": "nibrs_code", "nibrsCode": "nibrs_code",
	"status": "status", "priority": "priority",
	"assigned_investigator_ids": "assigned_investigator_ids", "assignedInvestigatorIds": "assigned_investigator_ids",
	"incident_start_time": "incident_start_time", "incidentStartTime": "incident_start_time",
	"discovery_time": "discovery_time", "discoveryTime": "discovery_time",
	"estimated_loss": "estimated_loss", "estimatedLoss": "estimated_loss",
	"affected_jurisdictions": "affected_jurisdictions", "affectedJurisdictions": "affected_jurisdictions",
}

// serverOwned are fields a client may send back unchanged (they come with a
// case it read) but never change; the gateway puts every body field into the
// mask, so these are ignored rather than refused.
var serverOwned = map[string]bool{
	"id": true, "case_number": true, "caseNumber": true, "lead_agency_id": true, "leadAgencyId": true,
	"lead_agency_ori": true, "leadAgencyOri": true, "create_time": true, "createTime": true,
	"update_time": true, "updateTime": true, "create_user": true, "createUser": true,
	"update_user": true, "updateUser": true, "etag": true, "close_reason": true, "closeReason": true,
	"disposition": true,
}

// UpdateCase changes the fields named in update_mask.
func (s *Server) UpdateCase(ctx context.Context, req *casesv1.UpdateCaseRequest) (*casesv1.UpdateCaseResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetCase()
	mask := map[string]bool{}
	for _, path := range req.GetUpdateMask().GetPaths() {
		if f, ok := updatable[path]; ok {
			mask[f] = true
			continue
		}
		if serverOwned[path] {
			continue
		}
		return nil, rpc.FieldError("updateMask", fmt.Sprintf("%q cannot be updated", path))
	}
	if len(mask) == 0 {
		return nil, rpc.FieldError("updateMask", "name at least one field to update")
	}
	if mask["status"] {
		switch in.GetStatus() {
		case casesv1.Status_STATUS_ACTIVE, casesv1.Status_STATUS_SUSPENDED:
		case casesv1.Status_STATUS_CLOSED:
			return nil, status.Error(codes.FailedPrecondition, "use :close to close a case (a reason is required)")
		default:
			return nil, rpc.FieldError("case.status", "must be STATUS_ACTIVE or STATUS_SUSPENDED")
		}
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "case", "update", caseResource(in.GetId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	out, err := s.mutate(ctx, p, in.GetId(), in.GetEtag(), func(tx pgx.Tx, c *store.Case, now time.Time) error {
		if mask["title"] {
			c.Title = strings.TrimSpace(in.GetTitle())
		}
		if mask["summary"] {
			c.Summary = in.GetSummary()
		}
		if mask["classification"] {
			c.Classification = classificationToDB(in.GetClassification())
			if !mask["nibrs_code"] {
				c.NIBRSCode = nibrsDefault[in.GetClassification()]
			}
		}
		if mask["nibrs_code"] {
			c.NIBRSCode = in.GetNibrsCode()
		}
		if mask["priority"] {
			c.Priority = priorityToDB(in.GetPriority())
			if c.Priority == "UNSPECIFIED" {
				c.Priority = "MEDIUM"
			}
		}
		if mask["assigned_investigator_ids"] {
			c.AssignedInvestigatorIDs = in.GetAssignedInvestigatorIds()
		}
		if mask["affected_jurisdictions"] {
			c.AffectedJurisdictions = in.GetAffectedJurisdictions()
		}
		if err := applyTimesAndLoss(c, in, mask); err != nil {
			return err
		}
		if mask["status"] {
			to := statusToDB(in.GetStatus())
			if to != c.Status {
				if err := checkTransition(c.Status, to); err != nil {
					return err
				}
				if c.Status == "CLOSED" {
					return status.Error(codes.FailedPrecondition, "the case is closed; use :reopen")
				}
				if err := s.timeline(ctx, tx, p, c.ID, "STATUS_CHANGE", fmt.Sprintf("Status changed from %s to %s", c.Status, to), now); err != nil {
					return err
				}
				c.Status = to
			}
		}
		return nil
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &casesv1.UpdateCaseResponse{Case: caseToProto(out)}, nil
}

// transitions lists the allowed status moves.
var transitions = map[string][]string{
	"OPEN":      {"ACTIVE", "SUSPENDED", "CLOSED"},
	"ACTIVE":    {"SUSPENDED", "CLOSED"},
	"SUSPENDED": {"ACTIVE", "CLOSED"},
	"CLOSED":    {"ACTIVE"},
}

func checkTransition(from, to string) error {
	if slices.Contains(transitions[from], to) {
		return nil
	}
	return status.Errorf(codes.FailedPrecondition, "a %s case cannot become %s", from, to)
}

// mutate locks the case, checks the etag, lets fn change it, and saves it,
// all in one transaction.
func (s *Server) mutate(ctx context.Context, p *auth.Principal, id, wantEtag string, fn func(pgx.Tx, *store.Case, time.Time) error) (*store.Case, error) {
	var out *store.Case
	err := postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := store.LockCase(ctx, tx, id)
		if err != nil {
			return err
		}
		if wantEtag != "" && wantEtag != etag(c) {
			return store.ErrEtagMismatch
		}
		now := s.timestamp()
		if err := fn(tx, c, now); err != nil {
			return err
		}
		c.UpdateTime = now
		c.UpdateUserEmail = p.Email
		if err := store.SaveCase(ctx, tx, c); err != nil {
			return err
		}
		out = c
		return audit.Write(ctx, tx)
	})
	return out, err
}

// CloseCase closes a case with a reason.
func (s *Server) CloseCase(ctx context.Context, req *casesv1.CloseCaseRequest) (*casesv1.CloseCaseResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "case", "close", caseResource(req.GetCaseId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	out, err := s.mutate(ctx, p, req.GetCaseId(), req.GetEtag(), func(tx pgx.Tx, c *store.Case, now time.Time) error {
		if err := checkTransition(c.Status, "CLOSED"); err != nil {
			return err
		}
		// Open mandatory tasks block closing (issue 17): finish or cancel
		// them first. Read under the case's row lock, so a task added
		// concurrently waits for this close.
		open, err := store.OpenMandatoryTasks(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		if len(open) > 0 {
			return rpc.FieldError("caseId", "the case has open mandatory tasks: "+strings.Join(quoteAll(open), ", ")+"; complete or cancel them first")
		}
		body := fmt.Sprintf("Status changed from %s to CLOSED: %s", c.Status, req.GetReason())
		if d := req.GetDisposition(); d != casesv1.Disposition_DISPOSITION_UNSPECIFIED {
			body += " (disposition " + dispositionToDB(d) + ")"
		}
		c.Status, c.CloseReason, c.Disposition = "CLOSED", req.GetReason(), dispositionToDB(req.GetDisposition())
		return s.timeline(ctx, tx, p, c.ID, "STATUS_CHANGE", body, now)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &casesv1.CloseCaseResponse{Case: caseToProto(out)}, nil
}

// ReopenCase moves a closed case back to ACTIVE.
func (s *Server) ReopenCase(ctx context.Context, req *casesv1.ReopenCaseRequest) (*casesv1.ReopenCaseResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "case", "reopen", caseResource(req.GetCaseId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	out, err := s.mutate(ctx, p, req.GetCaseId(), req.GetEtag(), func(tx pgx.Tx, c *store.Case, now time.Time) error {
		if c.Status != "CLOSED" {
			return status.Errorf(codes.FailedPrecondition, "only a closed case can be reopened; this one is %s", c.Status)
		}
		body := "Case reopened (CLOSED to ACTIVE)"
		if r := req.GetReason(); r != "" {
			body += ": " + r
		}
		c.Status, c.CloseReason, c.Disposition = "ACTIVE", "", "UNSPECIFIED"
		return s.timeline(ctx, tx, p, c.ID, "STATUS_CHANGE", body, now)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &casesv1.ReopenCaseResponse{Case: caseToProto(out)}, nil
}

// timeline appends a server-written entry to the case timeline.
func (s *Server) timeline(ctx context.Context, tx pgx.Tx, p *auth.Principal, caseID, kind, body string, now time.Time) error {
	a := actor(p)
	return store.InsertNote(ctx, tx, &store.Note{
		ID: uuid.NewString(), CaseID: caseID, Kind: kind, Body: body,
		AuthorUserID: a.UserID, AuthorEmail: a.Email, AgencyID: a.AgencyID, AgencyORI: a.AgencyORI, CreateTime: now,
	})
}

// CreateNote appends a note written by the caller.
func (s *Server) CreateNote(ctx context.Context, req *casesv1.CreateNoteRequest) (*casesv1.CreateNoteResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "note", "create", caseResource(req.GetCaseId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	a := actor(p)
	n := &store.Note{
		ID: uuid.NewString(), CaseID: req.GetCaseId(), Kind: "NOTE", Body: req.GetNote().GetBody(),
		AuthorUserID: a.UserID, AuthorEmail: a.Email, AgencyID: a.AgencyID, AgencyORI: a.AgencyORI, CreateTime: s.timestamp(),
	}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if req.GetRequestId() != "" {
			prev, err := store.Requests.Claim(ctx, tx, p.UserID, "CreateNote:"+req.GetCaseId(), req.GetRequestId())
			if err != nil {
				return err
			}
			if prev != "" {
				if n, err = store.GetNote(ctx, tx, prev); err != nil {
					return err
				}
				annotate(ctx, "note", n.ID, n.CaseID)
				return audit.Write(ctx, tx)
			}
			if err := store.Requests.Complete(ctx, tx, p.UserID, "CreateNote:"+req.GetCaseId(), req.GetRequestId(), n.ID); err != nil {
				return err
			}
		}
		if err := store.InsertNote(ctx, tx, n); err != nil {
			return err
		}
		annotate(ctx, "note", n.ID, n.CaseID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &casesv1.CreateNoteResponse{Note: noteToProto(n)}, nil
}

// ListNotes returns the timeline, oldest first.
func (s *Server) ListNotes(ctx context.Context, req *casesv1.ListNotesRequest) (*casesv1.ListNotesResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "note", "read", caseResource(req.GetCaseId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	bind := pagetoken.Bind("ListNotes", req.GetCaseId())
	keys, err := pagetoken.Decode(req.GetPageToken(), bind, 1)
	if err != nil {
		return nil, rpc.FieldError("pageToken", "invalid or issued for another case")
	}
	var after int64
	if keys != nil {
		if after, err = strconv.ParseInt(keys[0], 10, 64); err != nil {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
	}
	limit := pagetoken.PageSize(req.GetPageSize()) + 1
	notes, err := store.ListNotes(ctx, s.pool, req.GetCaseId(), after, limit)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &casesv1.ListNotesResponse{}
	if len(notes) == limit {
		notes = notes[:limit-1]
		resp.NextPageToken = pagetoken.Encode(bind, strconv.FormatInt(notes[len(notes)-1].Seq, 10))
	}
	for _, n := range notes {
		resp.Notes = append(resp.Notes, noteToProto(n))
	}
	return resp, nil
}
