package referrals

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	referralsv1 "github.com/casebridge/casebridge/gen/casebridge/referrals/v1"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/referrals/internal/store"
)

// updatable are the fields UpdateReferral changes, by the first segment of
// an update_mask path (proto or JSON spelling). The kind's message is
// replaced whole: a path into it (assistance_request.urgency) replaces it
// with the one in the body, which must be complete (the .proto rules hold
// for it as on create).
var updatable = map[string]string{
	"summary": "summary", "to_agency_id": "to_agency_id", "toAgencyId": "to_agency_id",
	"assistance_request": "assistance_request", "assistanceRequest": "assistance_request",
	"case_referral": "case_referral", "caseReferral": "case_referral",
}

// serverOwned are fields a client may send back unchanged (they come with a
// referral it read) but never change; the gateway puts every body field into
// the mask, so these are ignored rather than refused.
var serverOwned = map[string]bool{
	"id": true, "kind": true, "state": true, "from_agency_id": true, "fromAgencyId": true,
	"from_agency_ori": true, "fromAgencyOri": true, "from_agency_name": true, "fromAgencyName": true,
	"to_agency_ori": true, "toAgencyOri": true, "to_agency_name": true, "toAgencyName": true,
	"package": true, "submit_time": true, "submitTime": true, "ack_due_time": true, "ackDueTime": true,
	"overdue": true, "history": true, "state_reason": true, "stateReason": true,
	"create_time": true, "createTime": true, "update_time": true, "updateTime": true,
	"create_user": true, "createUser": true, "update_user": true, "updateUser": true, "etag": true,
	"case_id": true, "caseId": true, // checked below: it may not change
}

// UpdateReferral edits a DRAFT or RETURNED referral.
func (s *Server) UpdateReferral(ctx context.Context, req *referralsv1.UpdateReferralRequest) (*referralsv1.UpdateReferralResponse, error) {
	in := req.GetReferral()
	mask := map[string]bool{}
	for _, path := range req.GetUpdateMask().GetPaths() {
		head, _, _ := strings.Cut(path, ".")
		if f, ok := updatable[head]; ok {
			mask[f] = true
			continue
		}
		if serverOwned[head] {
			continue
		}
		return nil, rpc.FieldError("updateMask", fmt.Sprintf("%q cannot be updated", path))
	}
	if len(mask) == 0 {
		return nil, rpc.FieldError("updateMask", "name at least one field to update")
	}
	if mask["to_agency_id"] && in.GetToAgencyId() == "" {
		return nil, rpc.FieldError("referral.toAgencyId", "must not be empty")
	}
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var toORI, toName string
	ref, err := s.run(ctx, in.GetId(), in.GetEtag(), step{
		action: "update",
		prepare: func(r *store.Referral) error {
			if in.GetCaseId() != "" && (r.CaseID == nil || *r.CaseID != in.GetCaseId()) {
				return rpc.FieldError("referral.caseId", "cannot change; withdraw this referral and refer the other case")
			}
			if mask["assistance_request"] && r.Kind != kindAssistance {
				return rpc.FieldError("referral.assistanceRequest", "this is a referral, not an assistance request")
			}
			if mask["case_referral"] && r.Kind != kindReferral {
				return rpc.FieldError("referral.caseReferral", "this is an assistance request, not a referral")
			}
			if mask["assistance_request"] && in.GetAssistanceRequest() == nil {
				return rpc.FieldError("referral.assistanceRequest", "cannot be removed")
			}
			if mask["case_referral"] && in.GetCaseReferral() == nil {
				return rpc.FieldError("referral.caseReferral", "cannot be removed")
			}
			if !mask["to_agency_id"] || in.GetToAgencyId() == r.ToAgencyID {
				delete(mask, "to_agency_id")
				return nil
			}
			if r.State != "DRAFT" {
				return status.Error(codes.FailedPrecondition, "the recipient cannot change once the referral was submitted; withdraw it and send a new one")
			}
			if in.GetToAgencyId() == p.AgencyID {
				return rpc.FieldError("referral.toAgencyId", "cannot refer to your own agency")
			}
			ag, err := s.agency(ctx, in.GetToAgencyId(), "referral.toAgencyId")
			if err != nil {
				return err
			}
			toORI, toName = ag.GetOri(), ag.GetName()
			return nil
		},
		apply: func(_ pgx.Tx, r *store.Referral, _ time.Time) error {
			if mask["summary"] {
				r.Summary = in.GetSummary()
			}
			if mask["to_agency_id"] {
				r.ToAgencyID, r.ToAgencyORI, r.ToAgencyName = in.GetToAgencyId(), toORI, toName
			}
			if mask["assistance_request"] || mask["case_referral"] {
				in.Kind = kindFromDB(r.Kind)
				b, err := detailsToDB(in)
				if err != nil {
					return err
				}
				r.Details = b
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &referralsv1.UpdateReferralResponse{Referral: ref}, nil
}
