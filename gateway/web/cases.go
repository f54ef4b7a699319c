package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	evidencev1 "github.com/casebridge/casebridge/gen/casebridge/evidence/v1"
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	referralsv1 "github.com/casebridge/casebridge/gen/casebridge/referrals/v1"
)

// enumNames lists an enum's values without UNSPECIFIED, for <select>s.
func enumNames(m map[int32]string) []string {
	out := make([]string, 0, len(m))
	for i := int32(1); ; i++ {
		n, ok := m[i]
		if !ok {
			return out
		}
		out = append(out, n)
	}
}

// listCases is the case list: filters (status, classification, lead
// agency), full-text search and keyset pages (the API's page token).
func (a *App) listCases(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	var terms []string
	if v := q.Get("status"); v != "" {
		terms = append(terms, "status = "+strconv.Quote(v))
	}
	if v := q.Get("classification"); v != "" {
		terms = append(terms, "classification = "+strconv.Quote(v))
	}
	if v := q.Get("agency"); v != "" {
		terms = append(terms, "lead_agency = "+strconv.Quote(v))
	}
	if v := strings.TrimSpace(q.Get("q")); v != "" {
		terms = append(terms, strconv.Quote(v))
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	data := map[string]any{"Q": q, "Statuses": enumNames(casesv1.Status_name),
		"Classifications": enumNames(casesv1.Classification_name)}
	if ags, err := a.directory.ListAgencies(ctx, &liaisonv1.ListAgenciesRequest{PageSize: 100}); err == nil {
		data["Agencies"] = ags.GetAgencies()
	}
	resp, err := a.cases.ListCases(ctx, &casesv1.ListCasesRequest{PageSize: 25, PageToken: q.Get("page"), Filter: strings.Join(terms, " AND ")})
	if err != nil {
		data["Problem"] = problemOf(err)
		a.render(w, r, problemOf(err).Status, "cases", s, data)
		return
	}
	data["Cases"] = resp.GetCases()
	if t := resp.GetNextPageToken(); t != "" {
		next := r.URL.Query()
		next.Set("page", t)
		data["Next"] = "/cases?" + next.Encode()
	}
	a.render(w, r, http.StatusOK, "cases", s, data)
}

func (a *App) newCase(w http.ResponseWriter, r *http.Request, s *session) {
	a.render(w, r, http.StatusOK, "case_new", s, map[string]any{"Form": map[string]string{"request_id": uuid.NewString()},
		"Playbooks":       a.playbookChoices(r, s),
		"Classifications": enumNames(casesv1.Classification_name), "Priorities": enumNames(casesv1.Priority_name)})
}

// createCase opens a case; the form's request_id makes a double submit
// harmless (the API returns the first case).
func (a *App) createCase(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "request_id", "case.title", "case.summary", "case.classification", "case.priority", "case.affectedJurisdictions")
	c := &casesv1.Case{Title: f["case.title"], Summary: f["case.summary"],
		Classification: casesv1.Classification(casesv1.Classification_value[f["case.classification"]]),
		Priority:       casesv1.Priority(casesv1.Priority_value[f["case.priority"]])}
	for _, j := range strings.Split(f["case.affectedJurisdictions"], ",") {
		if j = strings.TrimSpace(j); j != "" {
			c.AffectedJurisdictions = append(c.AffectedJurisdictions, j)
		}
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	resp, err := a.cases.CreateCase(ctx, &casesv1.CreateCaseRequest{Case: c, RequestId: f["request_id"], PlaybookId: r.PostFormValue("playbook_id")})
	if err != nil {
		p := problemOf(err)
		a.render(w, r, p.Status, "case_new", s, map[string]any{"Form": f, "Problem": p, "Playbooks": a.playbookChoices(r, s),
			"Classifications": enumNames(casesv1.Classification_name), "Priorities": enumNames(casesv1.Priority_name)})
		return
	}
	a.redirect(w, r, "/cases/"+resp.GetCase().GetId())
}

// formValues reads the named fields of a posted form.
func formValues(r *http.Request, names ...string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		out[n] = r.PostFormValue(n)
	}
	return out
}

// section is one part of the case page: its data, or what the API said
// instead (a 403 for a requester reading notes is a normal answer).
type section struct {
	Items   any
	Problem *problem
}

func sectionOf(items any, err error) section {
	if err != nil {
		return section{Problem: problemOf(err)}
	}
	return section{Items: items}
}

// showCase is the case page. Each part comes from its own API call with the
// user's token; a part the API refuses shows the refusal instead. Status
// actions and the sharing and exhibit forms are offered to users of the
// lead agency only (a fact the API returns); whether their role may act is
// decided by the API, whose refusal is shown next to the form.
func (a *App) showCase(w http.ResponseWriter, r *http.Request, s *session) {
	a.renderCase(w, r, s, http.StatusOK, map[string]any{})
}

