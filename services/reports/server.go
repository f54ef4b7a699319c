// Package reports is the Incident Report service (casebridge.reports.v1):
// cyber incident reports that municipalities, school districts and other
// public entities send to the state. A reporter drafts and submits a report
// of their organisation; it gets a number and its reporting clocks;
// supplements append facts (a ransom payment starts its own clock); CTIC
// analysts and CSP supervisors triage it — acknowledge, prioritise, ask for
// more, share with partners through the access door, open a case, close.
// Handlers are thin: they authorize through pkg/authz, call other services
// with the caller's identity, run one transaction through the store and map
// errors in toStatus.
package reports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	reportsv1 "github.com/casebridge/casebridge/gen/casebridge/reports/v1"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/filter"
	"github.com/casebridge/casebridge/pkg/pagetoken"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/reports/internal/store"
)

// Server implements reportsv1.IncidentReportServiceServer.
type Server struct {
	reportsv1.UnimplementedIncidentReportServiceServer
	pool   *pgxpool.Pool
	authz  *authz.Authorizer
	cases  casesv1.CaseServiceClient
	dir    liaisonv1.DirectoryServiceClient
	logger *slog.Logger
	regime Regime
	notify Notifier
	now    func() time.Time
}

// NewServer returns the Incident Report service on pool. cases and dir are
// the Cases and Directory services, called with the caller's identity.
func NewServer(pool *pgxpool.Pool, az *authz.Authorizer, cases casesv1.CaseServiceClient,
	dir liaisonv1.DirectoryServiceClient, logger *slog.Logger, regime Regime) *Server {
	return &Server{pool: pool, authz: az, cases: cases, dir: dir, logger: logger, regime: regime.withDefaults(),
		notify: Notify, now: time.Now}
}

// WithNotifier sets where notices go (default Notify; events.go).
func (s *Server) WithNotifier(n Notifier) *Server {
	if n != nil {
		s.notify = n
	}
	return s
}

func (s *Server) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func reportResource(id string) authz.Resource { return authz.Resource{Type: "incident_report", ID: id} }

// annotate names the resource of the call's audit record.
func annotate(ctx context.Context, r *store.Report) {
	audit.Annotate(ctx, func(e *audit.Event) {
		e.ResourceType, e.ResourceID = "incident_report", r.ID
		if r.CaseID != nil {
			e.CaseID = *r.CaseID
		}
	})
}

// event builds a history entry.
func event(p *auth.Principal, action, state, comment string, now time.Time) *reportsv1.Event {
	return &reportsv1.Event{Action: action, State: stateFromDB(state), User: p.Email, AgencyOri: p.AgencyORI,
		Comment: comment, Time: timestamppb.New(now)}
}

// addEvent appends an event to r's history.
func addEvent(r *store.Report, p *auth.Principal, action, comment string, now time.Time) error {
	h, err := appendDoc(r.History, event(p, action, r.State, comment, now))
	if err != nil {
		return err
	}
	r.History = h
	return nil
}

// triage reports whether p's agency triages report id (read_triage).
func (s *Server) triage(ctx context.Context, p *auth.Principal, id string) (bool, error) {
	err := s.authz.Authorize(ctx, s.pool, p, "incident_report", "read_triage", reportResource(id))
	switch {
	case err == nil:
		return true, nil
	case authzRefusal(err):
		return false, nil
	}
	return false, err
}

func authzRefusal(err error) bool {
	return err != nil && (errors.Is(err, authz.ErrDenied) || errors.Is(err, authz.ErrNotFound))
}

// respond converts r for p.
func (s *Server) respond(ctx context.Context, p *auth.Principal, r *store.Report) (*reportsv1.IncidentReport, error) {
	tri, err := s.triage(ctx, p, r.ID)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	out, err := toProto(r, tri, s.regime, s.timestamp())
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return out, nil
}

