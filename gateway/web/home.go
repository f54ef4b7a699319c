package web

import (
	"net/http"
	"slices"
	"strconv"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	referralsv1 "github.com/casebridge/casebridge/gen/casebridge/referrals/v1"
)

// myWork is the home page: cases that name me as investigator, my agency's
// open referral inbox (due and overdue), recently changed cases, and the
// chart of my agency's open cases.
func (a *App) myWork(w http.ResponseWriter, r *http.Request, s *session) {
	if s.publicEntity() {
		// A public entity's users have reports, not cases (issue 19).
		a.myReports(w, r, s)
		return
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	data := map[string]any{}
	cs, err := a.cases.ListCases(ctx, &casesv1.ListCasesRequest{PageSize: 100})
	if err != nil {
		data["CasesProblem"] = problemOf(err)
	} else {
		var mine []*casesv1.Case
		if m, err := a.cases.ListCases(ctx, &casesv1.ListCasesRequest{PageSize: 25, Filter: "assignee = me"}); err == nil {
			mine = m.GetCases()
		}
		recent := slices.Clone(cs.GetCases())
		slices.SortFunc(recent, func(x, y *casesv1.Case) int {
			return y.GetUpdateTime().AsTime().Compare(x.GetUpdateTime().AsTime())
		})
		if len(recent) > 8 {
			recent = recent[:8]
		}
		data["Mine"], data["Recent"] = mine, recent
	}
	var inbox []*referralsv1.Referral
	for _, st := range []string{"SUBMITTED", "ACKNOWLEDGED"} {
		resp, err := a.referrals.ListReferrals(ctx, &referralsv1.ListReferralsRequest{View: "inbox", Filter: "state = " + st, PageSize: 25})
		if err != nil {
			data["InboxProblem"] = problemOf(err)
			break
		}
		inbox = append(inbox, resp.GetReferrals()...)
	}
	data["Inbox"] = inbox
	out, err := a.referrals.ListReferrals(ctx, &referralsv1.ListReferralsRequest{View: "outbox", PageSize: 10})
	if err == nil {
		data["Outbox"] = out.GetReferrals()
	}
	// Deconfliction notices (issue 21): whom to call about a value another
	// agency also holds. A role that may not receive them sees no section.
	if dn, err := a.observables.ListDeconflictionNotices(ctx, &casesv1.ListDeconflictionNoticesRequest{PageSize: 50}); err == nil {
		data["Notices"] = dn.GetNotices()
		data["NoticesShown"] = true
	}
	data["Chart"] = a.openCasesChart(r, s)
	a.render(w, r, http.StatusOK, "home", s, data)
}

// openCasesChart counts my agency's open (not closed) cases by
// classification and month of opening, over at most 10 pages of the list.
func (a *App) openCasesChart(r *http.Request, s *session) string {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	var all []*casesv1.Case
	token := ""
	for range 10 {
		resp, err := a.cases.ListCases(ctx, &casesv1.ListCasesRequest{PageSize: 100, PageToken: token,
			Filter: "lead_agency = " + strconv.Quote(s.AgencyID) + " AND status != CLOSED"})
		if err != nil {
			return ""
		}
		all = append(all, resp.GetCases()...)
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	return openCasesSVG(all)
}

// chartSVG serves the same chart as an image of its own.
func (a *App) chartSVG(w http.ResponseWriter, r *http.Request, s *session) {
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(a.openCasesChart(r, s)))
}
