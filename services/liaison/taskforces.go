package liaison

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/pagetoken"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/liaison/internal/store"
)

func taskforceToProto(t *store.Taskforce, now time.Time) *liaisonv1.Taskforce {
	out := &liaisonv1.Taskforce{
		Id: t.ID, Name: t.Name, Description: t.Description, SponsorAgencyId: t.SponsorAgencyID,
		Members: []*liaisonv1.TaskforceMember{}, CreateTime: timestamppb.New(t.CreateTime),
		UpdateTime: timestamppb.New(t.UpdateTime), Etag: etag("taskforce", t.ID, t.Version),
	}
	for _, m := range t.Members {
		out.Members = append(out.Members, &liaisonv1.TaskforceMember{
			AgencyId: m.AgencyID, AgencyOri: m.AgencyORI, AgencyName: m.AgencyName,
			StartTime: timestamppb.New(m.StartTime), EndTime: ts(m.EndTime),
			Current: !m.StartTime.After(now) && (m.EndTime == nil || m.EndTime.After(now)),
		})
	}
	return out
}

// ListTaskforces lists task forces with their members, by name.
func (s *Server) ListTaskforces(ctx context.Context, req *liaisonv1.ListTaskforcesRequest) (*liaisonv1.ListTaskforcesResponse, error) {
	if _, err := auth.Require(ctx); err != nil {
		return nil, err
	}
	bind := pagetoken.Bind("ListTaskforces")
	keys, err := page(req.GetPageToken(), bind, 2)
	if err != nil {
		return nil, err
	}
	afterName, afterID := "", ""
	if keys != nil {
		afterName, afterID = keys[0], keys[1]
	}
	limit := pagetoken.PageSize(req.GetPageSize()) + 1
	rows, err := store.ListTaskforces(ctx, s.pool, afterName, afterID, limit)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &liaisonv1.ListTaskforcesResponse{Taskforces: []*liaisonv1.Taskforce{}}
	if len(rows) == limit {
		rows = rows[:limit-1]
		last := rows[len(rows)-1]
		resp.NextPageToken = pagetoken.Encode(bind, last.Name, last.ID)
	}
	now := s.timestamp()
	for _, t := range rows {
		resp.Taskforces = append(resp.Taskforces, taskforceToProto(t, now))
	}
	return resp, nil
}

// GetTaskforce returns one task force.
func (s *Server) GetTaskforce(ctx context.Context, req *liaisonv1.GetTaskforceRequest) (*liaisonv1.GetTaskforceResponse, error) {
	if _, err := auth.Require(ctx); err != nil {
		return nil, err
	}
	annotate(ctx, "taskforce", req.GetTaskforceId())
	t, err := store.GetTaskforce(ctx, s.pool, req.GetTaskforceId())
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.GetTaskforceResponse{Taskforce: taskforceToProto(t, s.timestamp())}, nil
}

