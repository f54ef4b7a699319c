// Package liaison is the Liaison service (casebridge.liaison.v1): the agency
// directory — agencies and users — and the relationships between agencies.
package liaison

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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

// DirectoryServer implements liaisonv1.DirectoryServiceServer.
type DirectoryServer struct {
	liaisonv1.UnimplementedDirectoryServiceServer
	pool   *pgxpool.Pool
	authz  *authz.Authorizer
	logger *slog.Logger
}

// NewDirectoryServer returns the directory on pool.
func NewDirectoryServer(pool *pgxpool.Pool, az *authz.Authorizer, logger *slog.Logger) *DirectoryServer {
	return &DirectoryServer{pool: pool, authz: az, logger: logger}
}

func agencyToProto(a *store.Agency) *liaisonv1.Agency {
	return &liaisonv1.Agency{
		Id: a.ID, Ori: a.ORI, Name: a.Name,
		Kind:         liaisonv1.AgencyKind(liaisonv1.AgencyKind_value["AGENCY_KIND_"+a.Kind]),
		Jurisdiction: a.Jurisdiction, Active: a.Active,
		Sector:     liaisonv1.AgencySector(liaisonv1.AgencySector_value["AGENCY_SECTOR_"+a.Sector]),
		CreateTime: timestamppb.New(a.CreateTime), UpdateTime: timestamppb.New(a.UpdateTime),
	}
}

func userToProto(u *store.User) *liaisonv1.User {
	out := &liaisonv1.User{
		Id: u.ID, AgencyId: u.AgencyID, Email: u.Email, DisplayName: u.DisplayName, Roles: u.Roles,
		Active: u.Active, CreateTime: timestamppb.New(u.CreateTime), UpdateTime: timestamppb.New(u.UpdateTime),
		Etag: etag("user", u.ID, u.Version),
	}
	if u.Issuer != nil {
		out.Issuer = *u.Issuer
	}
	if u.Subject != nil {
		out.Subject = *u.Subject
	}
	return out
}

// ListAgencies lists every agency; the directory is readable by every
// authenticated user.
func (s *DirectoryServer) ListAgencies(ctx context.Context, req *liaisonv1.ListAgenciesRequest) (*liaisonv1.ListAgenciesResponse, error) {
	if _, err := auth.Require(ctx); err != nil {
		return nil, err
	}
	bind := pagetoken.Bind("ListAgencies")
	keys, err := page(req.GetPageToken(), bind, 1)
	if err != nil {
		return nil, err
	}
	after := ""
	if keys != nil {
		after = keys[0]
	}
	limit := pagetoken.PageSize(req.GetPageSize()) + 1
	rows, err := store.ListAgencies(ctx, s.pool, after, limit)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &liaisonv1.ListAgenciesResponse{}
	if len(rows) == limit {
		rows = rows[:limit-1]
		resp.NextPageToken = pagetoken.Encode(bind, rows[len(rows)-1].ORI)
	}
	for _, a := range rows {
		resp.Agencies = append(resp.Agencies, agencyToProto(a))
	}
	return resp, nil
}

// GetAgency returns one agency.
func (s *DirectoryServer) GetAgency(ctx context.Context, req *liaisonv1.GetAgencyRequest) (*liaisonv1.GetAgencyResponse, error) {
	if _, err := auth.Require(ctx); err != nil {
		return nil, err
	}
	a, err := store.GetAgency(ctx, s.pool, req.GetAgencyId())
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.GetAgencyResponse{Agency: agencyToProto(a)}, nil
}

// GetCurrentUser returns the caller's account and agency, as resolved from
// their token on this very request.
func (s *DirectoryServer) GetCurrentUser(ctx context.Context, _ *liaisonv1.GetCurrentUserRequest) (*liaisonv1.GetCurrentUserResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	a, err := store.GetAgency(ctx, s.pool, p.AgencyID)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.GetCurrentUserResponse{
		User: &liaisonv1.User{Id: p.UserID, AgencyId: p.AgencyID, Email: p.Email, DisplayName: p.DisplayName,
			Roles: p.Roles, Active: true, Issuer: p.Issuer, Subject: p.Subject},
		Agency: agencyToProto(a),
	}, nil
}

