package liaison

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/pagetoken"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/liaison/internal/store"
)

// PrivilegedRoles are granted only under the two-person rule: proposed by
// one admin, in force once a second admin of the same agency approves
// (CJIS Security Policy §5.5.2, least privilege).
var PrivilegedRoles = []string{"admin", "auditor", "supervisor"}

// Errors of the two-person rule.
var (
	errOwnAccount    = errors.New("nobody changes their own roles or active flag")
	errNeedsApproval = errors.New("privileged role needs a second admin")
	errGrantPending  = errors.New("a grant is already pending")
	errNotPending    = errors.New("grant is not pending")
	errSameAdmin     = errors.New("approver proposed the grant")
	errRolesMoved    = errors.New("roles changed since the proposal")
)

// addsPrivileged reports whether after holds a privileged role before
// does not.
func addsPrivileged(before, after []string) bool {
	for _, r := range after {
		if slices.Contains(PrivilegedRoles, r) && !slices.Contains(before, r) {
			return true
		}
	}
	return false
}

func sortedRoles(rs []string) []string {
	out := slices.Clone(rs)
	slices.Sort(out)
	return nonNil(slices.Compact(out))
}

// annotateRoles names the roles before and after a change in the audit
// record (in clear: role names are not sensitive).
func annotateRoles(ctx context.Context, before, after []string) {
	audit.Annotate(ctx, func(e *audit.Event) {
		e.RolesBefore, e.RolesAfter = append([]string{}, before...), append([]string{}, after...)
	})
}

func grantToProto(g *store.RoleGrant) *liaisonv1.RoleGrant {
	out := &liaisonv1.RoleGrant{
		Id: g.ID, AgencyId: g.AgencyID, UserId: g.UserID, UserEmail: g.UserEmail,
		Roles: g.Roles, PreviousRoles: g.PreviousRoles,
		State:          liaisonv1.RoleGrantState(liaisonv1.RoleGrantState_value["ROLE_GRANT_STATE_"+g.State]),
		ProposerUserId: g.ProposerID, ProposerEmail: g.ProposerEmail, DeciderEmail: g.DeciderEmail, Reason: g.Reason,
		CreateTime: timestamppb.New(g.CreateTime), UpdateTime: timestamppb.New(g.UpdateTime),
		Etag: etag("role_grant", g.ID, g.Version),
	}
	if g.DeciderID != nil {
		out.DeciderUserId = *g.DeciderID
	}
	if g.DecideTime != nil {
		out.DecideTime = timestamppb.New(*g.DecideTime)
	}
	return out
}

func annotateGrant(ctx context.Context, g *store.RoleGrant) {
	audit.Annotate(ctx, func(e *audit.Event) { e.ResourceType, e.ResourceID = "role_grant", g.ID })
}

// CreateRoleGrant proposes new roles for a user of the admin's agency.
func (s *DirectoryServer) CreateRoleGrant(ctx context.Context, req *liaisonv1.CreateRoleGrantRequest) (*liaisonv1.CreateRoleGrantResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, req.GetAgencyId(), "user", "update"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	if req.GetUserId() == p.UserID {
		return nil, toStatus(ctx, s.logger, errOwnAccount)
	}
	after := sortedRoles(req.GetRoleGrant().GetRoles())
	if err := rolesForKind(p.AgencyKind, after); err != nil {
		return nil, err
	}
	var out *store.RoleGrant
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		u, err := store.LockUser(ctx, tx, req.GetAgencyId(), req.GetUserId())
		if err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		g := &store.RoleGrant{
			ID: uuid.NewString(), AgencyID: u.AgencyID, UserID: u.ID, UserEmail: u.Email,
			Roles: after, PreviousRoles: sortedRoles(u.Roles), State: "PENDING",
			ProposerID: p.UserID, ProposerEmail: p.Email, CreateTime: now, UpdateTime: now, Version: 1,
		}
		if !addsPrivileged(u.Roles, after) {
			// Nothing privileged added: in force at once, recorded all the same.
			g.State, g.DeciderID, g.DeciderEmail, g.DecideTime = "APPLIED", &p.UserID, p.Email, &now
			u.Roles, u.UpdateTime = after, now
			if err := store.SaveUser(ctx, tx, u); err != nil {
				return err
			}
			annotateRoles(ctx, g.PreviousRoles, after)
		}
		if err := store.InsertRoleGrant(ctx, tx, g); err != nil {
			if errors.Is(err, postgres.ErrAlreadyExists) {
				return errGrantPending
			}
			return err
		}
		out = g
		annotateGrant(ctx, g)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.CreateRoleGrantResponse{RoleGrant: grantToProto(out)}, nil
}

