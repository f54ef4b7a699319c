package evidence

import (
	evidencev1 "github.com/casebridge/casebridge/gen/casebridge/evidence/v1"
	"github.com/casebridge/casebridge/pkg/authz"
)

// MethodRules is the method-level authorization of EvidenceService: the
// permission each RPC needs. Handlers check it again on the case (register,
// read) or on the item (custody, integrity).
var MethodRules = authz.MethodRules{
	evidencev1.EvidenceService_CreateEvidence_FullMethodName:     {Object: "evidence", Action: "create"},
	evidencev1.EvidenceService_ListEvidence_FullMethodName:       {Object: "evidence", Action: "read"},
	evidencev1.EvidenceService_GetEvidence_FullMethodName:        {Object: "evidence", Action: "read"},
	evidencev1.EvidenceService_CreateCustodyEvent_FullMethodName: {Object: "custody", Action: "create"},
	evidencev1.EvidenceService_ListCustodyEvents_FullMethodName:  {Object: "custody", Action: "read"},
	evidencev1.EvidenceService_VerifyCustodyChain_FullMethodName: {Object: "custody", Action: "read"},
	evidencev1.EvidenceService_VerifyEvidence_FullMethodName:     {Object: "evidence", Action: "verify"},
	// The case package: supervisors of the case's lead agency.
	evidencev1.EvidenceService_ExportCase_FullMethodName: {Object: "case", Action: "export"},
}
