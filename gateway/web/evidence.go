package web

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	evidencev1 "github.com/casebridge/casebridge/gen/casebridge/evidence/v1"
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
)

// Custody on the exhibit page (issue 14): the holding agency's evidence
// custodians record check-outs, analysis, returns, check-ins, transfers to
// another agency and destruction; a back-dated event is a late entry with a
// reason. The form is shown only to them (the API refuses everyone else).

// custodyActions are the actions the form offers, in the order a custodian
// meets them.
var custodyActions = []string{
	"CUSTODY_ACTION_CHECK_OUT", "CUSTODY_ACTION_ANALYSIS", "CUSTODY_ACTION_RETURN", "CUSTODY_ACTION_CHECK_IN",
	"CUSTODY_ACTION_TRANSFER", "CUSTODY_ACTION_DESTRUCTION",
}

// isHoldingCustodian: the form is for the holding agency's custodians.
func isHoldingCustodian(s *session, e *evidencev1.Evidence) bool {
	return e.GetHoldingAgencyId() == s.AgencyID && slices.Contains(s.Roles, "evidence_custodian")
}

// addCustody records one custody event from the exhibit page.
func (a *App) addCustody(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "request_id", "action", "toCustodian", "toAgencyId", "location", "purpose", "eventTime", "lateEntry", "lateEntryReason")
	ev := &evidencev1.CustodyEvent{
		Action:      evidencev1.CustodyAction(evidencev1.CustodyAction_value[f["action"]]),
		ToCustodian: strings.TrimSpace(f["toCustodian"]), ToAgencyId: f["toAgencyId"], Location: f["location"],
		Purpose: f["purpose"], LateEntry: f["lateEntry"] == "on", LateEntryReason: f["lateEntryReason"],
	}
	if v := strings.TrimSpace(f["eventTime"]); v != "" {
		// datetime-local has no zone: it is read as UTC, which the form says.
		t, err := time.Parse("2006-01-02T15:04", v)
		if err != nil {
			a.renderEvidence(w, r, s, http.StatusBadRequest, map[string]any{"CustodyForm": f,
				"CustodyProblem": &problem{Status: 400, Message: "Please correct the fields marked below.", Fields: map[string]string{"event.eventTime": "a date and time"}}})
			return
		}
		ev.EventTime = timestamppb.New(t)
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	_, err := a.evidence.CreateCustodyEvent(ctx, &evidencev1.CreateCustodyEventRequest{EvidenceId: r.PathValue("id"), RequestId: f["request_id"], Event: ev})
	if err != nil {
		p := problemOf(err)
		a.renderEvidence(w, r, s, p.Status, map[string]any{"CustodyProblem": p, "CustodyForm": f})
		return
	}
	http.Redirect(w, r, "/evidence/"+r.PathValue("id")+"#custody", http.StatusSeeOther)
}

// custodyFormData adds what the custody form needs.
func (a *App) custodyFormData(r *http.Request, s *session, data map[string]any) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	data["Actions"] = custodyActions
	if ags, err := a.directory.ListAgencies(ctx, &liaisonv1.ListAgenciesRequest{PageSize: 100}); err == nil {
		var others []*liaisonv1.Agency
		for _, ag := range ags.GetAgencies() {
			if ag.GetId() != s.AgencyID && ag.GetActive() {
				others = append(others, ag)
			}
		}
		data["Agencies"] = others
	}
}

// integrityChecks are the chain's INTEGRITY_CHECK events, newest first.
func integrityChecks(evs []*evidencev1.CustodyEvent) []*evidencev1.CustodyEvent {
	var out []*evidencev1.CustodyEvent
	for _, e := range evs {
		if e.GetAction() == evidencev1.CustodyAction_CUSTODY_ACTION_INTEGRITY_CHECK {
			out = append(out, e)
		}
	}
	slices.Reverse(out)
	return out
}

// exportCase downloads the case package (lead supervisors): recipient and
// purpose are required, and named in the audit record.
func (a *App) exportCase(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "recipient", "purpose")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	resp, err := a.cases.ExportCase(ctx, &casesv1.ExportCaseRequest{CaseId: r.PathValue("id"),
		Recipient: strings.TrimSpace(f["recipient"]), Purpose: strings.TrimSpace(f["purpose"])})
	if err != nil {
		p := problemOf(err)
		a.renderCase(w, r, s, p.Status, map[string]any{"ExportProblem": p, "ExportForm": f})
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="case-package-`+r.PathValue("id")+`.zip"`)
	_, _ = w.Write(resp.GetBody().GetData())
}