func (a *App) renderCase(w http.ResponseWriter, r *http.Request, s *session, code int, data map[string]any) {
	id := r.PathValue("id")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	got, err := a.cases.GetCase(ctx, &casesv1.GetCaseRequest{CaseId: id})
	if err != nil {
		a.fail(w, r, s, err)
		return
	}
	c := got.GetCase()
	data["Case"] = c
	data["Lead"] = c.GetLeadAgencyId() == s.AgencyID
	data["CanExport"] = data["Lead"] == true && slices.Contains(s.Roles, "supervisor")
	if _, ok := data["ExportForm"]; !ok {
		data["ExportForm"] = map[string]string{}
	}
	notes, err := a.cases.ListNotes(ctx, &casesv1.ListNotesRequest{CaseId: id, PageSize: 100})
	data["Notes"] = sectionOf(notes.GetNotes(), err)
	parts, err := a.cases.ListParticipants(ctx, &casesv1.ListParticipantsRequest{CaseId: id})
	data["Participants"] = sectionOf(parts.GetParticipants(), err)
	if err == nil {
		data["Graph"] = agencyGraph(c, parts.GetParticipants())
	}
	ev, err := a.evidence.ListEvidence(ctx, &evidencev1.ListEvidenceRequest{CaseId: id, PageSize: 100})
	data["Evidence"] = sectionOf(ev.GetEvidence(), err)
	a.caseObservables(r, s, id, data)
	refs, err := a.referrals.ListReferrals(ctx, &referralsv1.ListReferralsRequest{Filter: "case_id = " + id, PageSize: 50})
	data["Referrals"] = sectionOf(refs.GetReferrals(), err)
	if data["Lead"] == true {
		if ags, err := a.directory.ListAgencies(ctx, &liaisonv1.ListAgenciesRequest{PageSize: 100}); err == nil {
			data["Agencies"] = ags.GetAgencies()
		}
		if tfs, err := a.liaison.ListTaskforces(ctx, &liaisonv1.ListTaskforcesRequest{PageSize: 100}); err == nil {
			data["Taskforces"] = tfs.GetTaskforces()
		}
	}
	a.caseWork(ctx, id, data) // tasks and legal process (tasks.go)
	data["Relations"] = []string{"RELATION_CONTRIBUTOR", "RELATION_VIEWER"}
	data["Dispositions"] = enumNames(casesv1.Disposition_name)
	data["Kinds"] = enumNames(evidencev1.Kind_name)
	if _, ok := data["NoteForm"]; !ok {
		data["NoteForm"] = map[string]string{"request_id": uuid.NewString()}
	}
	if _, ok := data["EvidenceForm"]; !ok {
		data["EvidenceForm"] = map[string]string{"request_id": uuid.NewString()}
	}
	a.render(w, r, code, "case", s, data)
}

// afterWrite shows the case again: on success by redirecting to it (the
// browser's reload never re-posts), on failure with the problem next to
// the form that caused it (key names the form).
func (a *App) afterWrite(w http.ResponseWriter, r *http.Request, s *session, err error, key string, form map[string]string, anchor string) {
	if err == nil {
		a.redirect(w, r, "/cases/"+r.PathValue("id")+anchor)
		return
	}
	p := problemOf(err)
	if p.Code == codes.Unauthenticated || p.Code == codes.NotFound {
		a.fail(w, r, s, err)
		return
	}
	data := map[string]any{key + "Problem": p}
	if form != nil {
		data[key+"Form"] = form
	}
	a.renderCase(w, r, s, p.Status, data)
}

func (a *App) addNote(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "request_id", "note.body")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	_, err := a.cases.CreateNote(ctx, &casesv1.CreateNoteRequest{CaseId: r.PathValue("id"), RequestId: f["request_id"],
		Note: &casesv1.Note{Body: f["note.body"]}})
	a.afterWrite(w, r, s, err, "Note", f, "#timeline")
}

func (a *App) closeCase(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "reason", "disposition", "etag")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	_, err := a.cases.CloseCase(ctx, &casesv1.CloseCaseRequest{CaseId: r.PathValue("id"), Reason: f["reason"], Etag: f["etag"],
		Disposition: casesv1.Disposition(casesv1.Disposition_value[f["disposition"]])})
	a.afterWrite(w, r, s, err, "Status", f, "")
}

func (a *App) reopenCase(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "reason", "etag")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	_, err := a.cases.ReopenCase(ctx, &casesv1.ReopenCaseRequest{CaseId: r.PathValue("id"), Reason: f["reason"], Etag: f["etag"]})
	a.afterWrite(w, r, s, err, "Status", f, "")
}

