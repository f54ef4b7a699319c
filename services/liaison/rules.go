package liaison

import (
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	"github.com/casebridge/casebridge/pkg/authz"
)

// MethodRules is the method-level authorization of the Liaison service.
var MethodRules = authz.MethodRules{
	liaisonv1.DirectoryService_ListAgencies_FullMethodName:   {Authenticated: true},
	liaisonv1.DirectoryService_GetAgency_FullMethodName:      {Authenticated: true},
	liaisonv1.DirectoryService_ListUsers_FullMethodName:      {Object: "user", Action: "read"},
	liaisonv1.DirectoryService_CreateUser_FullMethodName:     {Object: "user", Action: "create"},
	liaisonv1.DirectoryService_UpdateUser_FullMethodName:     {Object: "user", Action: "update"},
	liaisonv1.DirectoryService_DeactivateUser_FullMethodName: {Object: "user", Action: "update"},
}