// ListUsers lists the users of the caller's own agency.
func (s *DirectoryServer) ListUsers(ctx context.Context, req *liaisonv1.ListUsersRequest) (*liaisonv1.ListUsersResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := store.GetAgency(ctx, s.pool, req.GetAgencyId()); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	if err := s.authz.AuthorizeAgency(p, req.GetAgencyId(), "user", "read"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	bind := pagetoken.Bind("ListUsers", req.GetAgencyId())
	keys, err := page(req.GetPageToken(), bind, 1)
	if err != nil {
		return nil, err
	}
	after := ""
	if keys != nil {
		after = keys[0]
	}
	limit := pagetoken.PageSize(req.GetPageSize()) + 1
	rows, err := store.ListUsers(ctx, s.pool, req.GetAgencyId(), after, limit)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &liaisonv1.ListUsersResponse{}
	if len(rows) == limit {
		rows = rows[:limit-1]
		resp.NextPageToken = pagetoken.Encode(bind, strings.ToLower(rows[len(rows)-1].Email))
	}
	for _, u := range rows {
		resp.Users = append(resp.Users, userToProto(u))
	}
	return resp, nil
}

// GetUser returns one user of the caller's own agency.
func (s *DirectoryServer) GetUser(ctx context.Context, req *liaisonv1.GetUserRequest) (*liaisonv1.GetUserResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, req.GetAgencyId(), "user", "read"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	u, err := store.GetUser(ctx, s.pool, req.GetAgencyId(), req.GetUserId())
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.GetUserResponse{User: userToProto(u)}, nil
}

// CreateUser adds an account to the admin's own agency.
func (s *DirectoryServer) CreateUser(ctx context.Context, req *liaisonv1.CreateUserRequest) (*liaisonv1.CreateUserResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, req.GetAgencyId(), "user", "create"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	in := req.GetUser()
	if err := rolesForKind(p.AgencyKind, in.GetRoles()); err != nil {
		return nil, err
	}
	if addsPrivileged(nil, in.GetRoles()) {
		// An account created with admin would be a privilege granted by
		// one person: create it without, then propose the role.
		return nil, toStatus(ctx, s.logger, errNeedsApproval)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	u := &store.User{
		ID: uuid.NewString(), AgencyID: req.GetAgencyId(), Email: strings.ToLower(in.GetEmail()),
		DisplayName: in.GetDisplayName(), Roles: nonNil(in.GetRoles()), Active: true, CreateTime: now, UpdateTime: now, Version: 1,
	}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := store.InsertUser(ctx, tx, u); err != nil {
			return err
		}
		annotateUser(ctx, u)
		annotateRoles(ctx, []string{}, u.Roles)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.CreateUserResponse{User: userToProto(u)}, nil
}

// CreateAgency registers a public entity and, optionally, its first
// administrator. Only public entities are registered through the API: law
// enforcement agencies join by the operators' provisioning.
func (s *DirectoryServer) CreateAgency(ctx context.Context, req *liaisonv1.CreateAgencyRequest) (*liaisonv1.CreateAgencyResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeOwnAgency(p, "agency", "create"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	a := &store.Agency{ID: uuid.NewString(), ORI: req.GetOri(), Name: req.GetName(), Kind: "PUBLIC_ENTITY",
		Jurisdiction: req.GetJurisdiction(), Sector: strings.TrimPrefix(req.GetSector().String(), "AGENCY_SECTOR_"),
		Active: true, CreateTime: now, UpdateTime: now}
	resp := &liaisonv1.CreateAgencyResponse{}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := store.InsertAgency(ctx, tx, a); err != nil {
			if errors.Is(err, postgres.ErrAlreadyExists) {
				return rpc.FieldError("ori", "an agency with this identifier is already registered")
			}
			return err
		}
		audit.Annotate(ctx, func(e *audit.Event) { e.ResourceType, e.ResourceID = "agency", a.ID })
		if req.GetAdminEmail() != "" {
			u := &store.User{ID: uuid.NewString(), AgencyID: a.ID, Email: strings.ToLower(req.GetAdminEmail()),
				Roles: []string{"admin"}, Active: true, CreateTime: now, UpdateTime: now, Version: 1}
			if err := store.InsertUser(ctx, tx, u); err != nil {
				if errors.Is(err, postgres.ErrAlreadyExists) {
					return rpc.FieldError("adminEmail", "an account with this e-mail exists")
				}
				return err
			}
			resp.Admin = userToProto(u)
		}
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp.Agency = agencyToProto(a)
	return resp, nil
}

func annotateUser(ctx context.Context, u *store.User) {
	audit.Annotate(ctx, func(e *audit.Event) { e.ResourceType, e.ResourceID = "user", u.ID })
}

// rolesForKind refuses roles that would not count in the admin's own agency
// (its kind): a public entity's users are reporters or admins, and only
// they are reporters (issue 19; authz.RoleAllowed).
func rolesForKind(kind string, roles []string) error {
	for _, r := range roles {
		if !authz.RoleAllowed(kind, r) {
			if kind == "PUBLIC_ENTITY" {
				return rpc.FieldError("user.roles", "a public entity's users are reporter or admin, not "+r)
			}
			return rpc.FieldError("user.roles", r+" is the role of a public entity's users")
		}
	}
	return nil
}

// UpdateUser changes display_name, roles or active. Nobody changes their
// own roles or active flag; roles may be removed here, or non-privileged
// ones added, while adding a privileged role goes through CreateRoleGrant.
// Deactivating ends the user's sessions (sessions_valid_after).
func (s *DirectoryServer) UpdateUser(ctx context.Context, req *liaisonv1.UpdateUserRequest) (*liaisonv1.UpdateUserResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetUser()
	// Server-owned or immutable fields sent back unchanged are ignored.
	mask, err := mask(req.GetUpdateMask().GetPaths(), []string{"display_name", "roles", "active"},
		[]string{"id", "agency_id", "etag", "email", "issuer", "subject", "create_time", "update_time"})
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, in.GetAgencyId(), "user", "update"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	if mask["roles"] {
		if err := rolesForKind(p.AgencyKind, in.GetRoles()); err != nil {
			return nil, err
		}
	}
	if in.GetId() == p.UserID && (mask["active"] || mask["roles"]) {
		return nil, toStatus(ctx, s.logger, errOwnAccount)
	}
	u, err := s.mutateUser(ctx, in.GetAgencyId(), in.GetId(), in.GetEtag(), func(tx pgx.Tx, u *store.User) error {
		if mask["display_name"] {
			u.DisplayName = in.GetDisplayName()
		}
		if mask["roles"] {
			after := sortedRoles(in.GetRoles())
			if addsPrivileged(u.Roles, after) {
				return errNeedsApproval
			}
			annotateRoles(ctx, sortedRoles(u.Roles), after)
			u.Roles = after
		}
		if mask["active"] && u.Active && !in.GetActive() {
			u.Active = false
			return store.EndSessions(ctx, tx, u.ID, time.Now())
		}
		if mask["active"] {
			u.Active = in.GetActive()
		}
		return nil
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.UpdateUserResponse{User: userToProto(u)}, nil
}

// DeactivateUser refuses the user from their next request on.
func (s *DirectoryServer) DeactivateUser(ctx context.Context, req *liaisonv1.DeactivateUserRequest) (*liaisonv1.DeactivateUserResponse, error) {
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
	u, err := s.mutateUser(ctx, req.GetAgencyId(), req.GetUserId(), "", func(tx pgx.Tx, u *store.User) error {
		u.Active = false
		// Every token and web session issued so far ends with the account,
		// and stays ended should the account be reactivated.
		return store.EndSessions(ctx, tx, u.ID, time.Now())
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &liaisonv1.DeactivateUserResponse{User: userToProto(u)}, nil
}

func (s *DirectoryServer) mutateUser(ctx context.Context, agencyID, id, wantEtag string, fn func(pgx.Tx, *store.User) error) (*store.User, error) {
	var out *store.User
	err := postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		u, err := store.LockUser(ctx, tx, agencyID, id)
		if err != nil {
			return err
		}
		if wantEtag != "" && wantEtag != etag("user", u.ID, u.Version) {
			return errStale
		}
		if err := fn(tx, u); err != nil {
			return err
		}
		u.UpdateTime = time.Now().UTC().Truncate(time.Microsecond)
		if err := store.SaveUser(ctx, tx, u); err != nil {
			return err
		}
		out = u
		annotateUser(ctx, u)
		return audit.Write(ctx, tx)
	})
	return out, err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