// share adds a participant: an agency or a task force, a relation, an
// optional expiry (a date, end of that day UTC) and the reason.
func (a *App) share(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "target", "relation", "expireTime", "reason", "overrideReason", "membership")
	req := &casesv1.AddParticipantRequest{CaseId: r.PathValue("id"), Reason: f["reason"], OverrideReason: f["overrideReason"],
		Relation: casesv1.Relation(casesv1.Relation_value[f["relation"]])}
	switch kind, id, _ := strings.Cut(f["target"], ":"); kind {
	case "taskforce":
		req.TaskforceId = id
		req.Membership = casesv1.Membership(casesv1.Membership_value[f["membership"]])
	case "agency":
		req.AgencyId = id
	}
	if d := f["expireTime"]; d != "" {
		t, err := time.Parse("2006-01-02", d)
		if err != nil {
			a.renderCase(w, r, s, http.StatusBadRequest, map[string]any{"ShareForm": f,
				"ShareProblem": &problem{Status: 400, Message: "Please correct the fields marked below.", Fields: map[string]string{"expireTime": "give a date as YYYY-MM-DD"}}})
			return
		}
		req.ExpireTime = timestamppb.New(t.Add(24*time.Hour - time.Second))
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	_, err := a.cases.AddParticipant(ctx, req)
	a.afterWrite(w, r, s, err, "Share", f, "#participants")
}

// addEvidence registers an exhibit (the register entry; the bytes stay in
// the agency's evidence store).
func (a *App) addEvidence(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "request_id", "evidence.description", "evidence.kind", "evidence.sha256", "evidence.sizeBytes", "evidence.storageLocation")
	e := &evidencev1.Evidence{Description: f["evidence.description"], Kind: evidencev1.Kind(evidencev1.Kind_value[f["evidence.kind"]]),
		Sha256: strings.TrimSpace(f["evidence.sha256"]), StorageLocation: f["evidence.storageLocation"]}
	if v := strings.TrimSpace(f["evidence.sizeBytes"]); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			a.renderCase(w, r, s, http.StatusBadRequest, map[string]any{"EvidenceForm": f,
				"EvidenceProblem": &problem{Status: 400, Message: "Please correct the fields marked below.", Fields: map[string]string{"evidence.sizeBytes": "a whole number of bytes"}}})
			return
		}
		e.SizeBytes = n
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	_, err := a.evidence.CreateEvidence(ctx, &evidencev1.CreateEvidenceRequest{CaseId: r.PathValue("id"), RequestId: f["request_id"], Evidence: e})
	a.afterWrite(w, r, s, err, "Evidence", f, "#evidence")
}

// showEvidence is one exhibit: its register entry, the chain of custody,
// the chain's verification and the integrity-check form.
func (a *App) showEvidence(w http.ResponseWriter, r *http.Request, s *session) {
	a.renderEvidence(w, r, s, http.StatusOK, map[string]any{})
}

func (a *App) renderEvidence(w http.ResponseWriter, r *http.Request, s *session, code int, data map[string]any) {
	id := r.PathValue("id")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	got, err := a.evidence.GetEvidence(ctx, &evidencev1.GetEvidenceRequest{EvidenceId: id})
	if err != nil {
		a.fail(w, r, s, err)
		return
	}
	data["Item"] = got.GetEvidence()
	if _, ok := data["VerifyForm"]; !ok {
		data["VerifyForm"] = map[string]string{}
	}
	if _, ok := data["CustodyForm"]; !ok {
		data["CustodyForm"] = map[string]string{"request_id": uuid.NewString()}
	}
	data["Custodian"] = isHoldingCustodian(s, got.GetEvidence())
	if data["Custodian"] == true {
		a.custodyFormData(r, s, data)
	}
	ev, err := a.evidence.ListCustodyEvents(ctx, &evidencev1.ListCustodyEventsRequest{EvidenceId: id, PageSize: 100})
	data["Custody"] = sectionOf(ev.GetEvents(), err)
	data["Checks"] = integrityChecks(ev.GetEvents())
	chain, err := a.evidence.VerifyCustodyChain(ctx, &evidencev1.VerifyCustodyChainRequest{EvidenceId: id})
	data["Chain"] = sectionOf(chain, err)
	a.render(w, r, code, "evidence", s, data)
}

func (a *App) verifyEvidence(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "sha256", "tool", "comment", "confirm")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	// A mismatch marks the exhibit compromised for good: one mistyped hash
	// must not do that without the custodian confirming it.
	if f["confirm"] != "mismatch" {
		got, err := a.evidence.GetEvidence(ctx, &evidencev1.GetEvidenceRequest{EvidenceId: r.PathValue("id")})
		if err == nil && got.GetEvidence().GetSha256() != "" && !strings.EqualFold(strings.TrimSpace(f["sha256"]), got.GetEvidence().GetSha256()) &&
			len(strings.TrimSpace(f["sha256"])) == 64 {
			a.renderEvidence(w, r, s, http.StatusOK, map[string]any{"ConfirmMismatch": true, "VerifyForm": f})
			return
		}
	}
	resp, err := a.evidence.VerifyEvidence(ctx, &evidencev1.VerifyEvidenceRequest{EvidenceId: r.PathValue("id"),
		Sha256: strings.TrimSpace(f["sha256"]), Tool: f["tool"], Comment: f["comment"]})
	if err != nil {
		p := problemOf(err)
		a.renderEvidence(w, r, s, p.Status, map[string]any{"VerifyProblem": p, "VerifyForm": f})
		return
	}
	a.renderEvidence(w, r, s, http.StatusOK, map[string]any{"Check": resp.GetCheck()})
}
