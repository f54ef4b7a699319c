package audit

import (
	auditv1 "github.com/casebridge/casebridge/gen/casebridge/audit/v1"
	"github.com/casebridge/casebridge/pkg/authz"
)

// MethodRules is the method-level authorization of AuditService. Handlers
// check the agency (ListAuditEvents) or the case (the reports) again.
var MethodRules = authz.MethodRules{
	auditv1.AuditService_ListAuditEvents_FullMethodName:       {Object: "audit", Action: "read"},
	auditv1.AuditService_ListCaseAuditEvents_FullMethodName:   {Object: "case", Action: "read_audit"},
	auditv1.AuditService_ExportCaseAuditEvents_FullMethodName: {Object: "case", Action: "read_audit"},
}
