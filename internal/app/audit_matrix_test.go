package app_test

import "fmt"

// AuditService calls for the authorization matrix (issue 7): the agency's
// own trail for its auditors; a case's disclosure report (JSON and CSV) for
// the lead agency's auditors and supervisors.
func init() {
	calls["AuditService.ListAuditEvents"] = func(f *fixture) call {
		return call{"GET", "/v1/audit/events", nil, `{}`}
	}
	calls["AuditService.ListCaseAuditEvents"] = func(f *fixture) call {
		return call{"GET", "/v1/cases/" + f.caseID + "/audit", nil, fmt.Sprintf(`{"caseId": %q}`, f.caseID)}
	}
	calls["AuditService.ExportCaseAuditEvents"] = func(f *fixture) call {
		return call{"GET", "/v1/cases/" + f.caseID + "/audit:csv", nil, fmt.Sprintf(`{"caseId": %q}`, f.caseID)}
	}
}
