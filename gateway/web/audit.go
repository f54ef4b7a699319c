package web

import (
	"net/http"
	"strings"
	"time"

	auditv1 "github.com/casebridge/casebridge/gen/casebridge/audit/v1"
	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
)

// auditPage is the case disclosure report: pick a case (by id, or by case
// number among the cases I can see), read its report page by page, download
// it as CSV.
func (a *App) auditPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	data := map[string]any{"Q": q.Get("case")}
	caseID := strings.TrimSpace(q.Get("case"))
	if caseID == "" {
		a.render(w, r, http.StatusOK, "audit", s, data)
		return
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	if !looksLikeUUID(caseID) { // a case number: find it among my cases
		resp, err := a.cases.ListCases(ctx, &casesv1.ListCasesRequest{PageSize: 100, Filter: `"` + strings.ReplaceAll(caseID, `"`, "") + `"`})
		caseID = ""
		if err == nil {
			for _, c := range resp.GetCases() {
				if strings.EqualFold(c.GetCaseNumber(), strings.TrimSpace(q.Get("case"))) {
					caseID = c.GetId()
				}
			}
		}
		if caseID == "" {
			data["Problem"] = problemOf(errNotFound)
			a.render(w, r, http.StatusNotFound, "audit", s, data)
			return
		}
	}
	resp, err := a.audit.ListCaseAuditEvents(ctx, &auditv1.ListCaseAuditEventsRequest{CaseId: caseID, PageSize: 100, PageToken: q.Get("page")})
	if err != nil {
		p := problemOf(err)
		data["Problem"] = p
		a.render(w, r, p.Status, "audit", s, data)
		return
	}
	data["CaseID"], data["Events"] = caseID, resp.GetEvents()
	if t := resp.GetNextPageToken(); t != "" {
		nq := r.URL.Query()
		nq.Set("case", caseID)
		nq.Set("page", t)
		data["Next"] = "/audit?" + nq.Encode()
	}
	a.render(w, r, http.StatusOK, "audit", s, data)
}

// auditCSV streams the report's CSV, fetched through gRPC with the user's
// token (a browser download cannot add a bearer header to the API route),
// chunk by chunk as the gateway's API route does: constant memory, and
// each chunk a call of its own (with its own deadline). An error after the
// first chunk cuts the download rather than leave a file that looks whole.
func (a *App) auditCSV(w http.ResponseWriter, r *http.Request, s *session) {
	rc := http.NewResponseController(w)
	token, started := "", false
	for {
		ctx, cancel := a.rpc(r, s)
		resp, err := a.audit.ExportCaseAuditEvents(ctx, &auditv1.ExportCaseAuditEventsRequest{CaseId: r.PathValue("id"), PageToken: token})
		cancel()
		if err != nil {
			if started {
				a.logger.Warn("web: disclosure report cut after its start", "err", err)
				panic(http.ErrAbortHandler)
			}
			a.fail(w, r, s, err)
			return
		}
		if !started {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="disclosure-`+r.PathValue("id")+`.csv"`)
			w.Header().Set("Cache-Control", "no-store")
			started = true
		}
		_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
		if _, err := w.Write(resp.GetBody().GetData()); err != nil {
			return
		}
		_ = rc.Flush()
		next := resp.GetNextPageToken()
		if next == "" || next == token {
			return
		}
		token = next
	}
}

func looksLikeUUID(s string) bool {
	return len(s) == 36 && strings.Count(s, "-") == 4
}
