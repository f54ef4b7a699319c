// Package audit is the Audit service (casebridge.audit.v1): auditors read
// their agency's chain of the audit trail, and a case's lead agency produces
// the disclosure report of every access to the case, as JSON or CSV. The
// service only reads; pkg/audit appends, and its interceptor records these
// reads too.
package audit

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	auditv1 "github.com/casebridge/casebridge/gen/casebridge/audit/v1"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/filter"
	"github.com/casebridge/casebridge/pkg/pagetoken"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/audit/internal/store"
)

// MaxExportRows bounds one CSV report; a longer report answers
// FAILED_PRECONDITION and is read through the paged JSON instead.
const MaxExportRows = 100_000

// Server implements auditv1.AuditServiceServer.
type Server struct {
	auditv1.UnimplementedAuditServiceServer
	pool   *pgxpool.Pool
	authz  *authz.Authorizer
	logger *slog.Logger
}

// NewServer returns the Audit service on pool.
func NewServer(pool *pgxpool.Pool, az *authz.Authorizer, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{pool: pool, authz: az, logger: logger}
}

// filterFields are the fields ListAuditEvents filters on; time is ordered.
var filterFields = []string{"user", "case", "action", "service", "outcome", "time"}

// ListAuditEvents lists the caller's agency's chain, newest first.
func (s *Server) ListAuditEvents(ctx context.Context, req *auditv1.ListAuditEventsRequest) (*auditv1.ListAuditEventsResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeOwnAgency(p, "audit", "read"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	q := store.AgencyQuery{AgencyID: p.AgencyID, Limit: pagetoken.PageSize(req.GetPageSize()) + 1}
	if err := parseFilter(req.GetFilter(), &q); err != nil {
		return nil, err
	}
	bind := pagetoken.Bind("ListAuditEvents", p.AgencyID, req.GetFilter())
	keys, err := pagetoken.Decode(req.GetPageToken(), bind, 1)
	if err != nil {
		return nil, rpc.FieldError("pageToken", "invalid or issued for a different filter; start again without a page token")
	}
	if keys != nil {
		if q.AfterSeq, err = strconv.ParseInt(keys[0], 10, 64); err != nil || q.AfterSeq <= 0 {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
	}
	rows, err := store.ListAgency(ctx, s.pool, q)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &auditv1.ListAuditEventsResponse{}
	if len(rows) == q.Limit {
		rows = rows[:q.Limit-1]
		resp.NextPageToken = pagetoken.Encode(bind, strconv.FormatInt(rows[len(rows)-1].Seq, 10))
	}
	for _, r := range rows {
		resp.Events = append(resp.Events, toProto(r))
	}
	return resp, nil
}

// parseFilter turns the filter text into q's restrictions.
func parseFilter(text string, q *store.AgencyQuery) error {
	terms, err := filter.ParseOrdered(text, []string{"time"}, filterFields...)
	if err != nil {
		return rpc.FieldError("filter", err.Error())
	}
	for _, t := range terms {
		eq := t.Op == "="
		switch t.Field {
		case "":
			return rpc.FieldError("filter", fmt.Sprintf("free text %q is not supported here; use field = value", t.Value))
		case "user":
			q.Users, q.NotUsers = pick(eq, q.Users, q.NotUsers, t.Value)
		case "case":
			u, err := uuid.Parse(t.Value)
			if err != nil || !eq {
				return rpc.FieldError("filter", "case takes = and a case id (UUID)")
			}
			q.Cases = append(q.Cases, u.String())
		case "action":
			q.Actions, q.NotActions = pick(eq, q.Actions, q.NotActions, t.Value)
		case "service":
			q.Services, q.NotServices = pick(eq, q.Services, q.NotServices, t.Value)
		case "outcome":
			v := strings.ToUpper(t.Value)
			if v != audit.OutcomeAllowed && v != audit.OutcomeDenied && v != audit.OutcomeFailed {
				return rpc.FieldError("filter", fmt.Sprintf("unknown outcome %q (ALLOWED, DENIED, FAILED)", t.Value))
			}
			q.Outcomes, q.NotOutcomes = pick(eq, q.Outcomes, q.NotOutcomes, v)
		case "time":
			tm, err := time.Parse(time.RFC3339Nano, t.Value)
			if err != nil {
				return rpc.FieldError("filter", fmt.Sprintf("time %q: want RFC 3339, e.g. 2026-01-31T00:00:00Z", t.Value))
			}
			switch t.Op {
			case ">=":
				q.From = later(q.From, tm)
			case ">":
				q.From = later(q.From, tm.Add(time.Microsecond))
			case "<":
				q.Before = earlier(q.Before, tm)
			case "<=":
				q.Before = earlier(q.Before, tm.Add(time.Microsecond))
			default:
				return rpc.FieldError("filter", "time takes >=, >, < or <=")
			}
		}
	}
	return nil
}

func pick(eq bool, in, notIn []string, v string) ([]string, []string) {
	if eq {
		return append(in, v), notIn
	}
	return in, append(notIn, v)
}

func later(cur *time.Time, t time.Time) *time.Time {
	if cur == nil || t.After(*cur) {
		return &t
	}
	return cur
}

func earlier(cur *time.Time, t time.Time) *time.Time {
	if cur == nil || t.Before(*cur) {
		return &t
	}
	return cur
}

// authorizeCase lets the case's lead agency's auditors and supervisors read
// its report (policy: read_audit on the lead relation).
func (s *Server) authorizeCase(ctx context.Context, caseID string) error {
	p, err := auth.Require(ctx)
	if err != nil {
		return err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "case", "read_audit", authz.Resource{Type: "case", ID: caseID}); err != nil {
		return toStatus(ctx, s.logger, err)
	}
	return nil
}

// ListCaseAuditEvents is the disclosure report of a case, oldest first.
func (s *Server) ListCaseAuditEvents(ctx context.Context, req *auditv1.ListCaseAuditEventsRequest) (*auditv1.ListCaseAuditEventsResponse, error) {
	caseID, err := caseIDOf(req.GetCaseId())
	if err != nil {
		return nil, err
	}
	if err := s.authorizeCase(ctx, caseID); err != nil {
		return nil, err
	}
	limit := pagetoken.PageSize(req.GetPageSize()) + 1
	bind := pagetoken.Bind("ListCaseAuditEvents", caseID)
	keys, err := pagetoken.Decode(req.GetPageToken(), bind, 3)
	if err != nil {
		return nil, rpc.FieldError("pageToken", "invalid or issued for another case; start again without a page token")
	}
	var after *store.CaseAfter
	if keys != nil {
		t, terr := time.Parse(time.RFC3339Nano, keys[0])
		seq, serr := strconv.ParseInt(keys[2], 10, 64)
		if terr != nil || serr != nil || uuid.Validate(keys[1]) != nil {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
		after = &store.CaseAfter{Time: t, AgencyID: keys[1], Seq: seq}
	}
	rows, err := store.ListCase(ctx, s.pool, caseID, after, limit)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &auditv1.ListCaseAuditEventsResponse{}
	if len(rows) == limit {
		rows = rows[:limit-1]
		last := rows[len(rows)-1]
		resp.NextPageToken = pagetoken.Encode(bind, last.Time.UTC().Format(time.RFC3339Nano), last.AgencyID, strconv.FormatInt(last.Seq, 10))
	}
	for _, r := range rows {
		resp.Events = append(resp.Events, toProto(r))
	}
	return resp, nil
}

func toProto(r store.Row) *auditv1.AuditEvent {
	e := &auditv1.AuditEvent{
		Id: r.ID, AgencyId: r.AgencyID, AgencyOri: r.AgencyORI, AgencyName: r.AgencyName, Seq: r.Seq,
		Time: timestamppb.New(r.Time), RequestId: r.RequestID, UserId: r.UserID, UserEmail: r.UserEmail,
		Roles: r.Roles, ClientAddr: r.ClientAddr, UserAgent: r.UserAgent, Service: r.Service, Method: r.Method,
		Action: r.Action, ResourceType: r.ResourceType, ResourceId: r.ResourceID, CaseId: r.CaseID,
		Outcome: r.Outcome, StatusCode: r.StatusCode, Purpose: r.Purpose, RecipientAgencyId: r.RecipientAgencyID,
		Hash: fmt.Sprintf("%x", r.Hash), RolesBefore: r.RolesBefore, RolesAfter: r.RolesAfter, Reason: r.Reason,
	}
	for _, c := range r.Changes {
		e.Changes = append(e.Changes, &auditv1.Change{Field: c.Field, Sha256: c.Hash})
	}
	return e
}

// caseIDOf returns the canonical form of a case id (validated as a UUID by
// the interceptor already).
func caseIDOf(s string) (string, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return "", rpc.FieldError("caseId", "must be a UUID")
	}
	return u.String(), nil
}
