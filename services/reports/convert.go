package reports

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

	reportsv1 "github.com/casebridge/casebridge/gen/casebridge/reports/v1"
	"github.com/casebridge/casebridge/services/reports/internal/store"
)

// Enum names are stored without their prefix.
func stateName(s reportsv1.ReportState) string {
	return strings.TrimPrefix(s.String(), "REPORT_STATE_")
}
func stateFromDB(s string) reportsv1.ReportState {
	return reportsv1.ReportState(reportsv1.ReportState_value["REPORT_STATE_"+s])
}
func priorityName(p reportsv1.Priority) string { return strings.TrimPrefix(p.String(), "PRIORITY_") }
func priorityFromDB(s string) reportsv1.Priority {
	return reportsv1.Priority(reportsv1.Priority_value["PRIORITY_"+s])
}
func typeName(t reportsv1.IncidentType) string {
	return strings.TrimPrefix(t.String(), "INCIDENT_TYPE_")
}

func etag(r *store.Report) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", r.ID, r.Version))
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

// marshal is the one protojson encoding of the stored documents.
func marshal(m proto.Message) ([]byte, error) { return protojson.Marshal(m) }

// appendDoc appends m to a stored JSON array of protojson objects.
func appendDoc(arr []byte, m proto.Message) ([]byte, error) {
	var items []json.RawMessage
	if len(arr) > 0 {
		if err := json.Unmarshal(arr, &items); err != nil {
			return nil, fmt.Errorf("reports: stored array: %w", err)
		}
	}
	b, err := marshal(m)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(append(items, b))
	return out, err
}

// decodeDocs decodes a stored JSON array into messages made by mk.
func decodeDocs[T proto.Message](arr []byte, mk func() T) ([]T, error) {
	var items []json.RawMessage
	if len(arr) > 0 {
		if err := json.Unmarshal(arr, &items); err != nil {
			return nil, fmt.Errorf("reports: stored array: %w", err)
		}
	}
	out := make([]T, 0, len(items))
	for _, it := range items {
		m := mk()
		if err := protojson.Unmarshal(it, m); err != nil {
			return nil, fmt.Errorf("reports: stored document: %w", err)
		}
		out = append(out, m)
	}
	return out, nil
}

func details(r *store.Report) (*reportsv1.IncidentDetails, error) {
	d := &reportsv1.IncidentDetails{}
	if err := protojson.Unmarshal(r.Details, d); err != nil {
		return nil, fmt.Errorf("reports: stored details: %w", err)
	}
	return d, nil
}

// triageOnly are history actions only law enforcement sees: whom the state
// shared a report with is not the reporting organisation's business.
var triageOnly = map[string]bool{"share": true}

// toProto converts r for a response. triage says whether the caller's
// agency triages the report (read_triage): only then does it carry the case
// opened from it and the sharing steps; the reporting organisation learns
// only that a case was opened.
func toProto(r *store.Report, triage bool, regime Regime, now time.Time) (*reportsv1.IncidentReport, error) {
	d, err := details(r)
	if err != nil {
		return nil, err
	}
	out := &reportsv1.IncidentReport{
		Id: r.ID, OrganizationId: r.OrgAgencyID, OrganizationOri: r.OrgAgencyORI, OrganizationName: r.OrgAgencyName,
		State: stateFromDB(r.State), Priority: priorityFromDB(r.Priority), Details: d,
		InformationRequest: r.InformationRequest, CaseOpened: r.CaseID != nil,
		SubmitTime: ts(r.SubmitTime), CreateTime: timestamppb.New(r.CreateTime), UpdateTime: timestamppb.New(r.UpdateTime),
		CreateUser: r.CreateUserEmail, Etag: etag(r), Triage: triage,
	}
	if r.Number != nil {
		out.ReportNumber = *r.Number
	}
	if triage && r.CaseID != nil {
		out.CaseId, out.CaseNumber = *r.CaseID, r.CaseNumber
	}
	if out.Clocks, err = decodeDocs(r.Clocks, func() *reportsv1.Clock { return &reportsv1.Clock{} }); err != nil {
		return nil, err
	}
	if r.State == "DRAFT" {
		// A draft's clocks run already: what it will be due by if sent now.
		out.Clocks = initialClocks(d, regime, nil, now)
	}
	if out.Supplements, err = decodeDocs(r.Supplements, func() *reportsv1.Supplement { return &reportsv1.Supplement{} }); err != nil {
		return nil, err
	}
	events, err := decodeDocs(r.History, func() *reportsv1.Event { return &reportsv1.Event{} })
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		if triage || !triageOnly[e.GetAction()] {
			out.History = append(out.History, e)
		}
	}
	return out, nil
}
