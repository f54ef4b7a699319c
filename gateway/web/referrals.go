package web

import (
	"net/http"
	"strings"

	"github.com/google/uuid"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	referralsv1 "github.com/casebridge/casebridge/gen/casebridge/referrals/v1"
)

// listReferrals is the inbox (sent to my agency) or the outbox (sent by
// it), with overdue flags and counts.
func (a *App) listReferrals(w http.ResponseWriter, r *http.Request, s *session) {
	view := r.URL.Query().Get("view")
	if view != "outbox" {
		view = "inbox"
	}
	filter := ""
	if r.URL.Query().Get("overdue") != "" {
		filter = "overdue = true"
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	data := map[string]any{"View": view, "Overdue": filter != ""}
	resp, err := a.referrals.ListReferrals(ctx, &referralsv1.ListReferralsRequest{View: view, Filter: filter, PageSize: 50, PageToken: r.URL.Query().Get("page")})
	if err != nil {
		p := problemOf(err)
		data["Problem"] = p
		a.render(w, r, p.Status, "referrals", s, data)
		return
	}
	data["Referrals"] = resp.GetReferrals()
	if t := resp.GetNextPageToken(); t != "" {
		q := r.URL.Query()
		q.Set("page", t)
		data["Next"] = "/referrals?" + q.Encode()
	}
	if st, err := a.referrals.GetReferralStats(ctx, &referralsv1.GetReferralStatsRequest{View: view}); err == nil {
		data["Stats"] = st.GetStats()
	}
	a.render(w, r, http.StatusOK, "referrals", s, data)
}

func (a *App) showReferral(w http.ResponseWriter, r *http.Request, s *session) {
	a.renderReferral(w, r, s, http.StatusOK, map[string]any{})
}

func (a *App) renderReferral(w http.ResponseWriter, r *http.Request, s *session, code int, data map[string]any) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	got, err := a.referrals.GetReferral(ctx, &referralsv1.GetReferralRequest{ReferralId: r.PathValue("id")})
	if err != nil {
		a.fail(w, r, s, err)
		return
	}
	ref := got.GetReferral()
	data["R"] = ref
	data["Recipient"] = ref.GetToAgencyId() == s.AgencyID
	data["Sender"] = ref.GetFromAgencyId() == s.AgencyID
	a.render(w, r, code, "referral", s, data)
}

// referralAction runs one lifecycle transition. The buttons offered follow
// the referral's state and whether my agency sent or received it; the API
// decides whether my role may.
func (a *App) referralAction(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	f := formValues(r, "etag", "reason", "comment", "overrideReason")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	var err error
	switch r.PathValue("action") {
	case "submit":
		_, err = a.referrals.SubmitReferral(ctx, &referralsv1.SubmitReferralRequest{ReferralId: id, Etag: f["etag"], OverrideReason: f["overrideReason"]})
	case "acknowledge":
		_, err = a.referrals.AcknowledgeReferral(ctx, &referralsv1.AcknowledgeReferralRequest{ReferralId: id, Etag: f["etag"], Comment: f["comment"]})
	case "accept":
		_, err = a.referrals.AcceptReferral(ctx, &referralsv1.AcceptReferralRequest{ReferralId: id, Etag: f["etag"], Comment: f["comment"]})
	case "decline":
		_, err = a.referrals.DeclineReferral(ctx, &referralsv1.DeclineReferralRequest{ReferralId: id, Etag: f["etag"], Reason: f["reason"]})
	case "return":
		_, err = a.referrals.ReturnReferral(ctx, &referralsv1.ReturnReferralRequest{ReferralId: id, Etag: f["etag"], Reason: f["reason"]})
	case "withdraw":
		_, err = a.referrals.WithdrawReferral(ctx, &referralsv1.WithdrawReferralRequest{ReferralId: id, Etag: f["etag"], Reason: f["reason"]})
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		p := problemOf(err)
		a.renderReferral(w, r, s, p.Status, map[string]any{"Problem": p, "Action": r.PathValue("action"), "Form": f})
		return
	}
	a.redirect(w, r, "/referrals/"+id)
}

