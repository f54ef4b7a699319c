package cases

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
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

// The clocks of legal process (issue 17). 18 U.S.C. §2703(f)(2): a
// provider preserves records for 90 days, extended for another 90 upon a
// renewed request. An item is due for renewal 14 days before it lapses.
const (
	PreservationPeriod = 90 * 24 * time.Hour
	RenewalWindow      = 14 * 24 * time.Hour
)

// Clock is what a legal process item's times say at one instant, computed
// from what was recorded — never stored, so it cannot go stale.
type Clock struct {
	Expire        *time.Time
	RenewalDue    *time.Time
	DueForRenewal bool
	Status        string // DRAFT, SERVED, RETURNED, EXPIRED, EXTENDED
}

// ClockOf computes l's clock at now. A preservation request expires 90
// days after service (180 once extended); other kinds expire when the
// person recording them said. A served item not yet returned is due for
// renewal from 14 days before its expiry until it lapses — a preservation
// request only while its one extension is still available.
func ClockOf(l *store.LegalProcess, now time.Time) Clock {
	c := Clock{Status: l.State, Expire: l.ExpireTime}
	if l.Kind == "PRESERVATION_REQUEST" {
		c.Expire = nil
		if l.ServeTime != nil {
			e := l.ServeTime.Add(PreservationPeriod)
			if l.ExtendTime != nil {
				e = e.Add(PreservationPeriod)
			}
			c.Expire = &e
		}
	}
	if c.Expire != nil {
		r := c.Expire.Add(-RenewalWindow)
		c.RenewalDue = &r
	}
	if l.State != "SERVED" {
		return c
	}
	if l.ExtendTime != nil {
		c.Status = "EXTENDED"
	}
	if c.Expire != nil && !now.Before(*c.Expire) {
		c.Status = "EXPIRED"
		return c
	}
	renewable := l.Kind != "PRESERVATION_REQUEST" || l.ExtendTime == nil
	c.DueForRenewal = renewable && c.RenewalDue != nil && !now.Before(*c.RenewalDue)
	return c
}

func legalEtag(l *store.LegalProcess) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "legal/%s/%d", l.ID, l.Version))
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

func legalToProto(l *store.LegalProcess, now time.Time) *casesv1.LegalProcess {
	c := ClockOf(l, now)
	return &casesv1.LegalProcess{
		Id: l.ID, CaseId: l.CaseID, Kind: casesv1.LegalProcessKind(casesv1.LegalProcessKind_value["LEGAL_PROCESS_KIND_"+l.Kind]),
		Recipient: l.Recipient, Identifier: l.Identifier, Description: l.Description,
		Status:    casesv1.LegalProcessStatus(casesv1.LegalProcessStatus_value["LEGAL_PROCESS_STATUS_"+c.Status]),
		IssueTime: ts(l.IssueTime), ServeTime: ts(l.ServeTime), ExpireTime: ts(c.Expire), ReturnTime: ts(l.ReturnTime),
		ExtendTime: ts(l.ExtendTime), RenewalDueTime: ts(c.RenewalDue), DueForRenewal: c.DueForRenewal,
		ExhibitIds: l.ExhibitIDs, CreateTime: timestamppb.New(l.CreateTime), UpdateTime: timestamppb.New(l.UpdateTime),
		CreateUser: l.CreateUserEmail, UpdateUser: l.UpdateUserEmail, Etag: legalEtag(l),
	}
}

// LegalProcessServer implements casesv1.LegalProcessServiceServer on the
// Cases service's pool: items are decided on their case's relation.
type LegalProcessServer struct {
	casesv1.UnimplementedLegalProcessServiceServer
	s *Server
}

// NewLegalProcessServer returns the legal process service over s.
func NewLegalProcessServer(s *Server) *LegalProcessServer { return &LegalProcessServer{s: s} }

// recordedState maps an input status to a recordable state; EXPIRED and
// EXTENDED are derived and cannot be set.
func recordedState(st casesv1.LegalProcessStatus) (string, error) {
	switch st {
	case casesv1.LegalProcessStatus_LEGAL_PROCESS_STATUS_UNSPECIFIED, casesv1.LegalProcessStatus_LEGAL_PROCESS_STATUS_DRAFT:
		return "DRAFT", nil
	case casesv1.LegalProcessStatus_LEGAL_PROCESS_STATUS_SERVED:
		return "SERVED", nil
	case casesv1.LegalProcessStatus_LEGAL_PROCESS_STATUS_RETURNED:
		return "RETURNED", nil
	}
	return "", rpc.FieldError("legalProcess.status", "must be DRAFT, SERVED or RETURNED (EXPIRED and EXTENDED follow from the clock and :extend)")
}

