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
	"github.com/casebridge/casebridge/pkg/notify"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
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

// AddParticipant shares the case with another agency or a task force,
// through the one door (authz.Grant), which applies the agreement in force
// between the lead agency and the target.
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
	if req.GetMembership() != casesv1.Membership_MEMBERSHIP_UNSPECIFIED {
		return nil, rpc.FieldError("membership", "only a task-force share has a membership mode")
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
	expire := expiry(req)
	label := ag.GetOri() + " (" + ag.GetName() + ")"
	now := s.timestamp()
	var outcome *authz.GrantOutcome
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		held, err := authz.Held(ctx, tx, req.GetAgencyId(), res)
		if err != nil {
			return err
		}
		if slices.Contains(held, authz.RelLead) {
			return rpc.FieldError("agencyId", "that agency leads the case")
		}
		outcome, err = authz.Grant(ctx, tx, p, authz.GrantRequest{
			Resource: res, AgencyID: req.GetAgencyId(), Label: label, Relation: rel, LeadAgencyID: p.AgencyID,
			ExpireTime: expire, Reason: req.GetReason(), OverrideReason: req.GetOverrideReason(), RefuseAbove: true,
			Timeline: fmt.Sprintf("Shared with %s as %s: %s", label, rel, req.GetReason()),
		})
		if err != nil {
			return err
		}
		if err := emitShare(ctx, tx, req.GetCaseId(), req.GetAgencyId(), notify.CaseShared); err != nil {
			return err
		}
		audit.Annotate(ctx, func(e *audit.Event) {
			e.ResourceType, e.ResourceID = "participant", req.GetAgencyId()
		})
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	out := &casesv1.Participant{
		CaseId: req.GetCaseId(), AgencyId: ag.GetId(), AgencyOri: ag.GetOri(), AgencyName: ag.GetName(),
		Relation: req.GetRelation(), EffectiveRelation: req.GetRelation(), Via: "direct", CreateTime: timestamppb.New(now),
	}
	governs(out, outcome)
	if expire != nil {
		out.ExpireTime = timestamppb.New(*expire)
	}
	return &casesv1.AddParticipantResponse{Participant: out}, nil
}

// expiry is the share's expiry, at the database's precision.
func expiry(req *casesv1.AddParticipantRequest) *time.Time {
	if req.GetExpireTime() == nil {
		return nil
	}
	t := req.GetExpireTime().AsTime().UTC().Truncate(time.Microsecond)
	return &t
}

// governs sets what governs a new share from the door's outcome.
func governs(out *casesv1.Participant, o *authz.GrantOutcome) {
	if o.Terms != nil {
		out.AgreementId = o.Terms.AgreementID
		return
	}
	out.OverrideReason = o.Override
}

// ListParticipants lists every agency holding a relation to the case —
// directly, through a referral, or as a member of a task force the case is
// shared with — each with the relation held, what it effectively gives now
// after the agreements' caps, how it came and what governs it; and the
// task-force shares themselves.
func (s *Server) ListParticipants(ctx context.Context, req *casesv1.ListParticipantsRequest) (*casesv1.ListParticipantsResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	res := caseResource(req.GetCaseId())
	if err := s.authz.Authorize(ctx, s.pool, p, "participant", "read", res); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	rows, err := authz.Participants(ctx, s.pool, res)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &casesv1.ListParticipantsResponse{Participants: []*casesv1.Participant{}}
	names := map[string]*liaisonv1.Agency{}
	groups := map[string]*casesv1.Participant{}
	for _, r := range rows {
		pt := &casesv1.Participant{
			CaseId: req.GetCaseId(), AgencyId: r.AgencyID, Relation: relationEnum(r.Relation),
			EffectiveRelation: relationEnum(r.Effective), Source: r.Source, Via: r.Via, CreateTime: timestamppb.New(r.CreateTime),
			AgreementId: r.AgreementID, OverrideReason: r.OverrideReason, TaskforceId: r.GroupID,
			Membership: membershipEnum(r.Membership),
		}
		if pt.Via == "" {
			pt.Via = "direct"
		}
		if r.ExpireTime != nil {
			pt.ExpireTime = timestamppb.New(*r.ExpireTime)
		}
		if r.IsGroup {
			pt.TaskforceId, pt.AgencyId, pt.AgencyName = r.AgencyID, "", r.Via
			pt.Via = "direct"
			groups[r.AgencyID] = pt
		} else {
			ag, ok := names[r.AgencyID]
			if !ok {
				if ag, err = s.agency(ctx, r.AgencyID); err != nil {
					return nil, err
				}
				names[r.AgencyID] = ag
			}
			pt.AgencyOri, pt.AgencyName = ag.GetOri(), ag.GetName()
			if g := groups[r.GroupID]; g != nil && r.Effective != "" {
				g.MemberAgencyIds = append(g.MemberAgencyIds, r.AgencyID)
			}
		}
		resp.Participants = append(resp.Participants, pt)
	}
	return resp, nil
}

