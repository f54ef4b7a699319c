package web

import (
	"net/http"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
)

// allRoles are the roles an admin can give, in the order the forms list
// them; privileged ones take effect only when a second admin approves.
var allRoles = []string{"detective", "supervisor", "liaison", "analyst", "evidence_custodian", "auditor", "admin"}

// privilegedRoles need the two-person rule (services/liaison.PrivilegedRoles).
var privilegedRoles = []string{"admin", "auditor", "supervisor"}

// listUsers is the admin's page of their agency's users: the roster, the
// role changes waiting for a second admin, and a form to add an account.
// Non-admins see the roster only (the API lets them read it).
func (a *App) listUsers(w http.ResponseWriter, r *http.Request, s *session) {
	a.renderUsers(w, r, s, http.StatusOK, map[string]any{})
}

func (a *App) renderUsers(w http.ResponseWriter, r *http.Request, s *session, code int, data map[string]any) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	us, err := a.directory.ListUsers(ctx, &liaisonv1.ListUsersRequest{AgencyId: s.AgencyID, PageSize: 100, PageToken: r.URL.Query().Get("page")})
	if err != nil {
		a.fail(w, r, s, err)
		return
	}
	data["Users"] = us.GetUsers()
	if t := us.GetNextPageToken(); t != "" {
		data["Next"] = "/users?page=" + urlQueryEscape(t)
	}
	if slices.Contains(s.Roles, "admin") {
		gs, err := a.directory.ListRoleGrants(ctx, &liaisonv1.ListRoleGrantsRequest{AgencyId: s.AgencyID, UserId: "-",
			State: liaisonv1.RoleGrantState_ROLE_GRANT_STATE_PENDING, PageSize: 100})
		data["Pending"] = sectionOf(gs.GetRoleGrants(), err)
		data["Admin"] = true
	}
	if _, ok := data["Form"]; !ok {
		data["Form"] = map[string]string{}
	}
	data["Roles"], data["Privileged"], data["Done"] = allRoles, privilegedRoles, r.URL.Query().Get("done")
	a.render(w, r, code, "users", s, data)
}

// createUser adds an account (without privileged roles: those are proposed
// afterwards, for a second admin to approve).
func (a *App) createUser(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "user.email", "user.displayName")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	resp, err := a.directory.CreateUser(ctx, &liaisonv1.CreateUserRequest{AgencyId: s.AgencyID, User: &liaisonv1.User{
		Email: strings.TrimSpace(f["user.email"]), DisplayName: f["user.displayName"], Roles: r.PostForm["user.roles"]}})
	if err != nil {
		p := problemOf(err)
		if p.Code == codes.Unauthenticated {
			a.fail(w, r, s, err)
			return
		}
		a.renderUsers(w, r, s, p.Status, map[string]any{"Problem": p, "Form": f, "Checked": r.PostForm["user.roles"]})
		return
	}
	a.redirect(w, r, "/users/"+resp.GetUser().GetId())
}

// showUser is one account: its name, roles (a proposal form for another
// admin's approval), role-change history and the active switch. An admin's
// own account shows no role or active form: nobody changes their own.
func (a *App) showUser(w http.ResponseWriter, r *http.Request, s *session) {
	a.renderUser(w, r, s, http.StatusOK, map[string]any{})
}

func (a *App) renderUser(w http.ResponseWriter, r *http.Request, s *session, code int, data map[string]any) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	id := r.PathValue("id")
	u, err := a.directory.GetUser(ctx, &liaisonv1.GetUserRequest{AgencyId: s.AgencyID, UserId: id})
	if err != nil {
		a.fail(w, r, s, err)
		return
	}
	data["User"] = u.GetUser()
	data["Self"] = id == s.UserID
	admin := slices.Contains(s.Roles, "admin")
	data["Admin"] = admin
	if admin {
		gs, err := a.directory.ListRoleGrants(ctx, &liaisonv1.ListRoleGrantsRequest{AgencyId: s.AgencyID, UserId: id, PageSize: 20})
		data["Grants"] = sectionOf(gs.GetRoleGrants(), err)
		for _, g := range gs.GetRoleGrants() {
			if g.GetState() == liaisonv1.RoleGrantState_ROLE_GRANT_STATE_PENDING {
				data["PendingGrant"] = g
			}
		}
	}
	if _, ok := data["Checked"]; !ok {
		data["Checked"] = u.GetUser().GetRoles()
	}
	data["Roles"], data["Privileged"], data["Done"] = allRoles, privilegedRoles, r.URL.Query().Get("done")
	a.render(w, r, code, "user", s, data)
}

// userAction handles the forms of the user page.
func (a *App) userAction(w http.ResponseWriter, r *http.Request, s *session) {
	// The CSRF check may have come from a header (htmx), leaving the form
	// unparsed; the roles are read as a list below.
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	id := r.PathValue("id")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	var err error
	var notice string
	switch r.PathValue("action") {
	case "name":
		_, err = a.directory.UpdateUser(ctx, &liaisonv1.UpdateUserRequest{
			User:       &liaisonv1.User{Id: id, AgencyId: s.AgencyID, DisplayName: strings.TrimSpace(r.PostFormValue("user.displayName"))},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
		notice = "Name saved."
	case "roles":
		var g *liaisonv1.CreateRoleGrantResponse
		g, err = a.directory.CreateRoleGrant(ctx, &liaisonv1.CreateRoleGrantRequest{AgencyId: s.AgencyID, UserId: id,
			RoleGrant: &liaisonv1.RoleGrant{Roles: r.PostForm["roleGrant.roles"]}})
		notice = "Roles changed."
		if g.GetRoleGrant().GetState() == liaisonv1.RoleGrantState_ROLE_GRANT_STATE_PENDING {
			notice = "Role change proposed. It takes effect when a second admin of your agency approves it."
		}
	case "approve":
		_, err = a.directory.ApproveRoleGrant(ctx, &liaisonv1.ApproveRoleGrantRequest{AgencyId: s.AgencyID, UserId: id, GrantId: r.PostFormValue("grant")})
		notice = "Role change approved: it is in force now."
	case "reject":
		_, err = a.directory.RejectRoleGrant(ctx, &liaisonv1.RejectRoleGrantRequest{AgencyId: s.AgencyID, UserId: id,
			GrantId: r.PostFormValue("grant"), Reason: r.PostFormValue("reason")})
		notice = "Role change rejected."
	case "deactivate":
		_, err = a.directory.DeactivateUser(ctx, &liaisonv1.DeactivateUserRequest{AgencyId: s.AgencyID, UserId: id})
		notice = "Account deactivated: its sessions have ended."
	case "reactivate":
		_, err = a.directory.UpdateUser(ctx, &liaisonv1.UpdateUserRequest{
			User:       &liaisonv1.User{Id: id, AgencyId: s.AgencyID, Active: true},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"active"}}})
		notice = "Account reactivated."
	default:
		a.fail(w, r, s, errNotFound)
		return
	}
	if err != nil {
		p := problemOf(err)
		if p.Code == codes.Unauthenticated {
			a.fail(w, r, s, err)
			return
		}
		data := map[string]any{"Problem": p}
		if r.PathValue("action") == "roles" {
			data["Checked"] = r.PostForm["roleGrant.roles"]
		}
		a.renderUser(w, r, s, p.Status, data)
		return
	}
	back := "/users/" + id + "?done=" + urlQueryEscape(notice)
	if r.PostFormValue("back") == "list" {
		back = "/users?done=" + urlQueryEscape(notice)
	}
	a.redirect(w, r, back)
}