// stateAgencies are the agencies of kind STATE: where municipal requests go.
func (a *App) stateAgencies(r *http.Request, s *session) []*liaisonv1.Agency {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	resp, err := a.directory.ListAgencies(ctx, &liaisonv1.ListAgenciesRequest{PageSize: 100})
	if err != nil {
		return nil
	}
	var out []*liaisonv1.Agency
	for _, ag := range resp.GetAgencies() {
		if ag.GetKind() == liaisonv1.AgencyKind_AGENCY_KIND_STATE && ag.GetActive() && ag.GetId() != s.AgencyID {
			out = append(out, ag)
		}
	}
	return out
}

func (a *App) assistanceData(r *http.Request, s *session, f map[string]string, p *problem) map[string]any {
	return map[string]any{"Form": f, "Problem": p, "To": a.stateAgencies(r, s),
		"Help": enumNames(referralsv1.HelpWanted_name), "Urgencies": enumNames(referralsv1.Urgency_name),
		"Checked": r.PostForm["referral.assistanceRequest.helpWanted"]}
}

// assistanceForm is the simplest possible request for help from the state
// unit.
func (a *App) assistanceForm(w http.ResponseWriter, r *http.Request, s *session) {
	f := map[string]string{"request_id": uuid.NewString(), "contact.name": s.Name, "contact.email": s.Email,
		"referral.assistanceRequest.urgency": "URGENCY_ROUTINE"}
	a.render(w, r, http.StatusOK, "assistance", s, a.assistanceData(r, s, f, nil))
}

// requestAssistance files the request and submits it at once: for the
// officer it is one step. The API has one summary field, so what happened,
// when and who is affected are written into it under headings.
func (a *App) requestAssistance(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "request_id", "to", "what", "when", "who", "referral.assistanceRequest.urgency",
		"contact.name", "contact.phone", "contact.email", "referral.assistanceRequest.localCaseNumber")
	var summary strings.Builder
	if v := strings.TrimSpace(f["what"]); v != "" {
		summary.WriteString(v)
		for _, part := range [][2]string{{"When", f["when"]}, {"Who is affected", f["who"]}} {
			if v := strings.TrimSpace(part[1]); v != "" {
				summary.WriteString("\n\n" + part[0] + ": " + v)
			}
		}
	}
	ar := &referralsv1.AssistanceRequest{
		Urgency:         referralsv1.Urgency(referralsv1.Urgency_value[f["referral.assistanceRequest.urgency"]]),
		Contact:         &referralsv1.Contact{Name: f["contact.name"], Phone: strings.TrimSpace(f["contact.phone"]), Email: strings.TrimSpace(f["contact.email"])},
		LocalCaseNumber: f["referral.assistanceRequest.localCaseNumber"],
	}
	for _, h := range r.PostForm["referral.assistanceRequest.helpWanted"] {
		ar.HelpWanted = append(ar.HelpWanted, referralsv1.HelpWanted(referralsv1.HelpWanted_value[h]))
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	resp, err := a.referrals.CreateReferral(ctx, &referralsv1.CreateReferralRequest{RequestId: f["request_id"], Referral: &referralsv1.Referral{
		Kind: referralsv1.ReferralKind_REFERRAL_KIND_ASSISTANCE_REQUEST, ToAgencyId: f["to"], Summary: summary.String(), AssistanceRequest: ar}})
	if err != nil {
		p := problemOf(err)
		// The summary is made of "what happened"; the contact fields are
		// named by their path in the request.
		if m, ok := p.Fields["referral.summary"]; ok {
			p.Fields["what"] = m
		}
		for _, k := range []string{"name", "phone", "email"} {
			if m, ok := p.Fields["referral.assistanceRequest.contact."+k]; ok {
				p.Fields["contact."+k] = m
			}
		}
		if m, ok := p.Fields["referral.assistanceRequest.contact"]; ok {
			p.Fields["contact.phone"] = m
		}
		if m, ok := p.Fields["referral.toAgencyId"]; ok {
			p.Fields["to"] = m
		}
		a.render(w, r, p.Status, "assistance", s, a.assistanceData(r, s, f, p))
		return
	}
	ref := resp.GetReferral()
	if ref.GetState() == referralsv1.ReferralState_REFERRAL_STATE_DRAFT {
		if _, err := a.referrals.SubmitReferral(ctx, &referralsv1.SubmitReferralRequest{ReferralId: ref.GetId(), Etag: ref.GetEtag()}); err != nil {
			// The draft exists: show it with the reason it is not sent.
			r.SetPathValue("id", ref.GetId())
			p := problemOf(err)
			a.renderReferral(w, r, s, p.Status, map[string]any{"Problem": p})
			return
		}
	}
	a.redirect(w, r, "/referrals/"+ref.GetId())
}

