package cases

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/liaison/taskforceshare"
)

func relationName(r casesv1.Relation) string {
	return strings.ToLower(strings.TrimPrefix(r.String(), "RELATION_"))
}

func relationEnum(s string) casesv1.Relation {
	return casesv1.Relation(casesv1.Relation_value["RELATION_"+strings.ToUpper(s)])
}

// agency fetches an agency from the directory service, as the caller.
func (s *Server) agency(ctx context.Context, id string) (*liaisonv1.Agency, error) {
	resp, err := s.dir.GetAgency(rpc.ForwardIdentity(ctx), &liaisonv1.GetAgencyRequest{AgencyId: id})
	if err != nil {
		return nil, err
	}
	return resp.GetAgency(), nil
}

// AddParticipant shares the case with another agency.
func (s *Server) AddParticipant(ctx context.Context, req *casesv1.AddParticipantRequest) (*casesv1.AddParticipantResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	res := caseResource(req.GetCaseId())
	if err := s.authz.Authorize(ctx, s.pool, p, "case", "share", res); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	if req.GetTaskforceId() != "" {
		return s.shareWithTaskforce(ctx, p, req)
	}
	if req.GetAgencyId() == p.AgencyID {
		return nil, rpc.FieldError("agencyId", "the case is already led by your agency")
	}
	ag, err := s.agency(ctx, req.GetAgencyId())
	if status.Code(err) == codes.NotFound {
		return nil, rpc.FieldError("agencyId", "no such agency")
	}
	if err != nil {
		return nil, err
	}
	if !ag.GetActive() {
		return nil, rpc.FieldError("agencyId", "the agency is inactive")
	}
	rel := relationName(req.GetRelation())
	var expire *time.Time
	if req.GetExpireTime() != nil {
		t := req.GetExpireTime().AsTime().UTC().Truncate(time.Microsecond)
		expire = &t
	}
	terms, err := s.checkAgreement(ctx, req, ag.GetOri()+" ("+ag.GetName()+")")
	if err != nil {
		return nil, err
	}
	expire = terms.cap(expire)
	now := s.timestamp()
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		held, err := authz.Held(ctx, tx, req.GetAgencyId(), res)
		if err != nil {
			return err
		}
		for _, h := range held {
			if h == authz.RelLead {
				return rpc.FieldError("agencyId", "that agency leads the case")
			}
		}
		// One direct share per agency: a new share replaces the old relation.
		if _, err := authz.Delete(ctx, tx, res, req.GetAgencyId(), authz.RelContributor, authz.RelViewer); err != nil {
			return err
		}
		if err := authz.Write(ctx, tx, authz.Grant{Resource: res, AgencyID: req.GetAgencyId(), Relation: rel, ExpireTime: expire}); err != nil {
			return err
		}
		body := fmt.Sprintf("Shared with %s (%s) as %s: %s", ag.GetOri(), ag.GetName(), rel, req.GetReason())
		if expire != nil {
			body += " (until " + expire.Format(time.RFC3339) + ")"
		}
		body += terms.note()
		if err := s.timeline(ctx, tx, p, req.GetCaseId(), "SHARING", body, now); err != nil {
			return err
		}
		audit.Annotate(ctx, func(e *audit.Event) {
			e.ResourceType, e.ResourceID, e.CaseID = "participant", req.GetAgencyId(), req.GetCaseId()
			e.RecipientAgencyID = req.GetAgencyId()
			if e.Purpose == "" {
				e.Purpose = req.GetReason()
			}
			e.Purpose += terms.purpose()
		})
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	out := &casesv1.Participant{
		CaseId: req.GetCaseId(), AgencyId: ag.GetId(), AgencyOri: ag.GetOri(), AgencyName: ag.GetName(),
		Relation: req.GetRelation(), CreateTime: timestamppb.New(now),
	}
	if expire != nil {
		out.ExpireTime = timestamppb.New(*expire)
	}
	return &casesv1.AddParticipantResponse{Participant: out}, nil
}

