package referrals

import (
	referralsv1 "github.com/casebridge/casebridge/gen/casebridge/referrals/v1"
	"github.com/casebridge/casebridge/pkg/authz"
)

// MethodRules is the method-level authorization of ReferralService: a first
// gate, before any database work, on a permission the caller needs under
// some relation. Handlers then decide on the referral itself with the
// object of its kind (referral or assistance_request). Where the two kinds
// differ, the gate names the kind that more roles may act on, so it never
// refuses what the policy allows: every role that may create, edit, submit
// or withdraw a referral may do so for an assistance request, and the
// recipient rules are the same for both kinds.
var MethodRules = authz.MethodRules{
	referralsv1.ReferralService_CreateReferral_FullMethodName:      {Object: "assistance_request", Action: "create"},
	referralsv1.ReferralService_GetReferral_FullMethodName:         {Object: "referral", Action: "read"},
	referralsv1.ReferralService_ListReferrals_FullMethodName:       {Object: "referral", Action: "read"},
	referralsv1.ReferralService_GetReferralStats_FullMethodName:    {Object: "referral", Action: "read"},
	referralsv1.ReferralService_UpdateReferral_FullMethodName:      {Object: "assistance_request", Action: "update"},
	referralsv1.ReferralService_SubmitReferral_FullMethodName:      {Object: "assistance_request", Action: "submit"},
	referralsv1.ReferralService_WithdrawReferral_FullMethodName:    {Object: "assistance_request", Action: "withdraw"},
	referralsv1.ReferralService_AcknowledgeReferral_FullMethodName: {Object: "referral", Action: "acknowledge"},
	referralsv1.ReferralService_AcceptReferral_FullMethodName:      {Object: "referral", Action: "accept"},
	referralsv1.ReferralService_DeclineReferral_FullMethodName:     {Object: "referral", Action: "decline"},
	referralsv1.ReferralService_ReturnReferral_FullMethodName:      {Object: "referral", Action: "return"},
}