func (a *App) referData(r *http.Request, s *session, f map[string]string, p *problem) map[string]any {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	data := map[string]any{"Form": f, "Problem": p, "Reasons": enumNames(referralsv1.ReferralReason_name),
		"Shares": enumNames(referralsv1.ShareRelation_name), "CheckedNotes": r.PostForm["noteIds"]}
	if c, err := a.cases.GetCase(ctx, &casesv1.GetCaseRequest{CaseId: r.PathValue("id")}); err == nil {
		data["Case"] = c.GetCase()
	}
	if n, err := a.cases.ListNotes(ctx, &casesv1.ListNotesRequest{CaseId: r.PathValue("id"), PageSize: 100}); err == nil {
		var notes []*casesv1.Note
		for _, x := range n.GetNotes() {
			if x.GetKind() == casesv1.NoteKind_NOTE_KIND_NOTE {
				notes = append(notes, x)
			}
		}
		data["Notes"] = notes
	}
	if ags, err := a.directory.ListAgencies(ctx, &liaisonv1.ListAgenciesRequest{PageSize: 100}); err == nil {
		var out []*liaisonv1.Agency
		for _, ag := range ags.GetAgencies() {
			if ag.GetId() != s.AgencyID && ag.GetActive() {
				out = append(out, ag)
			}
		}
		data["Agencies"] = out
	}
	return data
}

// referForm refers a case to a partner agency (liaisons and supervisors of
// the lead agency, as the API decides).
func (a *App) referForm(w http.ResponseWriter, r *http.Request, s *session) {
	f := map[string]string{"request_id": uuid.NewString(), "includeSummary": "on", "shareRelation": "SHARE_RELATION_CONTRIBUTOR"}
	data := a.referData(r, s, f, nil)
	if data["Case"] == nil {
		a.fail(w, r, s, errNotFound)
		return
	}
	a.render(w, r, http.StatusOK, "refer", s, data)
}

func (a *App) refer(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "request_id", "referral.toAgencyId", "referral.summary", "reason", "requestedAction", "shareRelation", "includeSummary", "includeEvidence", "overrideReason")
	cr := &referralsv1.CaseReferral{
		OverrideReason:  f["overrideReason"],
		Reason:          referralsv1.ReferralReason(referralsv1.ReferralReason_value[f["reason"]]),
		RequestedAction: f["requestedAction"],
		ShareRelation:   referralsv1.ShareRelation(referralsv1.ShareRelation_value[f["shareRelation"]]),
		Package: &referralsv1.PackageSelection{IncludeSummary: f["includeSummary"] != "", IncludeEvidenceList: f["includeEvidence"] != "",
			NoteIds: r.PostForm["noteIds"]},
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	resp, err := a.referrals.CreateReferral(ctx, &referralsv1.CreateReferralRequest{RequestId: f["request_id"], Referral: &referralsv1.Referral{
		Kind: referralsv1.ReferralKind_REFERRAL_KIND_REFERRAL, ToAgencyId: f["referral.toAgencyId"], CaseId: r.PathValue("id"),
		Summary: f["referral.summary"], CaseReferral: cr}})
	if err != nil {
		p := problemOf(err)
		if m, ok := p.Fields["referral.caseReferral.reason"]; ok {
			p.Fields["reason"] = m
		}
		a.render(w, r, p.Status, "refer", s, a.referData(r, s, f, p))
		return
	}
	ref := resp.GetReferral()
	if ref.GetState() == referralsv1.ReferralState_REFERRAL_STATE_DRAFT {
		if _, err := a.referrals.SubmitReferral(ctx, &referralsv1.SubmitReferralRequest{ReferralId: ref.GetId(), Etag: ref.GetEtag()}); err != nil {
			r.SetPathValue("id", ref.GetId())
			p := problemOf(err)
			a.renderReferral(w, r, s, p.Status, map[string]any{"Problem": p, "Action": "submit", "Form": f})
			return
		}
	}
	a.redirect(w, r, "/referrals/"+ref.GetId())
}