// ListParticipants lists the agencies with an unexpired relation to the case.
func (s *Server) ListParticipants(ctx context.Context, req *casesv1.ListParticipantsRequest) (*casesv1.ListParticipantsResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	res := caseResource(req.GetCaseId())
	if err := s.authz.Authorize(ctx, s.pool, p, "participant", "read", res); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	rels, err := authz.List(ctx, s.pool, res)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &casesv1.ListParticipantsResponse{}
	names := map[string]*liaisonv1.Agency{}
	for _, r := range rels {
		ag, ok := names[r.AgencyID]
		if !ok {
			if ag, err = s.agency(ctx, r.AgencyID); err != nil {
				return nil, err
			}
			names[r.AgencyID] = ag
		}
		pt := &casesv1.Participant{
			CaseId: req.GetCaseId(), AgencyId: r.AgencyID, AgencyOri: ag.GetOri(), AgencyName: ag.GetName(),
			Relation: relationEnum(r.Relation), Source: r.Source, CreateTime: timestamppb.New(r.CreateTime),
		}
		if r.ExpireTime != nil {
			pt.ExpireTime = timestamppb.New(*r.ExpireTime)
		}
		resp.Participants = append(resp.Participants, pt)
	}
	return resp, nil
}

// RemoveParticipant ends an agency's direct share.
func (s *Server) RemoveParticipant(ctx context.Context, req *casesv1.RemoveParticipantRequest) (*casesv1.RemoveParticipantResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	res := caseResource(req.GetCaseId())
	if err := s.authz.Authorize(ctx, s.pool, p, "case", "unshare", res); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	ag, err := s.agency(ctx, req.GetAgencyId())
	if err != nil && status.Code(err) != codes.NotFound {
		return nil, err
	}
	ori := req.GetAgencyId()
	if ag != nil {
		ori = ag.GetOri()
	}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		n, err := authz.Delete(ctx, tx, res, req.GetAgencyId(), authz.RelContributor, authz.RelViewer)
		if err != nil {
			return err
		}
		if n == 0 {
			// Not an agency with a direct share: maybe a task force the
			// case is shared with (the path's id is then the task force's).
			name, err := taskforceshare.Unshare(ctx, tx, req.GetCaseId(), req.GetAgencyId())
			if errors.Is(err, taskforceshare.ErrUnknownTaskforce) || errors.Is(err, taskforceshare.ErrNotShared) {
				return errNoShare
			}
			if err != nil {
				return err
			}
			ori = "task force " + name
		}
		body := "Unshared from " + ori
		if r := req.GetReason(); r != "" {
			body += ": " + r
		}
		if err := s.timeline(ctx, tx, p, req.GetCaseId(), "SHARING", body, s.timestamp()); err != nil {
			return err
		}
		audit.Annotate(ctx, func(e *audit.Event) {
			e.ResourceType, e.ResourceID, e.CaseID = "participant", req.GetAgencyId(), req.GetCaseId()
		})
		return audit.Write(ctx, tx)
	})
	if errors.Is(err, errNoShare) {
		return nil, status.Error(codes.NotFound, "the case is not directly shared with that agency")
	}
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &casesv1.RemoveParticipantResponse{}, nil
}

var errNoShare = errors.New("no direct share")

// ExplainAccess explains another user's access to the case.
func (s *Server) ExplainAccess(ctx context.Context, req *casesv1.ExplainAccessRequest) (*casesv1.ExplainAccessResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	res := caseResource(req.GetCaseId())
	if err := s.authz.Authorize(ctx, s.pool, p, "case", "explain_access", res); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	perm := req.GetPermission()
	if perm == "" {
		perm = "case.read"
	}
	obj, act, _ := strings.Cut(perm, ".")
	if acts, ok := authz.Objects[obj]; !ok || !slices.Contains(acts, act) {
		return nil, rpc.FieldError("permission", fmt.Sprintf("unknown permission %q", perm))
	}
	who, err := auth.LookupByEmail(ctx, s.pool, req.GetEmail())
	if errors.Is(err, auth.ErrUnknownUser) {
		return nil, rpc.FieldError("email", "no active user with that e-mail")
	}
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	d, err := s.authz.Explain(ctx, s.pool, who, obj, act, res)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &casesv1.ExplainAccessResponse{
		Email: who.Email, AgencyId: who.AgencyID, AgencyOri: who.AgencyORI, AgencyKind: who.AgencyKind,
		Roles: who.Roles, Permission: perm, Relations: d.Relations,
		MatchedPolicyLines: d.Matched, Allowed: d.Allowed, Visible: d.Visible,
	}, nil
}

