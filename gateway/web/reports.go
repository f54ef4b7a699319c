package web

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	reportsv1 "github.com/casebridge/casebridge/gen/casebridge/reports/v1"
)

// Incident reports (issue 19). The reporter's side is one form in plain
// language with sections (what happened, when, what is affected, ransom,
// who you told, what you need), a draft that can be saved, the report
// number and deadline on the status page, and "add an update". Triage
// (CTIC analysts, CSP supervisors) works on the same status page; the API
// decides who may do what.

// publicEntity reports whether the signed-in user's agency is a public
// entity (navigation only; the API decides).
func (s *session) publicEntity() bool { return s != nil && s.AgencyKind == "PUBLIC_ENTITY" }

// PublicEntity is publicEntity for templates.
func (v view) PublicEntity() bool { return v.S.publicEntity() }

// Form field names are the API's field paths, so a field error lands next
// to its input.
const (
	fType       = "report.details.incidentType"
	fOutcome    = "report.details.outcome"
	fWhat       = "report.details.whatHappened"
	fDiscovery  = "report.details.discoveryTime"
	fStart      = "report.details.startTime"
	fSystems    = "report.details.affectedSystems"
	fDown       = "report.details.impact.servicesDown"
	fDownSince  = "report.details.impact.downSince"
	fSafety     = "report.details.impact.publicSafetyAffected"
	fSafetyText = "report.details.impact.publicSafetyEffect"
	fData       = "report.details.dataCategories"
	fDemanded   = "report.details.ransom.demanded"
	fAmount     = "report.details.ransom.amountMinor"
	fCurrency   = "report.details.ransom.currency"
	fWallet     = "report.details.ransom.walletAddress"
	fPaid       = "report.details.ransom.paid"
	fPaidTime   = "report.details.ransom.paymentTime"
	fIndicators = "report.details.indicators"
	fActions    = "report.details.actionsTaken"
	fNotified   = "report.details.notified"
	fNeed       = "report.details.assistanceWanted"
	fRName      = "report.details.reporter.name"
	fRTitle     = "report.details.reporter.title"
	fRPhone     = "report.details.reporter.phone"
	fREmail     = "report.details.reporter.email"
	fTName      = "report.details.technicalContact.name"
	fTPhone     = "report.details.technicalContact.phone"
)

var reportFields = []string{fType, fOutcome, fWhat, fDiscovery, fStart, fSystems, fDown, fDownSince, fSafety, fSafetyText,
	fDemanded, fAmount, fCurrency, fWallet, fPaid, fPaidTime, fIndicators, fActions, fNeed, fRName, fRTitle, fRPhone, fREmail,
	fTName, fTPhone}

// localTime is the datetime-local input format; times are read in the
// gateway's time zone, the one pages show.
const localTime = "2006-01-02T15:04"

func parseLocal(v string) *timestamppb.Timestamp {
	t, err := time.ParseInLocation(localTime, strings.TrimSpace(v), time.Local)
	if err != nil {
		return nil
	}
	return timestamppb.New(t)
}

func fmtLocal(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	return ts.AsTime().In(time.Local).Format(localTime)
}

