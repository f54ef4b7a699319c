package referrals

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	referralsv1 "github.com/casebridge/casebridge/gen/casebridge/referrals/v1"
	"github.com/casebridge/casebridge/services/referrals/internal/store"
)

// Enum values are stored by name without their prefix (SUBMITTED,
// ASSISTANCE_REQUEST) so the database reads plainly.

func kindToDB(k referralsv1.ReferralKind) string {
	return strings.TrimPrefix(k.String(), "REFERRAL_KIND_")
}

func kindFromDB(s string) referralsv1.ReferralKind {
	return referralsv1.ReferralKind(referralsv1.ReferralKind_value["REFERRAL_KIND_"+s])
}

func stateFromDB(s string) referralsv1.ReferralState {
	return referralsv1.ReferralState(referralsv1.ReferralState_value["REFERRAL_STATE_"+s])
}

// Kinds as stored.
const (
	kindAssistance = "ASSISTANCE_REQUEST"
	kindReferral   = "REFERRAL"
)

// object is the policy object of a referral's kind (pkg/authz/policy.csv).
func object(kind string) string {
	if kind == kindAssistance {
		return "assistance_request"
	}
	return "referral"
}

var jsonOut = protojson.MarshalOptions{}
var jsonIn = protojson.UnmarshalOptions{DiscardUnknown: true}

// detailsToDB stores the kind's message as protojson.
func detailsToDB(in *referralsv1.Referral) ([]byte, error) {
	var m proto.Message = in.GetAssistanceRequest()
	if in.GetKind() == referralsv1.ReferralKind_REFERRAL_KIND_REFERRAL {
		m = in.GetCaseReferral()
	}
	return jsonOut.Marshal(m)
}

// etag is an opaque digest of the referral's identity and version.
func etag(r *store.Referral) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", r.ID, r.Version))
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

// toProto converts a stored referral. The stored documents were written by
// this service from validated messages; one that no longer parses is an
// internal error.
func toProto(r *store.Referral) (*referralsv1.Referral, error) {
	out := &referralsv1.Referral{
		Id:             r.ID,
		ReferralNumber: r.Number,
		Kind:           kindFromDB(r.Kind),
		State:          stateFromDB(r.State),
		FromAgencyId:   r.FromAgencyID,
		FromAgencyOri:  r.FromAgencyORI,
		FromAgencyName: r.FromAgencyName,
		ToAgencyId:     r.ToAgencyID,
		ToAgencyOri:    r.ToAgencyORI,
		ToAgencyName:   r.ToAgencyName,
		Summary:        r.Summary,
		SubmitTime:     ts(r.SubmitTime),
		AckDueTime:     ts(r.AckDueTime),
		Overdue:        r.Overdue,
		StateReason:    r.StateReason,
		CreateTime:     timestamppb.New(r.CreateTime),
		UpdateTime:     timestamppb.New(r.UpdateTime),
		CreateUser:     r.CreateUserEmail,
		UpdateUser:     r.UpdateUserEmail,
		Etag:           etag(r),
	}
	if r.CaseID != nil {
		out.CaseId = *r.CaseID
	}
	if r.Kind == kindAssistance {
		out.AssistanceRequest = &referralsv1.AssistanceRequest{}
		if err := jsonIn.Unmarshal(r.Details, out.AssistanceRequest); err != nil {
			return nil, fmt.Errorf("referral %s details: %w", r.ID, err)
		}
	} else {
		out.CaseReferral = &referralsv1.CaseReferral{}
		if err := jsonIn.Unmarshal(r.Details, out.CaseReferral); err != nil {
			return nil, fmt.Errorf("referral %s details: %w", r.ID, err)
		}
	}
	if r.Package != nil {
		out.Package = &referralsv1.CasePackage{}
		if err := jsonIn.Unmarshal(r.Package, out.Package); err != nil {
			return nil, fmt.Errorf("referral %s package: %w", r.ID, err)
		}
	}
	hist, err := historyFromDB(r.History)
	if err != nil {
		return nil, fmt.Errorf("referral %s history: %w", r.ID, err)
	}
	out.History = hist
	return out, nil
}

func historyFromDB(raw []byte) ([]*referralsv1.Transition, error) {
	var items []json.RawMessage
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
	}
	out := make([]*referralsv1.Transition, 0, len(items))
	for _, it := range items {
		t := &referralsv1.Transition{}
		if err := jsonIn.Unmarshal(it, t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// appendHistory appends t to the stored history array.
func appendHistory(raw []byte, t *referralsv1.Transition) ([]byte, error) {
	var items []json.RawMessage
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
	}
	b, err := jsonOut.Marshal(t)
	if err != nil {
		return nil, err
	}
	return json.Marshal(append(items, b))
}
