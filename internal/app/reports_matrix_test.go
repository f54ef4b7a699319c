package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/pkg/authz"
)

// IncidentReportService rows (issue 19): relation report_org = the user's
// agency filed the report, report_triage = it triages it, report_partner =
// it was shared with it, report_none = none of these (the report is then
// the Town of Example's, or the school district's for a town user).
func init() {
	calls["DirectoryService.CreateAgency"] = func(f *fixture) call {
		ori := "CT" + strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", "")[:7])
		body := map[string]any{"ori": ori, "name": "Matrix Water Authority", "sector": "AGENCY_SECTOR_WATER_WASTEWATER"}
		return call{"POST", "/v1/agencies", body, fmt.Sprintf(`{"ori": %q, "name": "Matrix Water Authority", "sector": "AGENCY_SECTOR_WATER_WASTEWATER"}`, ori)}
	}
	calls["IncidentReportService.CreateIncidentReport"] = func(f *fixture) call {
		return call{"POST", "/v1/incidentReports", map[string]any{"details": map[string]any{}}, `{"report": {"details": {}}}`}
	}
	calls["IncidentReportService.GetIncidentReport"] = func(f *fixture) call {
		id := reportItem(f, "SUBMITTED")
		return call{"GET", "/v1/incidentReports/" + id, nil, fmt.Sprintf(`{"reportId": %q}`, id)}
	}
	calls["IncidentReportService.ListIncidentReports"] = func(f *fixture) call {
		return call{"GET", "/v1/incidentReports", nil, `{}`}
	}
	calls["IncidentReportService.UpdateIncidentReport"] = func(f *fixture) call {
		id := reportItem(f, "DRAFT")
		return call{"PATCH", "/v1/incidentReports/" + id, map[string]any{"details": map[string]any{"whatHappened": "m"}},
			fmt.Sprintf(`{"report": {"id": %q, "details": {"whatHappened": "m"}}}`, id)}
	}
	calls["IncidentReportService.SubmitIncidentReport"] = func(f *fixture) call {
		id := reportItem(f, "DRAFT")
		return call{"POST", "/v1/incidentReports/" + id + ":submit", map[string]any{}, fmt.Sprintf(`{"reportId": %q}`, id)}
	}
	calls["IncidentReportService.AddSupplement"] = func(f *fixture) call {
		id := reportItem(f, "SUBMITTED")
		return call{"POST", "/v1/incidentReports/" + id + "/supplements", map[string]any{"kind": "SUPPLEMENT_KIND_NEW_FACTS", "text": "m"},
			fmt.Sprintf(`{"reportId": %q, "supplement": {"kind": "SUPPLEMENT_KIND_NEW_FACTS", "text": "m"}}`, id)}
	}
	calls["IncidentReportService.AcknowledgeIncidentReport"] = func(f *fixture) call { return reportAction(f, "acknowledge", `{}`) }
	calls["IncidentReportService.SetIncidentReportPriority"] = func(f *fixture) call {
		return reportAction(f, "setPriority", `{"priority": "PRIORITY_LOW"}`)
	}
	calls["IncidentReportService.RequestIncidentReportInformation"] = func(f *fixture) call {
		return reportAction(f, "requestInformation", `{"message": "m"}`)
	}
	calls["IncidentReportService.ShareIncidentReport"] = func(f *fixture) call {
		return reportAction(f, "share", fmt.Sprintf(`{"agencyId": %q, "reason": "m"}`, demo.AgencyID("usss")))
	}
	calls["IncidentReportService.OpenCaseFromIncidentReport"] = func(f *fixture) call { return reportAction(f, "openCase", `{}`) }
	calls["IncidentReportService.CloseIncidentReport"] = func(f *fixture) call { return reportAction(f, "close", `{"reason": "m"}`) }
}

// reportItem inserts a report in state for an IncidentReportService row
// and grants the row's relation to the user's agency.
func reportItem(f *fixture, state string) string {
	ctx := context.Background()
	org := demo.AgencyID("townofexample")
	if f.report == "report_org" {
		org = f.actor
	} else if f.actor == org {
		org = demo.AgencyID("exampleschools")
	}
	id := uuid.NewString()
	var number *string
	if state != "DRAFT" {
		n := "M-IR-" + id
		number = &n
	}
	_, err := f.s.Pool.Exec(ctx, `INSERT INTO reports.reports (id, number, org_agency_id, org_agency_ori, state, details,
		submit_time, create_time, update_time, create_user_id, create_user_email)
		VALUES ($1, $2, $3, 'M', $4, '{"incidentType": "INCIDENT_TYPE_RANSOMWARE", "whatHappened": "m",
			"discoveryTime": "2026-01-01T00:00:00Z", "reporter": {"name": "m", "phone": "1"}}',
		CASE WHEN $4 = 'DRAFT' THEN NULL ELSE now() END, now(), now(), $5, 'matrix@example.org')`,
		id, number, org, state, uuid.NewString())
	if err != nil {
		panic(err)
	}
	res := authz.Resource{Type: "incident_report", ID: id}
	if _, err := authz.Grant(ctx, f.s.Pool, nil, authz.GrantRequest{Resource: res, AgencyID: org, Relation: authz.RelLead}); err != nil {
		panic(err)
	}
	rel := map[string]string{"report_triage": authz.RelTriage, "report_partner": authz.RelPartner}[f.report]
	if rel != "" {
		if _, err := authz.Grant(ctx, f.s.Pool, nil, authz.GrantRequest{Resource: res, AgencyID: f.actor, Relation: rel}); err != nil {
			panic(err)
		}
	}
	return id
}

// reportAction is a POST /v1/incidentReports/{id}:verb call on a fresh
// submitted report; fields is the request body as JSON without reportId.
func reportAction(f *fixture, verb, fields string) call {
	id := reportItem(f, "SUBMITTED")
	body := map[string]any{}
	if err := json.Unmarshal([]byte(fields), &body); err != nil {
		panic(err)
	}
	g := fmt.Sprintf(`{"reportId": %q`, id)
	if fields != `{}` {
		g += ", " + fields[1:len(fields)-1]
	}
	return call{"POST", "/v1/incidentReports/" + id + ":" + verb, body, g + "}"}
}