// WithLiaison sets the liaison service client AddParticipant asks which
// information-sharing agreement governs a share. Without it every share is
// refused (fail closed).
func (s *Server) WithLiaison(c liaisonv1.LiaisonServiceClient) *Server {
	s.sharing = c
	return s
}

// sharingTerms is the outcome of the agreement check of one share: the
// agreement in force, or a supervisor's override where none is.
type sharingTerms struct {
	agreement *liaisonv1.SharingTerms
	override  string
}

// relationRank orders relations by what they give (viewer < contributor).
var relationRank = map[string]int{"viewer": 1, "contributor": 2}

// checkAgreement asks the liaison service, as the caller, for the agreement
// in force between the caller's (lead) agency and the share's target, and
// decides: a share above the agreement's highest relation is refused; with
// no agreement in force the share needs an override reason. partner names
// the target in explanations.
func (s *Server) checkAgreement(ctx context.Context, req *casesv1.AddParticipantRequest, partner string) (*sharingTerms, error) {
	if s.sharing == nil {
		return nil, status.Error(codes.FailedPrecondition, "sharing agreements cannot be checked (no liaison service); nothing was shared")
	}
	resp, err := s.sharing.CheckSharing(rpc.ForwardIdentity(ctx), &liaisonv1.CheckSharingRequest{
		PartnerAgencyId: req.GetAgencyId(), TaskforceId: req.GetTaskforceId(),
	})
	if status.Code(err) == codes.NotFound {
		if req.GetTaskforceId() != "" {
			return nil, rpc.FieldError("taskforceId", "no such task force")
		}
		return nil, rpc.FieldError("agencyId", "no such agency")
	}
	if err != nil {
		return nil, err
	}
	rel := relationName(req.GetRelation())
	a := resp.GetTerms()
	if a == nil {
		if req.GetOverrideReason() == "" {
			why := "no information-sharing agreement with " + partner + " is in force"
			if lt := resp.GetLapsedTime(); lt != nil {
				why = "the information-sharing agreement with " + partner + " expired on " + lt.AsTime().UTC().Format(time.DateOnly)
			}
			return nil, status.Error(codes.FailedPrecondition, why+
				"; a supervisor's overrideReason is required to share without one. Nothing was shared.")
		}
		return &sharingTerms{override: req.GetOverrideReason()}, nil
	}
	most := strings.ToLower(strings.TrimPrefix(a.GetMaxRelation().String(), "RELATION_"))
	if relationRank[rel] > relationRank[most] {
		return nil, status.Errorf(codes.FailedPrecondition,
			"the information-sharing agreement %q with %s allows at most %s; a share as %s exceeds it. Nothing was shared.",
			a.GetTitle(), partner, most, rel)
	}
	return &sharingTerms{agreement: a}, nil
}

// cap bounds a share's expiry by the agreement's: access given under an
// agreement never outlives it.
func (t *sharingTerms) cap(expire *time.Time) *time.Time {
	if t.agreement.GetExpireTime() == nil {
		return expire
	}
	end := t.agreement.GetExpireTime().AsTime().UTC().Truncate(time.Microsecond)
	if expire == nil || end.Before(*expire) {
		return &end
	}
	return expire
}

// note is the agreement's part of the share's timeline entry.
func (t *sharingTerms) note() string {
	if t.agreement == nil {
		return ". No information-sharing agreement in force; supervisor override: " + t.override
	}
	out := fmt.Sprintf(". Under agreement %q", t.agreement.GetTitle())
	if cs := t.agreement.GetExcludedCategories(); len(cs) > 0 {
		names := make([]string, 0, len(cs))
		for _, c := range cs {
			names = append(names, strings.TrimPrefix(c.String(), "DATA_CATEGORY_"))
		}
		out += "; must not be shared: " + strings.Join(names, ", ")
	}
	return out
}