// CreateIncidentReport saves a draft report of the caller's organisation.
func (s *Server) CreateIncidentReport(ctx context.Context, req *reportsv1.CreateIncidentReportRequest) (*reportsv1.CreateIncidentReportResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeOwnAgency(p, "incident_report", "create"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	d := req.GetReport().GetDetails()
	if d == nil {
		d = &reportsv1.IncidentDetails{}
	}
	if err := checkDetails(d, s.timestamp()); err != nil {
		return nil, err
	}
	doc, err := marshal(d)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	now := s.timestamp()
	r := &store.Report{
		ID: uuid.NewString(), OrgAgencyID: p.AgencyID, OrgAgencyORI: p.AgencyORI, OrgAgencyName: p.AgencyName,
		State: "DRAFT", Priority: "UNSPECIFIED", IncidentType: typeName(d.GetIncidentType()), Details: doc,
		Clocks: []byte("[]"), Supplements: []byte("[]"), History: []byte("[]"),
		CreateTime: now, UpdateTime: now, CreateUserID: p.UserID, CreateUserEmail: p.Email, Version: 1,
	}
	if err := addEvent(r, p, "create", "", now); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	out := r
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if req.GetRequestId() != "" {
			prev, err := store.Requests.Claim(ctx, tx, p.UserID, "CreateIncidentReport", req.GetRequestId())
			if err != nil {
				return err
			}
			if prev != "" {
				if out, err = store.Get(ctx, tx, prev); err != nil {
					return err
				}
				annotate(ctx, out)
				return audit.Write(ctx, tx)
			}
			if err := store.Requests.Complete(ctx, tx, p.UserID, "CreateIncidentReport", req.GetRequestId(), r.ID); err != nil {
				return err
			}
		}
		if err := store.Insert(ctx, tx, r); err != nil {
			return err
		}
		// The reporting organisation owns the report: its reporters edit,
		// submit, follow and supplement it (policy `lead` lines).
		if _, err := authz.Grant(ctx, tx, p, authz.GrantRequest{Resource: reportResource(r.ID), AgencyID: p.AgencyID,
			Relation: authz.RelLead, Reason: "reporting organisation"}); err != nil {
			return err
		}
		annotate(ctx, r)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	rep, err := s.respond(ctx, p, out)
	if err != nil {
		return nil, err
	}
	return &reportsv1.CreateIncidentReportResponse{Report: rep}, nil
}

// checkDetails checks what the .proto cannot: times in the future, a start
// after discovery, ransom fields that contradict each other.
func checkDetails(d *reportsv1.IncidentDetails, now time.Time) error {
	future := now.Add(5 * time.Minute) // clock skew of the reporter's machine
	if t := d.GetDiscoveryTime(); t != nil && t.AsTime().After(future) {
		return rpc.FieldError("report.details.discoveryTime", "is in the future")
	}
	if t := d.GetStartTime(); t != nil && t.AsTime().After(future) {
		return rpc.FieldError("report.details.startTime", "is in the future")
	}
	if d.GetStartTime() != nil && d.GetDiscoveryTime() != nil && d.GetStartTime().AsTime().After(d.GetDiscoveryTime().AsTime()) {
		return rpc.FieldError("report.details.startTime", "is after the discovery time")
	}
	rs := d.GetRansom()
	if rs.GetPaymentTime() != nil && !rs.GetPaid() {
		return rpc.FieldError("report.details.ransom.paymentTime", "set only when the ransom was paid")
	}
	if t := rs.GetPaymentTime(); t != nil && t.AsTime().After(future) {
		return rpc.FieldError("report.details.ransom.paymentTime", "is in the future")
	}
	if rs.GetPaid() && !rs.GetDemanded() {
		return rpc.FieldError("report.details.ransom.demanded", "a paid ransom was demanded")
	}
	return nil
}

// checkSubmittable names the first field a report needs before it is sent.
func checkSubmittable(d *reportsv1.IncidentDetails) error {
	switch {
	case d.GetIncidentType() == reportsv1.IncidentType_INCIDENT_TYPE_UNSPECIFIED:
		return rpc.FieldError("report.details.incidentType", "say what kind of incident it is (OTHER if unsure)")
	case strings.TrimSpace(d.GetWhatHappened()) == "":
		return rpc.FieldError("report.details.whatHappened", "say in a few words what happened")
	case d.GetDiscoveryTime() == nil:
		return rpc.FieldError("report.details.discoveryTime", "say when you found out (it starts the reporting clock)")
	case strings.TrimSpace(d.GetReporter().GetName()) == "" || strings.TrimSpace(d.GetReporter().GetPhone()) == "":
		return rpc.FieldError("report.details.reporter", "give a name and a phone number we can call back")
	case d.GetRansom().GetPaid() && d.GetRansom().GetPaymentTime() == nil:
		return rpc.FieldError("report.details.ransom.paymentTime", "say when the ransom was paid (it starts the 24-hour clock)")
	}
	return nil
}

// GetIncidentReport returns one report the caller may read.
func (s *Server) GetIncidentReport(ctx context.Context, req *reportsv1.GetIncidentReportRequest) (*reportsv1.GetIncidentReportResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "incident_report", "read", reportResource(req.GetReportId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	r, err := store.Get(ctx, s.pool, req.GetReportId())
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	annotate(ctx, r)
	rep, err := s.respond(ctx, p, r)
	if err != nil {
		return nil, err
	}
	return &reportsv1.GetIncidentReportResponse{Report: rep}, nil
}

// ListIncidentReports lists the reports the caller may read, newest first.
func (s *Server) ListIncidentReports(ctx context.Context, req *reportsv1.ListIncidentReportsRequest) (*reportsv1.ListIncidentReportsResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	q := store.ListQuery{
		AgencyID: p.AgencyID, Relations: s.authz.Permitting(p, "incident_report", "read"),
		TriageRelations: s.authz.Permitting(p, "incident_report", "read_triage"),
	}
	terms, err := filter.Parse(req.GetFilter(), "state")
	if err != nil {
		return nil, rpc.FieldError("filter", err.Error())
	}
	for _, t := range terms {
		if t.Field == "" {
			return nil, rpc.FieldError("filter", "text search is not supported here; use state")
		}
		v := strings.TrimPrefix(strings.ToUpper(t.Value), "REPORT_STATE_")
		if _, ok := reportsv1.ReportState_value["REPORT_STATE_"+v]; !ok || v == "UNSPECIFIED" {
			return nil, rpc.FieldError("filter", fmt.Sprintf("unknown state %q (DRAFT, SUBMITTED, ACKNOWLEDGED, INFORMATION_REQUESTED, CASE_OPENED, CLOSED)", t.Value))
		}
		if t.Op == "=" {
			q.States = append(q.States, v)
		} else {
			q.NotStates = append(q.NotStates, v)
		}
	}
	q.Limit = pagetoken.PageSize(req.GetPageSize()) + 1
	bind := pagetoken.Bind("ListIncidentReports", p.AgencyID, req.GetFilter())
	keys, err := pagetoken.Decode(req.GetPageToken(), bind, 2)
	if err != nil {
		return nil, rpc.FieldError("pageToken", "invalid or issued for a different filter; start again without a page token")
	}
	if keys != nil {
		t, err := time.Parse(time.RFC3339Nano, keys[0])
		if err != nil || uuid.Validate(keys[1]) != nil {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
		q.AfterTime, q.AfterID = &t, keys[1]
	}
	rows, err := store.List(ctx, s.pool, q)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &reportsv1.ListIncidentReportsResponse{Reports: []*reportsv1.IncidentReport{}}
	if len(rows) == q.Limit {
		rows = rows[:q.Limit-1]
		last := rows[len(rows)-1]
		resp.NextPageToken = pagetoken.Encode(bind, last.Report.CreateTime.UTC().Format(time.RFC3339Nano), last.Report.ID)
	}
	now := s.timestamp()
	for _, row := range rows {
		rep, err := toProto(row.Report, row.Triage, s.regime, now)
		if err != nil {
			return nil, toStatus(ctx, s.logger, err)
		}
		resp.Reports = append(resp.Reports, rep)
	}
	return resp, nil
}

// change runs one change of report id in a transaction: it locks the row,
// checks the etag, lets fn change r, and saves r with its audit record. fn
// returns a notice to emit ("" Kind: none).
func (s *Server) change(ctx context.Context, p *auth.Principal, id, etagIn string, fn func(tx pgx.Tx, r *store.Report, now time.Time) (Notice, error)) (*store.Report, error) {
	var out *store.Report
	err := postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		r, err := store.Lock(ctx, tx, id)
		if err != nil {
			return err
		}
		if etagIn != "" && etagIn != etag(r) {
			return store.ErrEtagMismatch
		}
		now := s.timestamp()
		n, err := fn(tx, r, now)
		if err != nil {
			return err
		}
		r.UpdateTime = now
		if err := store.Save(ctx, tx, r); err != nil {
			return err
		}
		if n.Kind != "" {
			n.ReportID, n.OrgAgencyID, n.ReporterUserID = r.ID, r.OrgAgencyID, r.CreateUserID
			if r.Number != nil {
				n.ReportNumber = *r.Number
			}
			if err := s.notify(ctx, tx, n); err != nil {
				return err
			}
		}
		annotate(ctx, r)
		out = r
		return audit.Write(ctx, tx)
	})
	return out, err
}

// authorized decides act on report id for p, then runs change.
func (s *Server) authorized(ctx context.Context, act, id, etagIn string, fn func(p *auth.Principal, tx pgx.Tx, r *store.Report, now time.Time) (Notice, error)) (*reportsv1.IncidentReport, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "incident_report", act, reportResource(id)); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	r, err := s.change(ctx, p, id, etagIn, func(tx pgx.Tx, r *store.Report, now time.Time) (Notice, error) {
		return fn(p, tx, r, now)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return s.respond(ctx, p, r)
}

// precondition is a refused move, in words for the user.
func precondition(format string, args ...any) error {
	return status.Errorf(codes.FailedPrecondition, format, args...)
}

// UpdateIncidentReport replaces a draft's details.
func (s *Server) UpdateIncidentReport(ctx context.Context, req *reportsv1.UpdateIncidentReportRequest) (*reportsv1.UpdateIncidentReportResponse, error) {
	in := req.GetReport()
	if uuid.Validate(in.GetId()) != nil {
		return nil, rpc.FieldError("report.id", "must be a UUID")
	}
	d := in.GetDetails()
	if d == nil {
		d = &reportsv1.IncidentDetails{}
	}
	if err := checkDetails(d, s.timestamp()); err != nil {
		return nil, err
	}
	doc, err := marshal(d)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	rep, err := s.authorized(ctx, "update", in.GetId(), in.GetEtag(), func(p *auth.Principal, _ pgx.Tx, r *store.Report, now time.Time) (Notice, error) {
		if r.State != "DRAFT" {
			return Notice{}, precondition("the report was sent (%s); add an update instead", r.State)
		}
		r.Details, r.IncidentType = doc, typeName(d.GetIncidentType())
		return Notice{}, addEvent(r, p, "update", "", now)
	})
	if err != nil {
		return nil, err
	}
	return &reportsv1.UpdateIncidentReportResponse{Report: rep}, nil
}

// triageAgencies resolves the regime's triage ORIs through the directory,
// as the caller.
func (s *Server) triageAgencies(ctx context.Context) ([]*liaisonv1.Agency, error) {
	want := map[string]int{}
	for i, ori := range s.regime.TriageORIs {
		want[ori] = i
	}
	out := make([]*liaisonv1.Agency, len(s.regime.TriageORIs))
	token := ""
	for {
		resp, err := s.dir.ListAgencies(rpc.ForwardIdentity(ctx), &liaisonv1.ListAgenciesRequest{PageSize: 100, PageToken: token})
		if err != nil {
			return nil, err
		}
		for _, a := range resp.GetAgencies() {
			if i, ok := want[a.GetOri()]; ok && a.GetActive() {
				out[i] = a
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	for i, a := range out {
		if a == nil {
			return nil, fmt.Errorf("reports: triage agency %s is not in the directory or inactive", s.regime.TriageORIs[i])
		}
	}
	return out, nil
}

// SubmitIncidentReport sends a draft: number, clocks, triage relations.
func (s *Server) SubmitIncidentReport(ctx context.Context, req *reportsv1.SubmitIncidentReportRequest) (*reportsv1.SubmitIncidentReportResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "incident_report", "submit", reportResource(req.GetReportId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	agencies, err := s.triageAgencies(ctx)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	r, err := s.change(ctx, p, req.GetReportId(), req.GetEtag(), func(tx pgx.Tx, r *store.Report, now time.Time) (Notice, error) {
		if r.State != "DRAFT" {
			return Notice{}, precondition("the report was already sent (%s)", r.State)
		}
		d, err := details(r)
		if err != nil {
			return Notice{}, err
		}
		if err := checkSubmittable(d); err != nil {
			return Notice{}, err
		}
		num, err := store.NextNumber(ctx, tx, agencies[0].GetOri(), now.Year())
		if err != nil {
			return Notice{}, err
		}
		clocks := initialClocks(d, s.regime, &now, now)
		doc := []byte("[]")
		for _, c := range clocks {
			if doc, err = appendDoc(doc, c); err != nil {
				return Notice{}, err
			}
		}
		r.Number, r.State, r.SubmitTime, r.Clocks = &num, "SUBMITTED", &now, doc
		n := Notice{Kind: NoticeSubmitted, Ransomware: d.GetIncidentType() == reportsv1.IncidentType_INCIDENT_TYPE_RANSOMWARE,
			PublicSafety: d.GetImpact().GetPublicSafetyAffected(), RansomPaid: d.GetRansom().GetPaid()}
		for _, a := range agencies {
			if a.GetId() == r.OrgAgencyID {
				continue
			}
			if _, err := authz.Grant(ctx, tx, p, authz.GrantRequest{Resource: reportResource(r.ID), AgencyID: a.GetId(),
				Relation: authz.RelTriage, Reason: "incident report " + num + " submitted"}); err != nil {
				return Notice{}, err
			}
			n.TriageAgencyIDs = append(n.TriageAgencyIDs, a.GetId())
		}
		// The door names one recipient per record; the receiving agency
		// is the one the report goes to.
		audit.Annotate(ctx, func(e *audit.Event) { e.RecipientAgencyID = agencies[0].GetId() })
		return n, addEvent(r, p, "submit", "sent to "+agencies[0].GetName(), now)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	rep, err := s.respond(ctx, p, r)
	if err != nil {
		return nil, err
	}
	return &reportsv1.SubmitIncidentReportResponse{Report: rep}, nil
}

// AddSupplement appends a supplemental report.
func (s *Server) AddSupplement(ctx context.Context, req *reportsv1.AddSupplementRequest) (*reportsv1.AddSupplementResponse, error) {
	in := req.GetSupplement()
	paid := in.GetKind() == reportsv1.SupplementKind_SUPPLEMENT_KIND_RANSOM_PAID
	switch {
	case paid && in.GetPaymentTime() == nil:
		return nil, rpc.FieldError("supplement.paymentTime", "say when the ransom was paid (it starts the 24-hour clock)")
	case !paid && in.GetPaymentTime() != nil:
		return nil, rpc.FieldError("supplement.paymentTime", "only for a RANSOM_PAID update")
	case paid && in.GetPaymentTime().AsTime().After(s.timestamp().Add(5*time.Minute)):
		return nil, rpc.FieldError("supplement.paymentTime", "is in the future")
	case in.GetRecoveryTime() != nil && in.GetKind() != reportsv1.SupplementKind_SUPPLEMENT_KIND_CONCLUDED:
		return nil, rpc.FieldError("supplement.recoveryTime", "only for a CONCLUDED update")
	case in.GetRecoveryTime() != nil && in.GetRecoveryTime().AsTime().After(s.timestamp().Add(5*time.Minute)):
		return nil, rpc.FieldError("supplement.recoveryTime", "is in the future")
	}
	rep, err := s.authorized(ctx, "supplement", req.GetReportId(), "", func(p *auth.Principal, _ pgx.Tx, r *store.Report, now time.Time) (Notice, error) {
		switch r.State {
		case "DRAFT":
			return Notice{}, precondition("the report is a draft: change it and send it instead")
		case "CLOSED":
			return Notice{}, precondition("the report is closed; file a new report for a new incident")
		}
		sups, err := decodeDocs(r.Supplements, func() *reportsv1.Supplement { return &reportsv1.Supplement{} })
		if err != nil {
			return Notice{}, err
		}
		sup := &reportsv1.Supplement{Sequence: int32(len(sups) + 1), Kind: in.GetKind(), Text: in.GetText(),
			PaymentTime: in.GetPaymentTime(), AmountMinor: in.GetAmountMinor(), Currency: in.GetCurrency(),
			RecoveryTime: in.GetRecoveryTime(), CreateTime: timestamppb.New(now), CreateUser: p.Email}
		if in.GetKind() == reportsv1.SupplementKind_SUPPLEMENT_KIND_CONCLUDED && in.GetRecoveryTime() != nil && s.regime.ConclusionDue > 0 {
			sup.Clock = clock(reportsv1.ClockKind_CLOCK_KIND_CONCLUSION, in.GetRecoveryTime().AsTime(), s.regime.ConclusionDue, &now, now, sup.Sequence)
			if r.Clocks, err = appendDoc(r.Clocks, sup.Clock); err != nil {
				return Notice{}, err
			}
		}
		if paid {
			// A ransom payment starts its own clock on this supplement.
			sup.Clock = clock(reportsv1.ClockKind_CLOCK_KIND_RANSOM_PAYMENT, in.GetPaymentTime().AsTime(), s.regime.RansomDue, &now, now, sup.Sequence)
			if r.Clocks, err = appendDoc(r.Clocks, sup.Clock); err != nil {
				return Notice{}, err
			}
		}
		if r.Supplements, err = appendDoc(r.Supplements, sup); err != nil {
			return Notice{}, err
		}
		comment := fmt.Sprintf("update %d: %s", sup.Sequence, strings.ToLower(strings.TrimPrefix(sup.GetKind().String(), "SUPPLEMENT_KIND_")))
		if r.State == "INFORMATION_REQUESTED" {
			// The update answers the state's question.
			r.State, r.InformationRequest = "ACKNOWLEDGED", ""
			comment += " (answers the information request)"
		}
		return Notice{Kind: NoticeSupplemented, RansomPaid: paid}, addEvent(r, p, "supplement", comment, now)
	})
	if err != nil {
		return nil, err
	}
	return &reportsv1.AddSupplementResponse{Report: rep}, nil
}
