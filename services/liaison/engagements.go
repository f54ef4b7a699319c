package liaison

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/pagetoken"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/liaison/internal/store"
)

func engagementToProto(e *store.Engagement) *liaisonv1.Engagement {
	return &liaisonv1.Engagement{
		Id: e.ID, AgencyId: e.AgencyID, AgencyIds: nonNil(e.AgencyIDs), OccurTime: timestamppb.New(e.OccurTime),
		Channel: liaisonv1.Channel(liaisonv1.Channel_value["CHANNEL_"+e.Channel]), Summary: e.Summary,
		CaseIds: nonNil(e.CaseIDs), ReferralIds: nonNil(e.ReferralIDs), FollowUpDueTime: ts(e.FollowUpDue),
		FollowUpDone: e.FollowUpDone, CreateUser: e.CreateUser, CreateTime: timestamppb.New(e.CreateTime),
		UpdateTime: timestamppb.New(e.UpdateTime), Etag: etag("engagement", e.ID, e.Version),
	}
}

// ListEngagements lists the engagements the caller's agency took part in.
func (s *Server) ListEngagements(ctx context.Context, req *liaisonv1.ListEngagementsRequest) (*liaisonv1.ListEngagementsResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeOwnAgency(p, "engagement", "read"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	overdue := req.GetView() == "overdue"
	bind := pagetoken.Bind("ListEngagements", p.AgencyID, fmt.Sprint(overdue))
	keys, err := page(req.GetPageToken(), bind, 2)
	if err != nil {
		return nil, err
	}
	var after *time.Time
	afterID := ""
	if keys != nil {
		t, err := time.Parse(time.RFC3339Nano, keys[0])
		if err != nil {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
		after, afterID = &t, keys[1]
	}
	limit := pagetoken.PageSize(req.GetPageSize()) + 1
	var rows []*store.Engagement
	if overdue {
		rows, err = store.ListOverdue(ctx, s.pool, p.AgencyID, s.timestamp(), after, afterID, limit)
	} else {
		rows, err = store.ListEngagements(ctx, s.pool, p.AgencyID, after, afterID, limit)
	}
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &liaisonv1.ListEngagementsResponse{Engagements: []*liaisonv1.Engagement{}}
	if len(rows) == limit {
		rows = rows[:limit-1]
		last := rows[len(rows)-1]
		key := last.OccurTime
		if overdue {
			key = *last.FollowUpDue
		}
		resp.NextPageToken = pagetoken.Encode(bind, key.Format(time.RFC3339Nano), last.ID)
	}
	for _, e := range rows {
		resp.Engagements = append(resp.Engagements, engagementToProto(e))
	}
	return resp, nil
}

// GetEngagement returns one engagement the caller's agency took part in.
func (s *Server) GetEngagement(ctx context.Context, req *liaisonv1.GetEngagementRequest) (*liaisonv1.GetEngagementResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	annotate(ctx, "engagement", req.GetEngagementId())
	if err := s.authz.AuthorizeOwnAgency(p, "engagement", "read"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	e, err := store.GetEngagement(ctx, s.pool, p.AgencyID, req.GetEngagementId())
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.GetEngagementResponse{Engagement: engagementToProto(e)}, nil
}

// CreateEngagement logs an engagement of the caller's agency.
func (s *Server) CreateEngagement(ctx context.Context, req *liaisonv1.CreateEngagementRequest) (*liaisonv1.CreateEngagementResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeOwnAgency(p, "engagement", "create"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	in := req.GetEngagement()
	now := s.timestamp()
	agencies := []string{p.AgencyID}
	for _, id := range in.GetAgencyIds() {
		if id = strings.ToLower(id); !slices.Contains(agencies, id) {
			agencies = append(agencies, id)
		}
	}
	e := &store.Engagement{
		ID: uuid.NewString(), AgencyID: p.AgencyID, AgencyIDs: agencies, OccurTime: now,
		Channel: strings.TrimPrefix(in.GetChannel().String(), "CHANNEL_"), Summary: in.GetSummary(),
		CaseIDs: in.GetCaseIds(), ReferralIDs: in.GetReferralIds(), FollowUpDue: tsPtr(in.GetFollowUpDueTime()),
		FollowUpDone: in.GetFollowUpDone(), CreateUserID: p.UserID, CreateUser: p.Email,
		CreateTime: now, UpdateTime: now, Version: 1,
	}
	if t := tsPtr(in.GetOccurTime()); t != nil {
		e.OccurTime = *t
	}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		prev, err := idempotent(ctx, tx, p, "CreateEngagement", req.GetRequestId(), func() (string, error) {
			missing, err := store.AgenciesExist(ctx, tx, agencies)
			if err != nil {
				return "", err
			}
			if len(missing) > 0 {
				return "", rpc.FieldError("engagement.agencyIds", "no such agency: "+strings.Join(missing, ", "))
			}
			return e.ID, store.InsertEngagement(ctx, tx, e)
		})
		if err != nil {
			return err
		}
		if prev != "" {
			e, err = store.GetEngagement(ctx, tx, p.AgencyID, prev)
			return err
		}
		annotate(ctx, "engagement", e.ID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.CreateEngagementResponse{Engagement: engagementToProto(e)}, nil
}

// UpdateEngagement changes the summary or the follow-up of an engagement
// the caller's agency logged.
func (s *Server) UpdateEngagement(ctx context.Context, req *liaisonv1.UpdateEngagementRequest) (*liaisonv1.UpdateEngagementResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetEngagement()
	m, err := mask(req.GetUpdateMask().GetPaths(),
		[]string{"summary", "follow_up_due_time", "follow_up_done"},
		[]string{"id", "agency_id", "agency_ids", "occur_time", "channel", "case_ids", "referral_ids", "create_user",
			"create_time", "update_time", "etag"})
	if err != nil {
		return nil, err
	}
	if m["summary"] && strings.TrimSpace(in.GetSummary()) == "" {
		return nil, rpc.FieldError("engagement.summary", "must not be empty")
	}
	if err := s.authz.AuthorizeOwnAgency(p, "engagement", "update"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	annotate(ctx, "engagement", in.GetId())
	var e *store.Engagement
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		seen, err := store.GetEngagement(ctx, tx, p.AgencyID, in.GetId())
		if err != nil {
			return err
		}
		if seen.AgencyID != p.AgencyID {
			return status.Error(codes.PermissionDenied, "only the agency that logged the engagement changes it")
		}
		if e, err = store.LockEngagement(ctx, tx, p.AgencyID, in.GetId()); err != nil {
			return err
		}
		if in.GetEtag() != "" && in.GetEtag() != etag("engagement", e.ID, e.Version) {
			return errStale
		}
		if m["summary"] {
			e.Summary = in.GetSummary()
		}
		if m["follow_up_due_time"] {
			e.FollowUpDue = tsPtr(in.GetFollowUpDueTime())
		}
		if m["follow_up_done"] {
			e.FollowUpDone = in.GetFollowUpDone()
		}
		e.UpdateTime = s.timestamp()
		if err := store.SaveEngagement(ctx, tx, e); err != nil {
			return err
		}
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.UpdateEngagementResponse{Engagement: engagementToProto(e)}, nil
}