// purpose is the agreement's part of the audit record's purpose.
func (t *sharingTerms) purpose() string {
	if t.agreement == nil {
		return " [no agreement in force; override: " + t.override + "]"
	}
	return " [agreement " + t.agreement.GetAgreementId() + "]"
}

// shareWithTaskforce shares the case with every current member of a task
// force: the share is recorded with the liaison service's task-force share
// register (taskforceshare) in this transaction, so later membership
// changes reach the case at once.
func (s *Server) shareWithTaskforce(ctx context.Context, p *auth.Principal, req *casesv1.AddParticipantRequest) (*casesv1.AddParticipantResponse, error) {
	tfID := req.GetTaskforceId()
	if s.sharing == nil {
		return nil, status.Error(codes.FailedPrecondition, "task forces cannot be reached (no liaison service); nothing was shared")
	}
	tf, err := s.sharing.GetTaskforce(rpc.ForwardIdentity(ctx), &liaisonv1.GetTaskforceRequest{TaskforceId: tfID})
	if status.Code(err) == codes.NotFound {
		return nil, rpc.FieldError("taskforceId", "no such task force")
	}
	if err != nil {
		return nil, err
	}
	oris := map[string]string{}
	for _, m := range tf.GetTaskforce().GetMembers() {
		oris[m.GetAgencyId()] = m.GetAgencyOri()
	}
	terms, err := s.checkAgreement(ctx, req, "task force "+tf.GetTaskforce().GetName())
	if err != nil {
		return nil, err
	}
	rel := relationName(req.GetRelation())
	var expire *time.Time
	if req.GetExpireTime() != nil {
		t := req.GetExpireTime().AsTime().UTC().Truncate(time.Microsecond)
		expire = &t
	}
	expire = terms.cap(expire)
	now := s.timestamp()
	var res *taskforceshare.Result
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		res, err = taskforceshare.Share(ctx, tx, taskforceshare.Request{
			CaseID: req.GetCaseId(), LeadAgencyID: p.AgencyID, TaskforceID: tfID,
			Relation: rel, ExpireTime: expire, Now: now,
		})
		if errors.Is(err, taskforceshare.ErrUnknownTaskforce) {
			return rpc.FieldError("taskforceId", "no such task force")
		}
		if err != nil {
			return err
		}
		members := make([]string, 0, len(res.MemberAgencyIDs))
		for _, id := range res.MemberAgencyIDs {
			if ori, ok := oris[id]; ok {
				id = ori
			}
			members = append(members, id)
		}
		body := fmt.Sprintf("Shared with task force %s as %s (members now: %s): %s", res.TaskforceName, rel,
			strings.Join(members, ", "), req.GetReason())
		if expire != nil {
			body += " (until " + expire.Format(time.RFC3339) + ")"
		}
		body += terms.note()
		if err := s.timeline(ctx, tx, p, req.GetCaseId(), "SHARING", body, now); err != nil {
			return err
		}
		audit.Annotate(ctx, func(e *audit.Event) {
			e.ResourceType, e.ResourceID, e.CaseID = "taskforce_share", tfID, req.GetCaseId()
			if e.Purpose == "" {
				e.Purpose = req.GetReason()
			}
			e.Purpose += terms.purpose()
		})
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	out := &casesv1.Participant{
		CaseId: req.GetCaseId(), AgencyName: res.TaskforceName, Relation: req.GetRelation(),
		Source: taskforceshare.Source(tfID), CreateTime: timestamppb.New(now), TaskforceId: tfID,
		MemberAgencyIds: res.MemberAgencyIDs,
	}
	if expire != nil {
		out.ExpireTime = timestamppb.New(*expire)
	}
	return &casesv1.AddParticipantResponse{Participant: out}, nil
}