// ListRoleGrants lists an agency's role grants, of one user or all ("-").
func (s *DirectoryServer) ListRoleGrants(ctx context.Context, req *liaisonv1.ListRoleGrantsRequest) (*liaisonv1.ListRoleGrantsResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, req.GetAgencyId(), "user", "update"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	q := store.GrantQuery{AgencyID: req.GetAgencyId(), Limit: pagetoken.PageSize(req.GetPageSize()) + 1}
	if req.GetUserId() != "-" {
		if _, err := store.GetUser(ctx, s.pool, req.GetAgencyId(), req.GetUserId()); err != nil {
			return nil, toStatus(ctx, s.logger, err)
		}
		q.UserID = req.GetUserId()
	}
	if st := req.GetState(); st != liaisonv1.RoleGrantState_ROLE_GRANT_STATE_UNSPECIFIED {
		q.State = st.String()[len("ROLE_GRANT_STATE_"):]
	}
	bind := pagetoken.Bind("ListRoleGrants", q.AgencyID, req.GetUserId(), q.State)
	keys, err := page(req.GetPageToken(), bind, 2)
	if err != nil {
		return nil, err
	}
	if keys != nil {
		if q.AfterTime, err = time.Parse(time.RFC3339Nano, keys[0]); err != nil {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
		q.AfterID = keys[1]
	}
	rows, err := store.ListRoleGrants(ctx, s.pool, q)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &liaisonv1.ListRoleGrantsResponse{}
	if len(rows) == q.Limit {
		rows = rows[:q.Limit-1]
		last := rows[len(rows)-1]
		resp.NextPageToken = pagetoken.Encode(bind, last.CreateTime.Format(time.RFC3339Nano), last.ID)
	}
	for _, g := range rows {
		resp.RoleGrants = append(resp.RoleGrants, grantToProto(g))
	}
	return resp, nil
}

// ApproveRoleGrant applies a pending grant: a second admin's decision.
func (s *DirectoryServer) ApproveRoleGrant(ctx context.Context, req *liaisonv1.ApproveRoleGrantRequest) (*liaisonv1.ApproveRoleGrantResponse, error) {
	g, err := s.decide(ctx, req.GetAgencyId(), req.GetUserId(), req.GetGrantId(), true, "")
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.ApproveRoleGrantResponse{RoleGrant: grantToProto(g)}, nil
}

// RejectRoleGrant refuses a pending grant.
func (s *DirectoryServer) RejectRoleGrant(ctx context.Context, req *liaisonv1.RejectRoleGrantRequest) (*liaisonv1.RejectRoleGrantResponse, error) {
	g, err := s.decide(ctx, req.GetAgencyId(), req.GetUserId(), req.GetGrantId(), false, req.GetReason())
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.RejectRoleGrantResponse{RoleGrant: grantToProto(g)}, nil
}

func (s *DirectoryServer) decide(ctx context.Context, agencyID, userID, grantID string, approve bool, reason string) (*store.RoleGrant, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, agencyID, "user", "update"); err != nil {
		return nil, err
	}
	if userID == p.UserID {
		return nil, errOwnAccount
	}
	var out *store.RoleGrant
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		// The user first, then the grant: the order CreateRoleGrant locks in.
		u, err := store.LockUser(ctx, tx, agencyID, userID)
		if err != nil {
			return err
		}
		g, err := store.LockRoleGrant(ctx, tx, agencyID, userID, grantID)
		if err != nil {
			return err
		}
		annotateGrant(ctx, g)
		switch {
		case g.State != "PENDING":
			return errNotPending
		case approve && g.ProposerID == p.UserID:
			return errSameAdmin
		case approve && !slices.Equal(sortedRoles(u.Roles), g.PreviousRoles):
			return errRolesMoved
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		g.DeciderID, g.DeciderEmail, g.DecideTime, g.Reason = &p.UserID, p.Email, &now, reason
		g.State = "REJECTED"
		if approve {
			g.State = "APPROVED"
			u.Roles, u.UpdateTime = g.Roles, now
			if err := store.SaveUser(ctx, tx, u); err != nil {
				return err
			}
			annotateRoles(ctx, g.PreviousRoles, g.Roles)
		}
		if err := store.DecideRoleGrant(ctx, tx, g); err != nil {
			return err
		}
		out = g
		return audit.Write(ctx, tx)
	})
	return out, err
}

// SignOut revokes the caller's bearer token.
func (s *DirectoryServer) SignOut(ctx context.Context, _ *liaisonv1.SignOutRequest) (*liaisonv1.SignOutResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.revokeCaller(ctx, tx, p); err != nil {
			return err
		}
		audit.Annotate(ctx, func(e *audit.Event) { e.ResourceType, e.ResourceID = "user", p.UserID })
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.SignOutResponse{}, nil
}

// SignOutEverywhere ends every session and token of the caller.
func (s *DirectoryServer) SignOutEverywhere(ctx context.Context, _ *liaisonv1.SignOutEverywhereRequest) (*liaisonv1.SignOutEverywhereResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := store.EndSessions(ctx, tx, p.UserID, time.Now()); err != nil {
			return err
		}
		if err := s.revokeCaller(ctx, tx, p); err != nil {
			return err
		}
		audit.Annotate(ctx, func(e *audit.Event) { e.ResourceType, e.ResourceID = "user", p.UserID })
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.SignOutEverywhereResponse{}, nil
}

func (s *DirectoryServer) revokeCaller(ctx context.Context, tx pgx.Tx, p *auth.Principal) error {
	if len(p.TokenHash) == 0 {
		return nil
	}
	exp := p.TokenExpiry
	if exp.IsZero() {
		exp = time.Now().Add(24 * time.Hour)
	}
	return store.RevokeToken(ctx, tx, p.UserID, p.TokenHash, exp)
}