// applyLegal copies the fields named in mask (all with nil) and checks the
// item's consistency.
func applyLegal(l *store.LegalProcess, in *casesv1.LegalProcess, mask map[string]bool, now time.Time) error {
	want := func(f string) bool { return mask == nil || mask[f] }
	if want("recipient") {
		l.Recipient = strings.TrimSpace(in.GetRecipient())
		if l.Recipient == "" {
			return rpc.FieldError("legalProcess.recipient", "is required")
		}
	}
	if want("identifier") {
		l.Identifier = in.GetIdentifier()
	}
	if want("description") {
		l.Description = in.GetDescription()
	}
	if want("issue_time") {
		l.IssueTime = optTime(in.GetIssueTime())
	}
	if want("serve_time") {
		l.ServeTime = optTime(in.GetServeTime())
	}
	if want("expire_time") && l.Kind != "PRESERVATION_REQUEST" {
		l.ExpireTime = optTime(in.GetExpireTime())
	}
	if want("return_time") {
		l.ReturnTime = optTime(in.GetReturnTime())
	}
	if want("exhibit_ids") {
		l.ExhibitIDs = dedupe(in.GetExhibitIds())
	}
	if want("status") {
		st, err := recordedState(in.GetStatus())
		if err != nil {
			return err
		}
		l.State = st
	}
	// Serving or returning without a time means now.
	if (l.State == "SERVED" || l.State == "RETURNED") && l.ServeTime == nil {
		t := now
		l.ServeTime = &t
	}
	if l.State == "RETURNED" && l.ReturnTime == nil {
		t := now
		l.ReturnTime = &t
	}
	if l.State == "DRAFT" && l.ServeTime != nil {
		l.State = "SERVED"
	}
	if l.IssueTime != nil && l.ServeTime != nil && l.ServeTime.Before(*l.IssueTime) {
		return rpc.FieldError("legalProcess.serveTime", "must not be before issueTime")
	}
	return nil
}