// CreateTaskforce convenes a task force sponsored by the caller's agency.
func (s *Server) CreateTaskforce(ctx context.Context, req *liaisonv1.CreateTaskforceRequest) (*liaisonv1.CreateTaskforceResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeOwnAgency(p, "taskforce", "create"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	in := req.GetTaskforce()
	now := s.timestamp()
	t := &store.Taskforce{ID: uuid.NewString(), Name: strings.TrimSpace(in.GetName()), Description: in.GetDescription(),
		SponsorAgencyID: p.AgencyID, CreateTime: now, UpdateTime: now, Version: 1}
	seen := map[string]bool{}
	for i, m := range in.GetMembers() {
		if seen[m.GetAgencyId()] {
			return nil, rpc.FieldError(fmt.Sprintf("taskforce.members[%d].agencyId", i), "listed twice")
		}
		seen[m.GetAgencyId()] = true
	}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		prev, err := idempotent(ctx, tx, p, "CreateTaskforce", req.GetRequestId(), func() (string, error) {
			if err := store.InsertTaskforce(ctx, tx, t); err != nil {
				if errors.Is(err, postgres.ErrAlreadyExists) {
					return "", status.Error(codes.AlreadyExists, "a task force with that name exists")
				}
				return "", err
			}
			for i, m := range in.GetMembers() {
				if _, err := store.GetAgency(ctx, tx, m.GetAgencyId()); err != nil {
					return "", rpc.FieldError(fmt.Sprintf("taskforce.members[%d].agencyId", i), "no such agency")
				}
				start := now
				if m.GetStartTime() != nil {
					start = *tsPtr(m.GetStartTime())
				}
				if err := s.putMember(ctx, tx, p, t, m.GetAgencyId(), start, tsPtr(m.GetEndTime())); err != nil {
					return "", err
				}
			}
			return t.ID, nil
		})
		if err != nil {
			return err
		}
		if prev != "" {
			t, err = store.GetTaskforce(ctx, tx, prev)
			return err
		}
		if t, err = store.GetTaskforce(ctx, tx, t.ID); err != nil {
			return err
		}
		annotate(ctx, "taskforce", t.ID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.CreateTaskforceResponse{Taskforce: taskforceToProto(t, now)}, nil
}

// changeMembership runs fn on the locked task force after checking that the
// caller's agency sponsors it, then audits the change (recipient: the member
// agency, whose access to every shared case changed with it).
func (s *Server) changeMembership(ctx context.Context, tfID, agencyID, reason string, fn func(tx pgx.Tx, p *auth.Principal, t *store.Taskforce, now time.Time) error) (*store.Taskforce, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	annotate(ctx, "taskforce", tfID)
	t, err := store.GetTaskforce(ctx, s.pool, tfID)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	if err := s.authz.AuthorizeAgency(p, t.SponsorAgencyID, "taskforce", "update"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	now := s.timestamp()
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		locked, err := store.LockTaskforce(ctx, tx, tfID)
		if err != nil {
			return err
		}
		if err := fn(tx, p, locked, now); err != nil {
			return err
		}
		if err := store.TouchTaskforce(ctx, tx, tfID, now); err != nil {
			return err
		}
		if t, err = store.GetTaskforce(ctx, tx, tfID); err != nil {
			return err
		}
		audit.Annotate(ctx, func(e *audit.Event) {
			e.RecipientAgencyID = agencyID
			if e.Purpose == "" {
				e.Purpose = reason
			}
		})
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return t, nil
}

// AddTaskforceMember adds a member (or changes its dates); it reaches every
// case shared with the task force in the same transaction.
func (s *Server) AddTaskforceMember(ctx context.Context, req *liaisonv1.AddTaskforceMemberRequest) (*liaisonv1.AddTaskforceMemberResponse, error) {
	m := req.GetMember()
	t, err := s.changeMembership(ctx, req.GetTaskforceId(), m.GetAgencyId(), req.GetReason(), func(tx pgx.Tx, p *auth.Principal, tf *store.Taskforce, now time.Time) error {
		if _, err := store.GetAgency(ctx, tx, m.GetAgencyId()); err != nil {
			return rpc.FieldError("member.agencyId", "no such agency")
		}
		start := now
		if m.GetStartTime() != nil {
			start = *tsPtr(m.GetStartTime())
		}
		return s.putMember(ctx, tx, p, tf, m.GetAgencyId(), start, tsPtr(m.GetEndTime()))
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.AddTaskforceMemberResponse{Taskforce: taskforceToProto(t, s.timestamp())}, nil
}

// RemoveTaskforceMember removes a member; it loses every case it reached
// through the task force in the same transaction.
func (s *Server) RemoveTaskforceMember(ctx context.Context, req *liaisonv1.RemoveTaskforceMemberRequest) (*liaisonv1.RemoveTaskforceMemberResponse, error) {
	t, err := s.changeMembership(ctx, req.GetTaskforceId(), req.GetAgencyId(), req.GetReason(), func(tx pgx.Tx, p *auth.Principal, tf *store.Taskforce, _ time.Time) error {
		if err := store.DeleteMember(ctx, tx, req.GetTaskforceId(), req.GetAgencyId()); errors.Is(err, postgres.ErrNotFound) {
			return status.Error(codes.NotFound, "that agency is not a member of the task force")
		} else if err != nil {
			return err
		}
		m, err := membership(ctx, tx, tf, req.GetAgencyId())
		if err != nil {
			return err
		}
		_, err = authz.RemoveMember(ctx, tx, p, m)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.RemoveTaskforceMemberResponse{Taskforce: taskforceToProto(t, s.timestamp())}, nil
}

// membership describes agencyID's membership of tf for the door.
func membership(ctx context.Context, q postgres.Querier, tf *store.Taskforce, agencyID string) (authz.Membership, error) {
	ag, err := store.GetAgency(ctx, q, agencyID)
	if err != nil {
		return authz.Membership{}, err
	}
	return authz.Membership{GroupID: tf.ID, AgencyID: agencyID, GroupLabel: "task force " + tf.Name,
		AgencyLabel: ag.ORI + " (" + ag.Name + ")"}, nil
}

// putMember records agencyID's membership of tf, in the liaison schema and,
// through the door, in the authorization facts decisions expand task-force
// shares from; the door records every case whose access that changed.
func (s *Server) putMember(ctx context.Context, tx pgx.Tx, p *auth.Principal, tf *store.Taskforce, agencyID string, start time.Time, end *time.Time) error {
	if err := store.UpsertMember(ctx, tx, tf.ID, agencyID, start, end); err != nil {
		return err
	}
	m, err := membership(ctx, tx, tf, agencyID)
	if err != nil {
		return err
	}
	m.StartTime, m.EndTime = start, end
	_, err = authz.PutMember(ctx, tx, p, m)
	return err
}
