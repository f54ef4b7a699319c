package web

import (
	"net/http"

	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
)

// listAgencies is the directory with task forces and agreements.
func (a *App) listAgencies(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	ags, err := a.directory.ListAgencies(ctx, &liaisonv1.ListAgenciesRequest{PageSize: 100})
	if err != nil {
		a.fail(w, r, s, err)
		return
	}
	data := map[string]any{"Agencies": ags.GetAgencies()}
	names := map[string]string{}
	for _, ag := range ags.GetAgencies() {
		names[ag.GetId()] = ag.GetName()
	}
	data["Names"] = names
	tfs, err := a.liaison.ListTaskforces(ctx, &liaisonv1.ListTaskforcesRequest{PageSize: 100})
	data["Taskforces"] = sectionOf(tfs.GetTaskforces(), err)
	agr, err := a.liaison.ListAgreements(ctx, &liaisonv1.ListAgreementsRequest{PageSize: 100})
	data["Agreements"] = sectionOf(agr.GetAgreements(), err)
	a.render(w, r, http.StatusOK, "agencies", s, data)
}

// showAgency is one agency with its points of contact and liaison officers.
func (a *App) showAgency(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	id := r.PathValue("id")
	ag, err := a.directory.GetAgency(ctx, &liaisonv1.GetAgencyRequest{AgencyId: id})
	if err != nil {
		a.fail(w, r, s, err)
		return
	}
	data := map[string]any{"Agency": ag.GetAgency()}
	cs, err := a.liaison.ListContacts(ctx, &liaisonv1.ListContactsRequest{AgencyId: id, PageSize: 100})
	data["Contacts"] = sectionOf(cs.GetContacts(), err)
	ls, err := a.liaison.ListLiaisonAssignments(ctx, &liaisonv1.ListLiaisonAssignmentsRequest{AgencyId: id, PageSize: 100})
	data["Liaisons"] = sectionOf(ls.GetLiaisons(), err)
	a.render(w, r, http.StatusOK, "agency", s, data)
}