func membershipEnum(m string) casesv1.Membership {
	switch m {
	case authz.MembershipFollow:
		return casesv1.Membership_MEMBERSHIP_FOLLOW
	case authz.MembershipSnapshot:
		return casesv1.Membership_MEMBERSHIP_SNAPSHOT
	}
	return casesv1.Membership_MEMBERSHIP_UNSPECIFIED
}

// RemoveParticipant ends an agency's share (direct or through a referral)
// or, when the path names a task force, the task-force share.
func (s *Server) RemoveParticipant(ctx context.Context, req *casesv1.RemoveParticipantRequest) (*casesv1.RemoveParticipantResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	res := caseResource(req.GetCaseId())
	if err := s.authz.Authorize(ctx, s.pool, p, "case", "unshare", res); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	label := req.GetAgencyId()
	ag, err := s.agency(ctx, req.GetAgencyId())
	if err != nil && status.Code(err) != codes.NotFound {
		return nil, err
	}
	isAgency := ag != nil
	if isAgency {
		label = ag.GetOri()
	} else if s.sharing != nil {
		// Not an agency: maybe a task force the case is shared with.
		tf, err := s.sharing.GetTaskforce(rpc.ForwardIdentity(ctx), &liaisonv1.GetTaskforceRequest{TaskforceId: req.GetAgencyId()})
		if err != nil && status.Code(err) != codes.NotFound {
			return nil, err
		}
		if tf != nil {
			label = "task force " + tf.GetTaskforce().GetName()
		}
	}
	body := "Unshared from " + label
	if r := req.GetReason(); r != "" {
		body += ": " + r
	}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		rr := authz.RevokeRequest{Resource: res, Relations: []string{authz.RelContributor, authz.RelViewer}, Timeline: body}
		if isAgency {
			rr.AgencyID = req.GetAgencyId()
		} else {
			rr.GroupID = req.GetAgencyId()
		}
		n, err := authz.Revoke(ctx, tx, p, rr)
		if err != nil {
			return err
		}
		if n == 0 {
			return errNoShare
		}
		if isAgency {
			if err := emitShare(ctx, tx, req.GetCaseId(), req.GetAgencyId(), notify.CaseUnshared); err != nil {
				return err
			}
		}
		audit.Annotate(ctx, func(e *audit.Event) {
			e.ResourceType, e.ResourceID = "participant", req.GetAgencyId()
		})
		return audit.Write(ctx, tx)
	})
	if errors.Is(err, errNoShare) {
		return nil, status.Error(codes.NotFound, "the case is not shared with that agency or task force")
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
	if err == nil && who.AgencyID != p.AgencyID {
		// Only users of the caller's agency and of agencies that hold a
		// relation on the case are explained; anybody else answers exactly
		// like an unknown e-mail, so the question enumerates nobody.
		reaches, rerr := authz.Reaches(ctx, s.pool, who.AgencyID, res)
		if rerr != nil {
			return nil, toStatus(ctx, s.logger, rerr)
		}
		if !reaches {
			err = auth.ErrUnknownUser
		}
	}
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

// WithLiaison sets the liaison service client the Cases service asks for a
// task force (its name and members) when a case is shared with it.
func (s *Server) WithLiaison(c liaisonv1.LiaisonServiceClient) *Server {
	s.sharing = c
	return s
}

// shareWithTaskforce shares the case with a task force: one group grant
// through the door. Decisions expand the group's membership when they
// decide (its current members, or under MEMBERSHIP_SNAPSHOT those of this
// moment), each capped by its own agreement with the lead.
func (s *Server) shareWithTaskforce(ctx context.Context, p *auth.Principal, req *casesv1.AddParticipantRequest) (*casesv1.AddParticipantResponse, error) {
	tfID := req.GetTaskforceId()
	if s.sharing == nil {
		return nil, status.Error(codes.FailedPrecondition, "task forces cannot be reached (no liaison service); nothing was shared")
	}
	tfr, err := s.sharing.GetTaskforce(rpc.ForwardIdentity(ctx), &liaisonv1.GetTaskforceRequest{TaskforceId: tfID})
	if status.Code(err) == codes.NotFound {
		return nil, rpc.FieldError("taskforceId", "no such task force")
	}
	if err != nil {
		return nil, err
	}
	tf := tfr.GetTaskforce()
	var members []string
	for _, m := range tf.GetMembers() {
		if m.GetCurrent() && m.GetAgencyId() != p.AgencyID {
			members = append(members, m.GetAgencyOri())
		}
	}
	mode := authz.MembershipFollow
	if req.GetMembership() == casesv1.Membership_MEMBERSHIP_SNAPSHOT {
		mode = authz.MembershipSnapshot
	}
	rel := relationName(req.GetRelation())
	expire := expiry(req)
	label := "task force " + tf.GetName()
	now := s.timestamp()
	var outcome *authz.GrantOutcome
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		outcome, err = authz.Grant(ctx, tx, p, authz.GrantRequest{
			Resource: caseResource(req.GetCaseId()), GroupID: tfID, Label: label, Via: tf.GetName(), Relation: rel, LeadAgencyID: p.AgencyID,
			ExpireTime: expire, Reason: req.GetReason(), OverrideReason: req.GetOverrideReason(), RefuseAbove: true,
			Membership: mode,
			Timeline: fmt.Sprintf("Shared with %s as %s (%s membership; members now: %s): %s", label, rel, mode,
				strings.Join(members, ", "), req.GetReason()),
		})
		if err != nil {
			return err
		}
		// Issue 18: each current member agency is told, separately.
		for _, m := range tf.GetMembers() {
			if m.GetCurrent() && m.GetAgencyId() != p.AgencyID {
				if err := emitShare(ctx, tx, req.GetCaseId(), m.GetAgencyId(), notify.CaseShared); err != nil {
					return err
				}
			}
		}
		audit.Annotate(ctx, func(e *audit.Event) {
			e.ResourceType, e.ResourceID = "taskforce_share", tfID
		})
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	// Who the share reaches now, after each member's own cap.
	rows, err := authz.Participants(ctx, s.pool, caseResource(req.GetCaseId()))
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	out := &casesv1.Participant{
		CaseId: req.GetCaseId(), AgencyName: tf.GetName(), Relation: req.GetRelation(), EffectiveRelation: req.GetRelation(),
		Via: "direct", CreateTime: timestamppb.New(now), TaskforceId: tfID, Membership: membershipEnum(mode),
		MemberAgencyIds: []string{},
	}
	for _, r := range rows {
		if r.GroupID == tfID && r.Effective != "" {
			out.MemberAgencyIds = append(out.MemberAgencyIds, r.AgencyID)
		}
	}
	governs(out, outcome)
	if expire != nil {
		out.ExpireTime = timestamppb.New(*expire)
	}
	return &casesv1.AddParticipantResponse{Participant: out}, nil
}
