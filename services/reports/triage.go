package reports

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	reportsv1 "github.com/casebridge/casebridge/gen/casebridge/reports/v1"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/reports/internal/store"
)

// Triage moves. A report in triage is SUBMITTED, ACKNOWLEDGED or
// INFORMATION_REQUESTED; a report with a case (CASE_OPENED) can still be
// acknowledged, prioritised, shared and asked about, but not closed as
// informational — the case decides its end.
func inTriage(state string) bool {
	return state == "SUBMITTED" || state == "ACKNOWLEDGED" || state == "INFORMATION_REQUESTED"
}

func open(state string) bool { return inTriage(state) || state == "CASE_OPENED" }

// AcknowledgeIncidentReport acknowledges receipt, optionally with a priority.
func (s *Server) AcknowledgeIncidentReport(ctx context.Context, req *reportsv1.AcknowledgeIncidentReportRequest) (*reportsv1.AcknowledgeIncidentReportResponse, error) {
	rep, err := s.authorized(ctx, "acknowledge", req.GetReportId(), "", func(p *auth.Principal, _ pgx.Tx, r *store.Report, now time.Time) (Notice, error) {
		if r.State != "SUBMITTED" {
			return Notice{}, precondition("only a SUBMITTED report is acknowledged; this one is %s", r.State)
		}
		if req.GetPriority() != reportsv1.Priority_PRIORITY_UNSPECIFIED {
			if err := s.authz.Authorize(ctx, s.pool, p, "incident_report", "prioritize", reportResource(r.ID)); err != nil {
				return Notice{}, err
			}
			r.Priority = priorityName(req.GetPriority())
		}
		r.State = "ACKNOWLEDGED"
		comment := req.GetComment()
		if r.Priority != "UNSPECIFIED" {
			comment = strings.TrimSpace("priority " + r.Priority + ". " + comment)
		}
		return Notice{Kind: NoticeAcknowledged}, addEvent(r, p, "acknowledge", comment, now)
	})
	if err != nil {
		return nil, err
	}
	return &reportsv1.AcknowledgeIncidentReportResponse{Report: rep}, nil
}

// SetIncidentReportPriority sets the priority of a report in triage.
func (s *Server) SetIncidentReportPriority(ctx context.Context, req *reportsv1.SetIncidentReportPriorityRequest) (*reportsv1.SetIncidentReportPriorityResponse, error) {
	rep, err := s.authorized(ctx, "prioritize", req.GetReportId(), "", func(p *auth.Principal, _ pgx.Tx, r *store.Report, now time.Time) (Notice, error) {
		if !open(r.State) {
			return Notice{}, precondition("the report is %s", r.State)
		}
		r.Priority = priorityName(req.GetPriority())
		return Notice{}, addEvent(r, p, "set_priority", strings.TrimSpace("priority "+r.Priority+". "+req.GetComment()), now)
	})
	if err != nil {
		return nil, err
	}
	return &reportsv1.SetIncidentReportPriorityResponse{Report: rep}, nil
}

// RequestIncidentReportInformation asks the reporter for more.
func (s *Server) RequestIncidentReportInformation(ctx context.Context, req *reportsv1.RequestIncidentReportInformationRequest) (*reportsv1.RequestIncidentReportInformationResponse, error) {
	rep, err := s.authorized(ctx, "request_information", req.GetReportId(), "", func(p *auth.Principal, _ pgx.Tx, r *store.Report, now time.Time) (Notice, error) {
		if !open(r.State) {
			return Notice{}, precondition("the report is %s", r.State)
		}
		if r.State != "CASE_OPENED" {
			r.State = "INFORMATION_REQUESTED"
		}
		r.InformationRequest = req.GetMessage()
		return Notice{Kind: NoticeInformationRequested}, addEvent(r, p, "request_information", req.GetMessage(), now)
	})
	if err != nil {
		return nil, err
	}
	return &reportsv1.RequestIncidentReportInformationResponse{Report: rep}, nil
}

