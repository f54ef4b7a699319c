package reports

import (
	reportsv1 "github.com/casebridge/casebridge/gen/casebridge/reports/v1"
	"github.com/casebridge/casebridge/pkg/authz"
)

// MethodRules is the method-level authorization of IncidentReportService:
// a first gate, before any database work, on a permission the caller needs
// under some relation. Handlers then decide on the report itself.
var MethodRules = authz.MethodRules{
	reportsv1.IncidentReportService_CreateIncidentReport_FullMethodName:             {Object: "incident_report", Action: "create"},
	reportsv1.IncidentReportService_GetIncidentReport_FullMethodName:                {Object: "incident_report", Action: "read"},
	reportsv1.IncidentReportService_ListIncidentReports_FullMethodName:              {Object: "incident_report", Action: "read"},
	reportsv1.IncidentReportService_UpdateIncidentReport_FullMethodName:             {Object: "incident_report", Action: "update"},
	reportsv1.IncidentReportService_SubmitIncidentReport_FullMethodName:             {Object: "incident_report", Action: "submit"},
	reportsv1.IncidentReportService_AddSupplement_FullMethodName:                    {Object: "incident_report", Action: "supplement"},
	reportsv1.IncidentReportService_AcknowledgeIncidentReport_FullMethodName:        {Object: "incident_report", Action: "acknowledge"},
	reportsv1.IncidentReportService_SetIncidentReportPriority_FullMethodName:        {Object: "incident_report", Action: "prioritize"},
	reportsv1.IncidentReportService_RequestIncidentReportInformation_FullMethodName: {Object: "incident_report", Action: "request_information"},
	reportsv1.IncidentReportService_ShareIncidentReport_FullMethodName:              {Object: "incident_report", Action: "share"},
	reportsv1.IncidentReportService_OpenCaseFromIncidentReport_FullMethodName:       {Object: "incident_report", Action: "open_case"},
	reportsv1.IncidentReportService_CloseIncidentReport_FullMethodName:              {Object: "incident_report", Action: "close"},
}