// lines splits a textarea into trimmed non-empty lines.
func lines(v string) []string {
	var out []string
	for _, l := range strings.Split(v, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

var (
	ipRE     = regexp.MustCompile(`^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]+)(/\d+)?$`)
	hashRE   = regexp.MustCompile(`^([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$`)
	walletRE = regexp.MustCompile(`^(bc1[0-9a-z]{8,87}|[13][1-9A-HJ-NP-Za-km-z]{25,34}|0x[0-9a-fA-F]{40}|4[0-9AB][1-9A-HJ-NP-Za-km-z]{93})$`)
)

// indicatorOf types one line of the indicators box, so a reporter need not
// know what an indicator type is.
func indicatorOf(v string) *reportsv1.Indicator {
	t := reportsv1.IndicatorType_INDICATOR_TYPE_DOMAIN
	switch {
	case strings.Contains(v, "@"):
		t = reportsv1.IndicatorType_INDICATOR_TYPE_EMAIL
	case ipRE.MatchString(v):
		t = reportsv1.IndicatorType_INDICATOR_TYPE_IP
	case hashRE.MatchString(v):
		t = reportsv1.IndicatorType_INDICATOR_TYPE_HASH
	case walletRE.MatchString(v):
		t = reportsv1.IndicatorType_INDICATOR_TYPE_WALLET
	}
	return &reportsv1.Indicator{Type: t, Value: v}
}

// amountMinor reads "4,000.50" as 400050 hundredths; "" or garbage as 0
// with ok false for garbage.
func amountMinor(v string) (int64, bool) {
	v = strings.ReplaceAll(strings.TrimSpace(v), ",", "")
	if v == "" {
		return 0, true
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return int64(f*100 + 0.5), true
}

// detailsOf builds the API's details from the form.
func detailsOf(r *http.Request) (*reportsv1.IncidentDetails, map[string]string, bool) {
	f := formValues(r, reportFields...)
	d := &reportsv1.IncidentDetails{
		Reporter:         &reportsv1.Contact{Name: f[fRName], Title: f[fRTitle], Phone: strings.TrimSpace(f[fRPhone]), Email: strings.TrimSpace(f[fREmail])},
		TechnicalContact: &reportsv1.Contact{Name: f[fTName], Phone: strings.TrimSpace(f[fTPhone])},
		IncidentType:     reportsv1.IncidentType(reportsv1.IncidentType_value[f[fType]]),
		Outcome:          reportsv1.Outcome(reportsv1.Outcome_value[f[fOutcome]]),
		WhatHappened:     f[fWhat], DiscoveryTime: parseLocal(f[fDiscovery]), StartTime: parseLocal(f[fStart]),
		Impact: &reportsv1.Impact{ServicesDown: lines(f[fDown]), DownSince: parseLocal(f[fDownSince]),
			PublicSafetyAffected: f[fSafety] != "", PublicSafetyEffect: f[fSafetyText]},
		ActionsTaken: f[fActions], AssistanceWanted: f[fNeed],
	}
	for _, l := range lines(f[fSystems]) {
		name, fn, _ := strings.Cut(l, "—")
		if n2, f2, ok := strings.Cut(l, " - "); ok && fn == "" {
			name, fn = n2, f2
		}
		d.AffectedSystems = append(d.AffectedSystems, &reportsv1.AffectedSystem{Name: strings.TrimSpace(name), Function: strings.TrimSpace(fn)})
	}
	for _, c := range r.PostForm[fData] {
		d.DataCategories = append(d.DataCategories, reportsv1.DataCategory(reportsv1.DataCategory_value[c]))
	}
	for _, n := range r.PostForm[fNotified] {
		d.Notified = append(d.Notified, &reportsv1.Notification{Party: reportsv1.NotifiedParty(reportsv1.NotifiedParty_value[n]),
			Time: parseLocal(r.PostFormValue("notifiedTime." + n))})
		f["notifiedTime."+n] = r.PostFormValue("notifiedTime." + n)
	}
	for _, l := range lines(f[fIndicators]) {
		d.Indicators = append(d.Indicators, indicatorOf(l))
	}
	amount, ok := amountMinor(f[fAmount])
	if f[fDemanded] != "" || f[fPaid] != "" || f[fWallet] != "" || amount > 0 {
		d.Ransom = &reportsv1.Ransom{Demanded: f[fDemanded] != "", AmountMinor: amount, Currency: strings.ToUpper(strings.TrimSpace(f[fCurrency])),
			WalletAddress: strings.TrimSpace(f[fWallet]), Paid: f[fPaid] != "", PaymentTime: parseLocal(f[fPaidTime])}
	}
	return d, f, ok
}

// formOf is the form of stored details (a draft being edited).
func formOf(d *reportsv1.IncidentDetails) (map[string]string, []string, []string) {
	f := map[string]string{
		fRName: d.GetReporter().GetName(), fRTitle: d.GetReporter().GetTitle(), fRPhone: d.GetReporter().GetPhone(), fREmail: d.GetReporter().GetEmail(),
		fTName: d.GetTechnicalContact().GetName(), fTPhone: d.GetTechnicalContact().GetPhone(),
		fType: d.GetIncidentType().String(), fOutcome: d.GetOutcome().String(), fWhat: d.GetWhatHappened(),
		fDiscovery: fmtLocal(d.GetDiscoveryTime()), fStart: fmtLocal(d.GetStartTime()),
		fDown: strings.Join(d.GetImpact().GetServicesDown(), "\n"), fDownSince: fmtLocal(d.GetImpact().GetDownSince()),
		fSafetyText: d.GetImpact().GetPublicSafetyEffect(), fActions: d.GetActionsTaken(), fNeed: d.GetAssistanceWanted(),
		fCurrency: d.GetRansom().GetCurrency(), fWallet: d.GetRansom().GetWalletAddress(), fPaidTime: fmtLocal(d.GetRansom().GetPaymentTime()),
	}
	if d.GetImpact().GetPublicSafetyAffected() {
		f[fSafety] = "on"
	}
	if d.GetRansom().GetDemanded() {
		f[fDemanded] = "on"
	}
	if d.GetRansom().GetPaid() {
		f[fPaid] = "on"
	}
	if a := d.GetRansom().GetAmountMinor(); a > 0 {
		f[fAmount] = fmt.Sprintf("%d.%02d", a/100, a%100)
	}
	var sys, ind []string
	for _, s := range d.GetAffectedSystems() {
		if s.GetFunction() != "" {
			sys = append(sys, s.GetName()+" — "+s.GetFunction())
		} else {
			sys = append(sys, s.GetName())
		}
	}
	f[fSystems] = strings.Join(sys, "\n")
	for _, i := range d.GetIndicators() {
		ind = append(ind, i.GetValue())
	}
	f[fIndicators] = strings.Join(ind, "\n")
	var data, told []string
	for _, c := range d.GetDataCategories() {
		data = append(data, c.String())
	}
	for _, n := range d.GetNotified() {
		told = append(told, n.GetParty().String())
		f["notifiedTime."+n.GetParty().String()] = fmtLocal(n.GetTime())
	}
	return f, data, told
}

// formData is what the report form template needs.
func formData(f map[string]string, data, told []string, p *problem) map[string]any {
	return map[string]any{"Form": f, "Problem": p, "Data": data, "Told": told,
		"Types": enumNames(reportsv1.IncidentType_name), "DataCategories": enumNames(reportsv1.DataCategory_name),
		"Parties": enumNames(reportsv1.NotifiedParty_name)}
}

// listReports lists the reports my agency may see.
func (a *App) listReports(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	data := map[string]any{}
	resp, err := a.reports.ListIncidentReports(ctx, &reportsv1.ListIncidentReportsRequest{PageSize: 50, PageToken: r.URL.Query().Get("page")})
	if err != nil {
		p := problemOf(err)
		data["Problem"] = p
		a.render(w, r, p.Status, "reports", s, data)
		return
	}
	data["Reports"] = resp.GetReports()
	if t := resp.GetNextPageToken(); t != "" {
		data["Next"] = "/reports?page=" + urlQueryEscape(t)
	}
	a.render(w, r, http.StatusOK, "reports", s, data)
}

// newReport is the empty form, with the reporter's own contact filled in.
func (a *App) newReport(w http.ResponseWriter, r *http.Request, s *session) {
	f := map[string]string{"request_id": uuid.NewString(), fRName: s.Name, fREmail: s.Email}
	a.render(w, r, http.StatusOK, "report_form", s, formData(f, nil, nil, nil))
}

// saveReport creates (POST /reports) or changes (POST /reports/{id}) a
// draft, and sends it when the "Send report" button was pressed.
func (a *App) saveReport(w http.ResponseWriter, r *http.Request, s *session) {
	d, f, ok := detailsOf(r)
	f["request_id"], f["etag"], f["id"] = r.PostFormValue("request_id"), r.PostFormValue("etag"), r.PathValue("id")
	send := r.PostFormValue("send") != ""
	data, told := r.PostForm[fData], r.PostForm[fNotified]
	if !ok {
		p := &problem{Status: http.StatusBadRequest, Message: "Please correct the fields marked below.", Fields: map[string]string{fAmount: "write the amount as a number, e.g. 50000 or 4.5"}}
		a.render(w, r, p.Status, "report_form", s, formData(f, data, told, p))
		return
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	var rep *reportsv1.IncidentReport
	if id := r.PathValue("id"); id == "" {
		resp, err := a.reports.CreateIncidentReport(ctx, &reportsv1.CreateIncidentReportRequest{RequestId: f["request_id"],
			Report: &reportsv1.IncidentReport{Details: d}})
		if err != nil {
			p := problemOf(err)
			a.render(w, r, p.Status, "report_form", s, formData(f, data, told, p))
			return
		}
		rep = resp.GetReport()
	} else {
		resp, err := a.reports.UpdateIncidentReport(ctx, &reportsv1.UpdateIncidentReportRequest{
			Report: &reportsv1.IncidentReport{Id: id, Etag: f["etag"], Details: d}})
		if err != nil {
			p := problemOf(err)
			a.render(w, r, p.Status, "report_form", s, formData(f, data, told, p))
			return
		}
		rep = resp.GetReport()
	}
	if send {
		if _, err := a.reports.SubmitIncidentReport(ctx, &reportsv1.SubmitIncidentReportRequest{ReportId: rep.GetId(), Etag: rep.GetEtag()}); err != nil {
			// The draft is saved: show it again with what is missing.
			p := problemOf(err)
			f["id"], f["etag"] = rep.GetId(), rep.GetEtag()
			fd := formData(f, data, told, p)
			fd["R"] = rep
			a.render(w, r, p.Status, "report_form", s, fd)
			return
		}
	}
	a.redirect(w, r, "/reports/"+rep.GetId())
}

// showReport is a draft's form (for its organisation) or the report's
// status page.
func (a *App) showReport(w http.ResponseWriter, r *http.Request, s *session) {
	a.renderReport(w, r, s, http.StatusOK, map[string]any{})
}

func (a *App) renderReport(w http.ResponseWriter, r *http.Request, s *session, code int, data map[string]any) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	got, err := a.reports.GetIncidentReport(ctx, &reportsv1.GetIncidentReportRequest{ReportId: r.PathValue("id")})
	if err != nil {
		a.fail(w, r, s, err)
		return
	}
	rep := got.GetReport()
	mine := rep.GetOrganizationId() == s.AgencyID
	if rep.GetState() == reportsv1.ReportState_REPORT_STATE_DRAFT && mine && data["Problem"] == nil {
		f, dc, told := formOf(rep.GetDetails())
		f["id"], f["etag"] = rep.GetId(), rep.GetEtag()
		fd := formData(f, dc, told, nil)
		fd["R"] = rep
		a.render(w, r, code, "report_form", s, fd)
		return
	}
	data["R"], data["Mine"] = rep, mine
	if data["Form"] == nil {
		data["Form"] = map[string]string{}
	}
	data["Priorities"] = enumNames(reportsv1.Priority_name)
	data["Kinds"] = enumNames(reportsv1.SupplementKind_name)
	if rep.GetTriage() {
		if ags, err := a.directory.ListAgencies(ctx, &liaisonv1.ListAgenciesRequest{PageSize: 100}); err == nil {
			var out []*liaisonv1.Agency
			for _, ag := range ags.GetAgencies() {
				if ag.GetId() != s.AgencyID && ag.GetActive() && ag.GetKind() != liaisonv1.AgencyKind_AGENCY_KIND_PUBLIC_ENTITY {
					out = append(out, ag)
				}
			}
			data["Agencies"] = out
		}
	}
	a.render(w, r, code, "report", s, data)
}

// addUpdate appends a supplemental report ("add an update").
func (a *App) addUpdate(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "supplement.kind", "supplement.text", "supplement.paymentTime", "supplement.amountMinor", "supplement.currency",
		"supplement.recoveryTime")
	sup := &reportsv1.Supplement{Kind: reportsv1.SupplementKind(reportsv1.SupplementKind_value[f["supplement.kind"]]),
		Text: f["supplement.text"], PaymentTime: parseLocal(f["supplement.paymentTime"]), RecoveryTime: parseLocal(f["supplement.recoveryTime"]), Currency: strings.ToUpper(strings.TrimSpace(f["supplement.currency"]))}
	if amount, ok := amountMinor(f["supplement.amountMinor"]); ok {
		sup.AmountMinor = amount
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	if _, err := a.reports.AddSupplement(ctx, &reportsv1.AddSupplementRequest{ReportId: r.PathValue("id"), Supplement: sup}); err != nil {
		p := problemOf(err)
		a.renderReport(w, r, s, p.Status, map[string]any{"Problem": p, "Action": "update", "Form": f})
		return
	}
	a.redirect(w, r, "/reports/"+r.PathValue("id"))
}

// reportAction runs one triage step.
func (a *App) reportAction(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	f := formValues(r, "priority", "comment", "message", "agencyId", "reason")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	prio := reportsv1.Priority(reportsv1.Priority_value[f["priority"]])
	var err error
	switch r.PathValue("action") {
	case "acknowledge":
		_, err = a.reports.AcknowledgeIncidentReport(ctx, &reportsv1.AcknowledgeIncidentReportRequest{ReportId: id, Priority: prio, Comment: f["comment"]})
	case "priority":
		_, err = a.reports.SetIncidentReportPriority(ctx, &reportsv1.SetIncidentReportPriorityRequest{ReportId: id, Priority: prio, Comment: f["comment"]})
	case "request-information":
		_, err = a.reports.RequestIncidentReportInformation(ctx, &reportsv1.RequestIncidentReportInformationRequest{ReportId: id, Message: f["message"]})
	case "share":
		_, err = a.reports.ShareIncidentReport(ctx, &reportsv1.ShareIncidentReportRequest{ReportId: id, AgencyId: f["agencyId"], Reason: f["reason"]})
	case "open-case":
		_, err = a.reports.OpenCaseFromIncidentReport(ctx, &reportsv1.OpenCaseFromIncidentReportRequest{ReportId: id})
	case "close":
		_, err = a.reports.CloseIncidentReport(ctx, &reportsv1.CloseIncidentReportRequest{ReportId: id, Reason: f["reason"]})
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		p := problemOf(err)
		a.renderReport(w, r, s, p.Status, map[string]any{"Problem": p, "Action": r.PathValue("action"), "Form": f})
		return
	}
	a.redirect(w, r, "/reports/"+id)
}

// myReports is a public entity's home page: its reports and the button to
// report an incident.
func (a *App) myReports(w http.ResponseWriter, r *http.Request, s *session) { a.listReports(w, r, s) }

// registerForm registers a public entity (state and regional admins, as
// the API decides) with its first administrator.
func (a *App) registerForm(w http.ResponseWriter, r *http.Request, s *session) {
	a.render(w, r, http.StatusOK, "register", s, map[string]any{"Form": map[string]string{}, "Sectors": enumNames(liaisonv1.AgencySector_name)})
}

func (a *App) registerEntity(w http.ResponseWriter, r *http.Request, s *session) {
	f := formValues(r, "ori", "name", "jurisdiction", "sector", "adminEmail")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	resp, err := a.directory.CreateAgency(ctx, &liaisonv1.CreateAgencyRequest{Ori: strings.ToUpper(strings.TrimSpace(f["ori"])), Name: f["name"],
		Jurisdiction: f["jurisdiction"], Sector: liaisonv1.AgencySector(liaisonv1.AgencySector_value[f["sector"]]), AdminEmail: strings.TrimSpace(f["adminEmail"])})
	if err != nil {
		p := problemOf(err)
		a.render(w, r, p.Status, "register", s, map[string]any{"Form": f, "Problem": p, "Sectors": enumNames(liaisonv1.AgencySector_name)})
		return
	}
	a.redirect(w, r, "/agencies/"+resp.GetAgency().GetId())
}
