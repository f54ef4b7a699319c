package liaison

import (
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	"github.com/casebridge/casebridge/pkg/authz"
)

// MethodRules is the method-level authorization of the Liaison service.
var MethodRules = authz.MethodRules{
	liaisonv1.DirectoryService_ListAgencies_FullMethodName:   {Authenticated: true},
	liaisonv1.DirectoryService_GetAgency_FullMethodName:      {Authenticated: true},
	liaisonv1.DirectoryService_GetCurrentUser_FullMethodName: {Authenticated: true},
	liaisonv1.DirectoryService_CreateAgency_FullMethodName:   {Object: "agency", Action: "create"},
	liaisonv1.DirectoryService_ListUsers_FullMethodName:      {Object: "user", Action: "read"},
	liaisonv1.DirectoryService_GetUser_FullMethodName:        {Object: "user", Action: "read"},
	liaisonv1.DirectoryService_CreateUser_FullMethodName:     {Object: "user", Action: "create"},
	liaisonv1.DirectoryService_UpdateUser_FullMethodName:     {Object: "user", Action: "update"},
	liaisonv1.DirectoryService_DeactivateUser_FullMethodName: {Object: "user", Action: "update"},
	// Role grants are user administration: the admin's "update user"
	// permission; the handlers add the two-person rule (not one's own
	// account, not one's own proposal).
	liaisonv1.DirectoryService_CreateRoleGrant_FullMethodName:  {Object: "user", Action: "update"},
	liaisonv1.DirectoryService_ListRoleGrants_FullMethodName:   {Object: "user", Action: "update"},
	liaisonv1.DirectoryService_ApproveRoleGrant_FullMethodName: {Object: "user", Action: "update"},
	liaisonv1.DirectoryService_RejectRoleGrant_FullMethodName:  {Object: "user", Action: "update"},
	// Everyone may end their own sessions.
	liaisonv1.DirectoryService_SignOut_FullMethodName:           {Authenticated: true},
	liaisonv1.DirectoryService_SignOutEverywhere_FullMethodName: {Authenticated: true},

	// LiaisonService. The directory's companions (contacts, liaison
	// assignments, task forces, agreements) are readable by every
	// authenticated user; CheckSharing answers only for the caller's own
	// agency. Engagements are visible to the agencies involved only.
	liaisonv1.LiaisonService_ListContacts_FullMethodName:            {Authenticated: true},
	liaisonv1.LiaisonService_CreateContact_FullMethodName:           {Object: "contact", Action: "create"},
	liaisonv1.LiaisonService_UpdateContact_FullMethodName:           {Object: "contact", Action: "update"},
	liaisonv1.LiaisonService_DeleteContact_FullMethodName:           {Object: "contact", Action: "delete"},
	liaisonv1.LiaisonService_ListLiaisonAssignments_FullMethodName:  {Authenticated: true},
	liaisonv1.LiaisonService_CreateLiaisonAssignment_FullMethodName: {Object: "liaison_assignment", Action: "create"},
	liaisonv1.LiaisonService_DeleteLiaisonAssignment_FullMethodName: {Object: "liaison_assignment", Action: "delete"},
	liaisonv1.LiaisonService_ListTaskforces_FullMethodName:          {Authenticated: true},
	liaisonv1.LiaisonService_GetTaskforce_FullMethodName:            {Authenticated: true},
	liaisonv1.LiaisonService_CreateTaskforce_FullMethodName:         {Object: "taskforce", Action: "create"},
	liaisonv1.LiaisonService_AddTaskforceMember_FullMethodName:      {Object: "taskforce", Action: "update"},
	liaisonv1.LiaisonService_RemoveTaskforceMember_FullMethodName:   {Object: "taskforce", Action: "update"},
	liaisonv1.LiaisonService_ListAgreements_FullMethodName:          {Authenticated: true},
	liaisonv1.LiaisonService_GetAgreement_FullMethodName:            {Authenticated: true},
	liaisonv1.LiaisonService_CreateAgreement_FullMethodName:         {Object: "agreement", Action: "create"},
	liaisonv1.LiaisonService_UpdateAgreement_FullMethodName:         {Object: "agreement", Action: "update"},
	liaisonv1.LiaisonService_CheckSharing_FullMethodName:            {Authenticated: true},
	liaisonv1.LiaisonService_ListEngagements_FullMethodName:         {Object: "engagement", Action: "read"},
	liaisonv1.LiaisonService_GetEngagement_FullMethodName:           {Object: "engagement", Action: "read"},
	liaisonv1.LiaisonService_CreateEngagement_FullMethodName:        {Object: "engagement", Action: "create"},
	liaisonv1.LiaisonService_UpdateEngagement_FullMethodName:        {Object: "engagement", Action: "update"},
}