// checkExhibits refuses exhibit ids that are not evidence items of the
// case. Decision: a read-only look at evidence.items (id and case only) in
// the same transaction, like authentication's read of the directory; the
// evidence service stays the only writer of its schema.
func checkExhibits(ctx context.Context, q postgres.Querier, caseID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM evidence.items WHERE case_id = $1 AND id = ANY($2::text[]::uuid[])`,
		caseID, ids).Scan(&n); err != nil {
		return postgres.Translate(err)
	}
	if n != len(ids) {
		return rpc.FieldError("legalProcess.exhibitIds", "every exhibit must be an evidence item of this case")
	}
	return nil
}

// CreateLegalProcess records a legal process item on a case.
func (ls *LegalProcessServer) CreateLegalProcess(ctx context.Context, req *casesv1.CreateLegalProcessRequest) (*casesv1.CreateLegalProcessResponse, error) {
	s := ls.s
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "legal_process", "create", caseResource(req.GetCaseId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	in := req.GetLegalProcess()
	now := s.timestamp()
	l := &store.LegalProcess{ID: uuid.NewString(), CaseID: req.GetCaseId(),
		Kind:       strings.TrimPrefix(in.GetKind().String(), "LEGAL_PROCESS_KIND_"),
		CreateTime: now, UpdateTime: now, CreateUserEmail: p.Email, UpdateUserEmail: p.Email}
	if err := applyLegal(l, in, nil, now); err != nil {
		return nil, err
	}
	key := "CreateLegalProcess:" + l.CaseID
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if rid := req.GetRequestId(); rid != "" {
			prev, err := store.Requests.Claim(ctx, tx, p.UserID, key, rid)
			if err != nil {
				return err
			}
			if prev != "" {
				if l, err = store.GetLegalProcess(ctx, tx, prev); err != nil {
					return err
				}
				annotate(ctx, "legal_process", l.ID, l.CaseID)
				return audit.Write(ctx, tx)
			}
			if err := store.Requests.Complete(ctx, tx, p.UserID, key, rid, l.ID); err != nil {
				return err
			}
		}
		if err := checkExhibits(ctx, tx, l.CaseID, l.ExhibitIDs); err != nil {
			return err
		}
		if err := scheduleLegal(ctx, tx, l, now); err != nil {
			return err
		}
		if err := store.InsertLegalProcess(ctx, tx, l); err != nil {
			return err
		}
		body := fmt.Sprintf("Legal process recorded: %s to %s", strings.ReplaceAll(l.Kind, "_", " "), l.Recipient)
		if err := s.timeline(ctx, tx, p, l.CaseID, "SYSTEM", body, now); err != nil {
			return err
		}
		annotate(ctx, "legal_process", l.ID, l.CaseID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &casesv1.CreateLegalProcessResponse{LegalProcess: legalToProto(l, now)}, nil
}

func (ls *LegalProcessServer) load(ctx context.Context, p *auth.Principal, id, act string) (*store.LegalProcess, error) {
	l, err := store.GetLegalProcess(ctx, ls.s.pool, id)
	if err != nil {
		return nil, err
	}
	if err := ls.s.authz.Authorize(ctx, ls.s.pool, p, "legal_process", act, caseResource(l.CaseID)); err != nil {
		return nil, err
	}
	return l, nil
}

// GetLegalProcess returns one item.
func (ls *LegalProcessServer) GetLegalProcess(ctx context.Context, req *casesv1.GetLegalProcessRequest) (*casesv1.GetLegalProcessResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	l, err := ls.load(ctx, p, req.GetLegalProcessId(), "read")
	if err != nil {
		return nil, toStatus(ctx, ls.s.logger, err)
	}
	annotate(ctx, "legal_process", l.ID, l.CaseID)
	return &casesv1.GetLegalProcessResponse{LegalProcess: legalToProto(l, ls.s.timestamp())}, nil
}

// ListLegalProcess lists a case's items in the order recorded.
func (ls *LegalProcessServer) ListLegalProcess(ctx context.Context, req *casesv1.ListLegalProcessRequest) (*casesv1.ListLegalProcessResponse, error) {
	s := ls.s
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "legal_process", "read", caseResource(req.GetCaseId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	bind := pagetoken.Bind("ListLegalProcess", req.GetCaseId())
	keys, err := pagetoken.Decode(req.GetPageToken(), bind, 2)
	if err != nil {
		return nil, rpc.FieldError("pageToken", "invalid or issued for another case")
	}
	var after *time.Time
	afterID := ""
	if keys != nil {
		t, err := time.Parse(time.RFC3339Nano, keys[0])
		if err != nil || uuid.Validate(keys[1]) != nil {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
		after, afterID = &t, keys[1]
	}
	limit := pagetoken.PageSize(req.GetPageSize())
	rows, err := store.ListLegalProcess(ctx, s.pool, req.GetCaseId(), after, afterID, limit+1)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &casesv1.ListLegalProcessResponse{}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		resp.NextPageToken = pagetoken.Encode(bind, last.CreateTime.UTC().Format(time.RFC3339Nano), last.ID)
	}
	now := s.timestamp()
	for _, l := range rows {
		resp.LegalProcess = append(resp.LegalProcess, legalToProto(l, now))
	}
	annotate(ctx, "legal_process", "", req.GetCaseId())
	return resp, nil
}

var legalUpdatable = map[string]string{
	"recipient": "recipient", "identifier": "identifier", "description": "description",
	"issue_time": "issue_time", "issueTime": "issue_time", "serve_time": "serve_time", "serveTime": "serve_time",
	"expire_time": "expire_time", "expireTime": "expire_time", "return_time": "return_time", "returnTime": "return_time",
	"exhibit_ids": "exhibit_ids", "exhibitIds": "exhibit_ids", "status": "status",
}

var legalServerOwned = []string{"id", "case_id", "caseId", "kind", "extend_time", "extendTime", "renewal_due_time",
	"renewalDueTime", "due_for_renewal", "dueForRenewal", "create_time", "createTime", "update_time", "updateTime",
	"create_user", "createUser", "update_user", "updateUser", "etag"}

// mutate locks the item, checks its etag, lets fn change it, saves and
// audits in one transaction; act was authorized on its case first.
func (ls *LegalProcessServer) mutate(ctx context.Context, p *auth.Principal, id, wantEtag string,
	fn func(tx pgx.Tx, l *store.LegalProcess, now time.Time) error) (*store.LegalProcess, time.Time, error) {
	s := ls.s
	if _, err := ls.load(ctx, p, id, "update"); err != nil {
		return nil, time.Time{}, err
	}
	var out *store.LegalProcess
	now := s.timestamp()
	err := postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		l, err := store.LockLegalProcess(ctx, tx, id)
		if err != nil {
			return err
		}
		if wantEtag != "" && wantEtag != legalEtag(l) {
			return store.ErrEtagMismatch
		}
		if err := fn(tx, l, now); err != nil {
			return err
		}
		l.UpdateTime, l.UpdateUserEmail = now, p.Email
		if err := store.SaveLegalProcess(ctx, tx, l); err != nil {
			return err
		}
		if err := scheduleLegal(ctx, tx, l, now); err != nil {
			return err
		}
		out = l
		annotate(ctx, "legal_process", l.ID, l.CaseID)
		return audit.Write(ctx, tx)
	})
	return out, now, err
}

// UpdateLegalProcess changes the fields named in update_mask.
func (ls *LegalProcessServer) UpdateLegalProcess(ctx context.Context, req *casesv1.UpdateLegalProcessRequest) (*casesv1.UpdateLegalProcessResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetLegalProcess()
	mask := map[string]bool{}
	for _, path := range req.GetUpdateMask().GetPaths() {
		if f, ok := legalUpdatable[path]; ok {
			mask[f] = true
		} else if !slices.Contains(legalServerOwned, path) {
			return nil, rpc.FieldError("updateMask", fmt.Sprintf("%q cannot be updated", path))
		}
	}
	if len(mask) == 0 {
		return nil, rpc.FieldError("updateMask", "name at least one field to update")
	}
	out, now, err := ls.mutate(ctx, p, in.GetId(), in.GetEtag(), func(tx pgx.Tx, l *store.LegalProcess, now time.Time) error {
		was := l.State
		if err := applyLegal(l, in, mask, now); err != nil {
			return err
		}
		if err := checkExhibits(ctx, tx, l.CaseID, l.ExhibitIDs); err != nil {
			return err
		}
		if was != l.State {
			body := fmt.Sprintf("Legal process to %s (%s): %s → %s", l.Recipient, strings.ReplaceAll(l.Kind, "_", " "), was, l.State)
			return ls.s.timeline(ctx, tx, p, l.CaseID, "STATUS_CHANGE", body, now)
		}
		return nil
	})
	if err != nil {
		return nil, toStatus(ctx, ls.s.logger, err)
	}
	return &casesv1.UpdateLegalProcessResponse{LegalProcess: legalToProto(out, now)}, nil
}

// ExtendLegalProcess records the one extension of a served, unexpired
// preservation request.
func (ls *LegalProcessServer) ExtendLegalProcess(ctx context.Context, req *casesv1.ExtendLegalProcessRequest) (*casesv1.ExtendLegalProcessResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	out, now, err := ls.mutate(ctx, p, req.GetLegalProcessId(), req.GetEtag(), func(tx pgx.Tx, l *store.LegalProcess, now time.Time) error {
		if l.Kind != "PRESERVATION_REQUEST" {
			return status.Error(codes.FailedPrecondition, "only a preservation request is extended; record new process for other kinds")
		}
		if l.ExtendTime != nil {
			return status.Error(codes.FailedPrecondition, "this preservation request was already extended once (18 U.S.C. §2703(f)(2) allows one 90-day extension)")
		}
		c := ClockOf(l, now)
		if l.State != "SERVED" || c.Status == "EXPIRED" {
			return status.Errorf(codes.FailedPrecondition, "only a served preservation request that has not lapsed can be extended; this one is %s", c.Status)
		}
		t := now
		l.ExtendTime = &t
		body := fmt.Sprintf("Preservation request to %s extended 90 days (now expires %s)", l.Recipient,
			ClockOf(l, now).Expire.Format("2006-01-02"))
		return ls.s.timeline(ctx, tx, p, l.CaseID, "STATUS_CHANGE", body, now)
	})
	if err != nil {
		return nil, toStatus(ctx, ls.s.logger, err)
	}
	return &casesv1.ExtendLegalProcessResponse{LegalProcess: legalToProto(out, now)}, nil
}
