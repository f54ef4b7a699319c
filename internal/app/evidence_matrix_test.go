package app_test

import "fmt"

// CaseService.ExportCase and EvidenceService.ExportCase (which builds it) for the authorization matrix (issue 14): the
// case package, for the lead agency's supervisors only.
func init() {
	calls["EvidenceService.ExportCase"] = func(f *fixture) call {
		return call{"GET", "/v1/cases/" + f.caseID + "/evidence:export?recipient=Matrix%20SA&purpose=matrix", nil,
			fmt.Sprintf(`{"caseId": %q, "recipient": "Matrix SA", "purpose": "matrix"}`, f.caseID)}
	}
	calls["CaseService.ExportCase"] = func(f *fixture) call {
		return call{"GET", "/v1/cases/" + f.caseID + ":export?recipient=Matrix%20SA&purpose=matrix", nil,
			fmt.Sprintf(`{"caseId": %q, "recipient": "Matrix SA", "purpose": "matrix"}`, f.caseID)}
	}
}