// ShareIncidentReport lets a partner agency read the report (relation
// partner), through the access door. Agreements cap the dissemination of a
// case, which a report is not: the state shares what an organisation
// reported to it under the reporting regime, and the door records to whom
// and why.
func (s *Server) ShareIncidentReport(ctx context.Context, req *reportsv1.ShareIncidentReportRequest) (*reportsv1.ShareIncidentReportResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "incident_report", "share", reportResource(req.GetReportId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp, err := s.dir.GetAgency(rpc.ForwardIdentity(ctx), &liaisonv1.GetAgencyRequest{AgencyId: req.GetAgencyId()})
	switch {
	case status.Code(err) == codes.NotFound:
		return nil, rpc.FieldError("agencyId", "no such agency")
	case err != nil:
		return nil, toStatus(ctx, s.logger, err)
	case !resp.GetAgency().GetActive():
		return nil, rpc.FieldError("agencyId", "the agency is inactive")
	case resp.GetAgency().GetKind() == liaisonv1.AgencyKind_AGENCY_KIND_PUBLIC_ENTITY:
		return nil, rpc.FieldError("agencyId", "reports are shared with law-enforcement and intelligence partners, not with other public entities")
	}
	partner := resp.GetAgency()
	rep, err := s.change(ctx, p, req.GetReportId(), "", func(tx pgx.Tx, r *store.Report, now time.Time) (Notice, error) {
		if r.State == "DRAFT" {
			return Notice{}, precondition("the report is a draft")
		}
		if partner.GetId() == r.OrgAgencyID {
			return Notice{}, rpc.FieldError("agencyId", "the reporting organisation already sees its report")
		}
		if _, err := authz.Grant(ctx, tx, p, authz.GrantRequest{Resource: reportResource(r.ID), AgencyID: partner.GetId(),
			Label: partner.GetOri() + " (" + partner.GetName() + ")", Relation: authz.RelPartner, Reason: req.GetReason()}); err != nil {
			return Notice{}, err
		}
		return Notice{}, addEvent(r, p, "share", "shared with "+partner.GetOri()+" ("+partner.GetName()+"): "+req.GetReason(), now)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	out, err := s.respond(ctx, p, rep)
	if err != nil {
		return nil, err
	}
	return &reportsv1.ShareIncidentReportResponse{Report: out}, nil
}

// caseNamespace derives CreateCase's request_id from the report id, so a
// retry (or a crash between the case and the report's commit) returns the
// first case.
var caseNamespace = uuid.MustParse("0f7a8c3e-5d61-4b1e-9a57-19c0d4e6b2a8")

var classification = map[reportsv1.IncidentType]casesv1.Classification{
	reportsv1.IncidentType_INCIDENT_TYPE_RANSOMWARE:                casesv1.Classification_CLASSIFICATION_RANSOMWARE,
	reportsv1.IncidentType_INCIDENT_TYPE_BUSINESS_EMAIL_COMPROMISE: casesv1.Classification_CLASSIFICATION_BUSINESS_EMAIL_COMPROMISE,
	reportsv1.IncidentType_INCIDENT_TYPE_ACCOUNT_COMPROMISE:        casesv1.Classification_CLASSIFICATION_INTRUSION,
	reportsv1.IncidentType_INCIDENT_TYPE_DATA_BREACH:               casesv1.Classification_CLASSIFICATION_INTRUSION,
	reportsv1.IncidentType_INCIDENT_TYPE_WEBSITE_DEFACEMENT:        casesv1.Classification_CLASSIFICATION_INTRUSION,
	reportsv1.IncidentType_INCIDENT_TYPE_DDOS:                      casesv1.Classification_CLASSIFICATION_DENIAL_OF_SERVICE,
}

// OpenCaseFromIncidentReport opens a case in the caller's agency from the
// report through the Cases service, as the caller. The report's row lock is
// held across the call so two supervisors opening at once make one case:
// the second waits and finds the first's.
func (s *Server) OpenCaseFromIncidentReport(ctx context.Context, req *reportsv1.OpenCaseFromIncidentReportRequest) (*reportsv1.OpenCaseFromIncidentReportResponse, error) {
	rep, err := s.authorized(ctx, "open_case", req.GetReportId(), "", func(p *auth.Principal, _ pgx.Tx, r *store.Report, now time.Time) (Notice, error) {
		if r.CaseID != nil {
			return Notice{}, precondition("a case was already opened from this report (%s)", r.CaseNumber)
		}
		if !inTriage(r.State) {
			return Notice{}, precondition("the report is %s", r.State)
		}
		d, err := details(r)
		if err != nil {
			return Notice{}, err
		}
		title := req.GetTitle()
		if title == "" {
			title = fmt.Sprintf("%s at %s", strings.ReplaceAll(strings.ToLower(typeName(d.GetIncidentType())), "_", " "), r.OrgAgencyName)
			if len([]rune(title)) > 200 {
				title = string([]rune(title)[:200])
			}
		}
		// The case links the report: its summary names the report number
		// and its API address, ahead of what the organisation told.
		summary := fmt.Sprintf("Opened from incident report %s (/v1/incidentReports/%s) of %s (%s).\n\n%s",
			*r.Number, r.ID, r.OrgAgencyName, r.OrgAgencyORI, d.GetWhatHappened())
		if rs := []rune(summary); len(rs) > 20000 {
			summary = string(rs[:20000])
		}
		c := &casesv1.Case{Title: title, Summary: summary, Classification: classification[d.GetIncidentType()],
			DiscoveryTime: d.GetDiscoveryTime(), IncidentStartTime: d.GetStartTime()}
		if d.GetIncidentType() == reportsv1.IncidentType_INCIDENT_TYPE_OTHER || d.GetIncidentType() == reportsv1.IncidentType_INCIDENT_TYPE_PHISHING_ATTEMPT {
			c.Classification = casesv1.Classification_CLASSIFICATION_OTHER
		}
		resp, err := s.cases.CreateCase(rpc.ForwardIdentity(ctx), &casesv1.CreateCaseRequest{Case: c,
			RequestId: uuid.NewSHA1(caseNamespace, []byte(r.ID)).String()})
		if err != nil {
			return Notice{}, err
		}
		id := resp.GetCase().GetId()
		r.CaseID, r.CaseNumber, r.State, r.InformationRequest = &id, resp.GetCase().GetCaseNumber(), "CASE_OPENED", ""
		// The reporting organisation's view of this step (history and
		// notice) says only that law enforcement opened a case.
		return Notice{Kind: NoticeCaseOpened}, addEvent(r, p, "open_case", "law enforcement opened a case", now)
	})
	if err != nil {
		return nil, err
	}
	return &reportsv1.OpenCaseFromIncidentReportResponse{Report: rep}, nil
}

// CloseIncidentReport closes a report in triage as informational.
func (s *Server) CloseIncidentReport(ctx context.Context, req *reportsv1.CloseIncidentReportRequest) (*reportsv1.CloseIncidentReportResponse, error) {
	rep, err := s.authorized(ctx, "close", req.GetReportId(), "", func(p *auth.Principal, _ pgx.Tx, r *store.Report, now time.Time) (Notice, error) {
		if !inTriage(r.State) {
			return Notice{}, precondition("only a report in triage is closed as informational; this one is %s", r.State)
		}
		r.State, r.InformationRequest = "CLOSED", ""
		return Notice{Kind: NoticeClosed}, addEvent(r, p, "close", req.GetReason(), now)
	})
	if err != nil {
		return nil, err
	}
	return &reportsv1.CloseIncidentReportResponse{Report: rep}, nil
}
