package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
)

// observableTypes and tlps are the choices of the observable forms (the
// API's names, issue 21).
var (
	observableTypes = []string{"EMAIL", "PHONE", "CRYPTO_WALLET", "HANDLE", "DOMAIN", "URL", "IPV4", "IPV6",
		"FILE_SHA256", "BANK_ACCOUNT", "OTHER"}
	tlps = []string{"CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"}
)

// caseObservables fills the case page's observables section: the table
// (with correlations: other cases the user can already read) and, for the
// lead agency, the deconfliction flag.
func (a *App) caseObservables(r *http.Request, s *session, id string, data map[string]any) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	obs, err := a.observables.ListObservables(ctx, &casesv1.ListObservablesRequest{CaseId: id, PageSize: 100})
	data["Observables"] = sectionOf(obs.GetObservables(), err)
	data["ObservableTypes"], data["TLPs"] = observableTypes, tlps
	if _, ok := data["ObservableForm"]; !ok {
		data["ObservableForm"] = map[string]string{"observable.tlp": "AMBER"}
	}
	if _, ok := data["ImportForm"]; !ok {
		data["ImportForm"] = map[string]string{}
	}
	if _, ok := data["BulkForm"]; !ok {
		data["BulkForm"] = map[string]string{"tlp": "AMBER"}
	}
	if data["Lead"] == true {
		if st, err := a.observables.GetDeconflictionSetting(ctx, &casesv1.GetDeconflictionSettingRequest{CaseId: id}); err == nil {
			data["Deconfliction"] = st.GetSetting()
		}
	}
}

// addObservable records one observable from the case page's form.
func (a *App) addObservable(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "observable.type", "observable.chain", "observable.platform", "observable.value",
		"observable.tlp", "observable.description", "observable.firstSeenTime", "observable.lastSeenTime")
	o := &casesv1.Observable{Type: f["observable.type"], Chain: f["observable.chain"], Platform: f["observable.platform"],
		Value: f["observable.value"], Tlp: f["observable.tlp"], Description: f["observable.description"],
		ExhibitIds: r.PostForm["observable.exhibitIds"]}
	// Seen dates are days (the start of that day, UTC).
	bad := map[string]string{}
	for field, dst := range map[string]**timestamppb.Timestamp{"observable.firstSeenTime": &o.FirstSeenTime, "observable.lastSeenTime": &o.LastSeenTime} {
		if d := strings.TrimSpace(f[field]); d != "" {
			t, err := time.Parse("2006-01-02", d)
			if err != nil {
				bad[field] = "give a date as YYYY-MM-DD"
				continue
			}
			*dst = timestamppb.New(t)
		}
	}
	if len(bad) > 0 {
		a.renderCase(w, r, s, http.StatusBadRequest, map[string]any{"ObservableForm": f,
			"ObservableProblem": &problem{Status: 400, Message: "Please correct the fields marked below.", Fields: bad}})
		return
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	_, err := a.observables.CreateObservable(ctx, &casesv1.CreateObservableRequest{CaseId: r.PathValue("id"), Observable: o})
	a.afterWrite(w, r, s, err, "Observable", f, "#observables")
}

// parseBulk reads a pasted list: one observable a line, "TYPE VALUE", with
// the chain (CRYPTO_WALLET) or platform (HANDLE) between them:
// "CRYPTO_WALLET bitcoin bc1q…", "HANDLE telegram @name". A line without a
// known type is taken as OTHER. Blank lines are skipped.
func parseBulk(text, tlp string) []*casesv1.Observable {
	var out []*casesv1.Observable
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		typ, rest, _ := strings.Cut(line, " ")
		o := &casesv1.Observable{Type: strings.ToUpper(typ), Tlp: tlp}
		switch o.Type {
		case "CRYPTO_WALLET":
			o.Chain, o.Value, _ = strings.Cut(strings.TrimSpace(rest), " ")
		case "HANDLE":
			o.Platform, o.Value, _ = strings.Cut(strings.TrimSpace(rest), " ")
		default:
			o.Value = rest
			known := false
			for _, t := range observableTypes {
				known = known || t == o.Type
			}
			if !known {
				o.Type, o.Value = "OTHER", line
			}
		}
		o.Value = strings.TrimSpace(o.Value)
		out = append(out, o)
	}
	return out
}

// bulkObservables records a pasted list in one call (all or nothing).
func (a *App) bulkObservables(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "lines", "tlp")
	list := parseBulk(f["lines"], f["tlp"])
	if len(list) == 0 {
		a.renderCase(w, r, s, http.StatusBadRequest, map[string]any{"BulkForm": f,
			"BulkProblem": &problem{Status: 400, Message: "Please correct the fields marked below.", Fields: map[string]string{"lines": "paste at least one observable, one a line"}}})
		return
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	resp, err := a.observables.BatchCreateObservables(ctx, &casesv1.BatchCreateObservablesRequest{CaseId: r.PathValue("id"), Observables: list})
	if err == nil && len(resp.GetSkipped()) > 0 {
		a.renderCase(w, r, s, http.StatusOK, map[string]any{"BulkSkipped": resp.GetSkipped(), "BulkAdded": len(resp.GetObservables())})
		return
	}
	a.afterWrite(w, r, s, err, "Bulk", f, "#observables")
}

// importObservables records the indicators of an incident report the user
// may read (the API decides).
func (a *App) importObservables(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "fromIncidentReportId")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	resp, err := a.observables.BatchCreateObservables(ctx, &casesv1.BatchCreateObservablesRequest{CaseId: r.PathValue("id"),
		FromIncidentReportId: strings.TrimSpace(f["fromIncidentReportId"])})
	if err == nil && len(resp.GetSkipped()) > 0 {
		a.renderCase(w, r, s, http.StatusOK, map[string]any{"BulkSkipped": resp.GetSkipped(), "BulkAdded": len(resp.GetObservables())})
		return
	}
	a.afterWrite(w, r, s, err, "Import", f, "#observables")
}

// setDeconfliction marks or unmarks the case "do not deconflict".
func (a *App) setDeconfliction(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "doNotDeconflict", "reason")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	_, err := a.observables.UpdateDeconflictionSetting(ctx, &casesv1.UpdateDeconflictionSettingRequest{CaseId: r.PathValue("id"),
		Setting: &casesv1.DeconflictionSetting{DoNotDeconflict: f["doNotDeconflict"] == "true", Reason: f["reason"]}})
	a.afterWrite(w, r, s, err, "Deconfliction", f, "#observables")
}

// exportObservables downloads the STIX bundle or MISP event the API
// renders.
func (a *App) exportObservables(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	resp, err := a.observables.ExportObservables(ctx, &casesv1.ExportObservablesRequest{CaseId: r.PathValue("id"),
		Format: q.Get("format"), Tlp: q.Get("tlp")})
	if err != nil {
		a.fail(w, r, s, err)
		return
	}
	name := "case-" + r.PathValue("id") + "-" + url.PathEscape(q.Get("format")) + ".json"
	w.Header().Set("Content-Type", resp.GetBody().GetContentType())
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	_, _ = w.Write(resp.GetBody().GetData())
}
