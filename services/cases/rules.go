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
	casesv1.CaseService_ExportCase_FullMethodName:        {Object: "case", Action: "export"},

	// Tasks, playbooks and legal process (issue 17).
	casesv1.TaskService_CreateTask_FullMethodName:                 {Object: "task", Action: "create"},
	casesv1.TaskService_GetTask_FullMethodName:                    {Object: "task", Action: "read"},
	casesv1.TaskService_ListTasks_FullMethodName:                  {Object: "task", Action: "read"},
	casesv1.TaskService_SearchTasks_FullMethodName:                {Object: "task", Action: "read"},
	casesv1.TaskService_UpdateTask_FullMethodName:                 {Object: "task", Action: "update"},
	casesv1.TaskService_StartTask_FullMethodName:                  {Object: "task", Action: "work"},
	casesv1.TaskService_CompleteTask_FullMethodName:               {Object: "task", Action: "work"},
	casesv1.TaskService_CancelTask_FullMethodName:                 {Object: "task", Action: "work"},
	casesv1.TaskService_CreateTaskLogEntry_FullMethodName:         {Object: "task", Action: "work"},
	casesv1.TaskService_ListTaskLogEntries_FullMethodName:         {Object: "task", Action: "read"},
	casesv1.TaskService_ApplyPlaybook_FullMethodName:              {Object: "task", Action: "create"},
	casesv1.TaskService_CreatePlaybook_FullMethodName:             {Object: "playbook", Action: "manage"},
	casesv1.TaskService_GetPlaybook_FullMethodName:                {Object: "playbook", Action: "read"},
	casesv1.TaskService_ListPlaybooks_FullMethodName:              {Object: "playbook", Action: "read"},
	casesv1.TaskService_UpdatePlaybook_FullMethodName:             {Object: "playbook", Action: "manage"},
	casesv1.LegalProcessService_CreateLegalProcess_FullMethodName: {Object: "legal_process", Action: "create"},
	casesv1.LegalProcessService_GetLegalProcess_FullMethodName:    {Object: "legal_process", Action: "read"},
	casesv1.LegalProcessService_ListLegalProcess_FullMethodName:   {Object: "legal_process", Action: "read"},
	casesv1.LegalProcessService_UpdateLegalProcess_FullMethodName: {Object: "legal_process", Action: "update"},
	casesv1.LegalProcessService_ExtendLegalProcess_FullMethodName: {Object: "legal_process", Action: "update"},
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
