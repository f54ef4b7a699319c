package cases

import (
	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	"github.com/casebridge/casebridge/pkg/authz"
)

// MethodRules is the method-level authorization of CaseService: the
// permission each RPC needs. Handlers check it again on the case itself.
var MethodRules = authz.MethodRules{
	casesv1.CaseService_CreateCase_FullMethodName:        {Object: "case", Action: "create"},
	casesv1.CaseService_GetCase_FullMethodName:           {Object: "case", Action: "read"},
	casesv1.CaseService_ListCases_FullMethodName:         {Object: "case", Action: "read"},
	casesv1.CaseService_UpdateCase_FullMethodName:        {Object: "case", Action: "update"},
	casesv1.CaseService_CloseCase_FullMethodName:         {Object: "case", Action: "close"},
	casesv1.CaseService_ReopenCase_FullMethodName:        {Object: "case", Action: "reopen"},
	casesv1.CaseService_CreateNote_FullMethodName:        {Object: "note", Action: "create"},
	casesv1.CaseService_ListNotes_FullMethodName:         {Object: "note", Action: "read"},
	casesv1.CaseService_AddParticipant_FullMethodName:    {Object: "case", Action: "share"},
	casesv1.CaseService_ListParticipants_FullMethodName:  {Object: "participant", Action: "read"},
	casesv1.CaseService_RemoveParticipant_FullMethodName: {Object: "case", Action: "unshare"},
	casesv1.CaseService_ExplainAccess_FullMethodName:     {Object: "case", Action: "explain_access"},
}

// ObservableMethodRules is the method-level authorization of
// ObservableService (issue 21). Handlers check the case itself.
var ObservableMethodRules = authz.MethodRules{
	casesv1.ObservableService_CreateObservable_FullMethodName:           {Object: "observable", Action: "create"},
	casesv1.ObservableService_BatchCreateObservables_FullMethodName:     {Object: "observable", Action: "create"},
	casesv1.ObservableService_ListObservables_FullMethodName:            {Object: "observable", Action: "read"},
	casesv1.ObservableService_ExportObservables_FullMethodName:          {Object: "observable", Action: "export"},
	casesv1.ObservableService_GetDeconflictionSetting_FullMethodName:    {Object: "deconfliction", Action: "read"},
	casesv1.ObservableService_UpdateDeconflictionSetting_FullMethodName: {Object: "deconfliction", Action: "update"},
	casesv1.ObservableService_ListDeconflictionNotices_FullMethodName:   {Object: "deconfliction", Action: "read"},
}
