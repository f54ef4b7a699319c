package cases

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	evidencev1 "github.com/casebridge/casebridge/gen/casebridge/evidence/v1"
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	reportsv1 "github.com/casebridge/casebridge/gen/casebridge/reports/v1"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/notify"
	"github.com/casebridge/casebridge/pkg/pagetoken"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/requestid"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/cases/internal/observable"
	"github.com/casebridge/casebridge/services/cases/internal/store"
)

// ObservableServer implements casesv1.ObservableServiceServer: observables
// on cases, correlation within what the caller may read, and deconfliction
// across agencies by keyed digest (issue 21).
type ObservableServer struct {
	casesv1.UnimplementedObservableServiceServer
	pool     *pgxpool.Pool
	authz    *authz.Authorizer
	dir      liaisonv1.DirectoryServiceClient
	liaison  liaisonv1.LiaisonServiceClient
	evidence evidencev1.EvidenceServiceClient
	keys     *observable.Keyring
	// reports reads incident reports whose indicators are imported (as
	// the caller); set by WithReports.
	reports reportsv1.IncidentReportServiceClient
	logger  *slog.Logger
	// lookupLimit is how many observables (each a deconfliction lookup) one
	// user may record per lookupWindow.
	lookupLimit  int
	lookupWindow time.Duration
	now          func() time.Time
}

// DefaultLookupLimit is the default of --deconfliction-lookups-per-hour.
const DefaultLookupLimit = 500

// NewObservableServer returns the Observable service. keys is the
// deconfliction keyring (--deconfliction-key-file); lookupsPerHour ≤ 0 means
// DefaultLookupLimit. The directory, liaison and evidence clients are
// called with the caller's identity.
func NewObservableServer(pool *pgxpool.Pool, az *authz.Authorizer, dir liaisonv1.DirectoryServiceClient,
	li liaisonv1.LiaisonServiceClient, ev evidencev1.EvidenceServiceClient, keys *observable.Keyring,
	lookupsPerHour int, logger *slog.Logger) *ObservableServer {
	if lookupsPerHour <= 0 {
		lookupsPerHour = DefaultLookupLimit
	}
	return &ObservableServer{pool: pool, authz: az, dir: dir, liaison: li, evidence: ev, keys: keys, logger: logger,
		lookupLimit: lookupsPerHour, lookupWindow: time.Hour, now: time.Now}
}

func (s *ObservableServer) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// WithReports sets the incident-report client BatchCreateObservables reads
// a report's indicators through, with the caller's identity.
func (s *ObservableServer) WithReports(c reportsv1.IncidentReportServiceClient) *ObservableServer {
	s.reports = c
	return s
}

// fromReport reads report id's indicators as the caller and turns them into
// observables (TLP AMBER): the report service decides whether the caller
// may read it (a report it cannot read answers like a missing one).
func (s *ObservableServer) fromReport(ctx context.Context, id string) ([]*casesv1.Observable, error) {
	if s.reports == nil {
		return nil, status.Error(codes.FailedPrecondition, "incident reports cannot be reached; nothing was imported")
	}
	r, err := s.reports.GetIncidentReport(rpc.ForwardIdentity(ctx), &reportsv1.GetIncidentReportRequest{ReportId: id})
	if status.Code(err) == codes.NotFound || status.Code(err) == codes.PermissionDenied {
		return nil, rpc.FieldError("fromIncidentReportId", "no such incident report you may read")
	}
	if err != nil {
		return nil, err
	}
	rep := r.GetReport()
	var out []*casesv1.Observable
	for _, in := range rep.GetDetails().GetIndicators() {
		o := &casesv1.Observable{Value: in.GetValue(), Tlp: "AMBER", Description: "From incident report " + rep.GetReportNumber()}
		v := strings.TrimSpace(in.GetValue())
		switch in.GetType() {
		case reportsv1.IndicatorType_INDICATOR_TYPE_IP:
			o.Type = "IPV4"
			if strings.Contains(v, ":") {
				o.Type = "IPV6"
			}
		case reportsv1.IndicatorType_INDICATOR_TYPE_DOMAIN:
			o.Type = "DOMAIN"
		case reportsv1.IndicatorType_INDICATOR_TYPE_EMAIL:
			o.Type = "EMAIL"
		case reportsv1.IndicatorType_INDICATOR_TYPE_HASH:
			o.Type = "OTHER"
			if len(v) == 64 {
				o.Type = "FILE_SHA256"
			}
		case reportsv1.IndicatorType_INDICATOR_TYPE_WALLET:
			o.Type, o.Chain = "CRYPTO_WALLET", walletChain(v)
		default:
			continue
		}
		out = append(out, o)
	}
	return out, nil
}

// walletChain guesses a wallet address's chain from its form.
func walletChain(v string) string {
	switch {
	case strings.HasPrefix(v, "0x") && len(v) == 42:
		return "ethereum"
	case strings.HasPrefix(v, "bc1"), strings.HasPrefix(v, "1"), strings.HasPrefix(v, "3"):
		return "bitcoin"
	case strings.HasPrefix(v, "4") || strings.HasPrefix(v, "8"):
		return "monero"
	}
	return "unknown"
}

// tlpCap is the most restrictive marking an agency may export from a case
// by its effective relation: the lead owns its markings (RED); a
// contributor works the case with it (AMBER+STRICT would be the lead's own
// organisation only, so AMBER); anyone else GREEN.
func tlpCap(rels []string) string {
	out := "GREEN"
	for _, r := range rels {
		switch r {
		case authz.RelLead:
			return "RED"
		case authz.RelContributor:
			out = "AMBER"
		}
	}
	return out
}

// prepared is an observable checked and canonicalised, ready to insert.
type prepared struct {
	obs     *store.Observable
	digests []store.Digest
}

// prepare checks one observable of the request (field names the JSON path
// for errors) and builds its row.
func (s *ObservableServer) prepare(ctx context.Context, p *auth.Principal, caseID, field string, in *casesv1.Observable, now time.Time) (*prepared, error) {
	typ := in.GetType()
	chain, platform := strings.ToLower(strings.TrimSpace(in.GetChain())), strings.ToLower(strings.TrimSpace(in.GetPlatform()))
	switch {
	case typ == "CRYPTO_WALLET" && chain == "":
		return nil, rpc.FieldError(field+".chain", "required for a CRYPTO_WALLET (e.g. bitcoin, ethereum)")
	case typ != "CRYPTO_WALLET" && chain != "":
		return nil, rpc.FieldError(field+".chain", "only a CRYPTO_WALLET has a chain")
	case typ == "HANDLE" && platform == "":
		return nil, rpc.FieldError(field+".platform", "required for a HANDLE (e.g. telegram, instagram)")
	case typ != "HANDLE" && platform != "":
		return nil, rpc.FieldError(field+".platform", "only a HANDLE has a platform")
	}
	canon, err := observable.Canonical(typ, in.GetValue())
	if err != nil {
		return nil, rpc.FieldError(field+".value", strings.TrimPrefix(err.Error(), observable.ErrInvalid.Error()+": "))
	}
	tlp := in.GetTlp()
	if tlp == "" {
		tlp = "AMBER"
	}
	o := &store.Observable{
		ID: uuid.NewString(), CaseID: caseID, Type: typ, Chain: chain, Platform: platform,
		Value: strings.TrimSpace(in.GetValue()), Canonical: canon, Description: in.GetDescription(), TLP: tlp,
		ExhibitIDs: in.GetExhibitIds(), CreateTime: now, CreateUserID: p.UserID, CreateUserEmail: p.Email,
		AgencyID: p.AgencyID, AgencyORI: p.AgencyORI,
	}
	if t := in.GetFirstSeenTime(); t != nil {
		v := t.AsTime().UTC()
		o.FirstSeen = &v
	}
	if t := in.GetLastSeenTime(); t != nil {
		v := t.AsTime().UTC()
		o.LastSeen = &v
	}
	// Exhibits must be items of this case the caller can read (asked of
	// the evidence service as the caller).
	for i, id := range o.ExhibitIDs {
		ev, err := s.evidence.GetEvidence(rpc.ForwardIdentity(ctx), &evidencev1.GetEvidenceRequest{EvidenceId: id})
		if err != nil || ev.GetEvidence().GetCaseId() != caseID {
			return nil, rpc.FieldError(fmt.Sprintf("%s.exhibitIds[%d]", field, i), "no exhibit "+id+" on this case that you can read")
		}
	}
	var digests []store.Digest
	for _, d := range s.keys.Digests(typ, chain, platform, canon) {
		digests = append(digests, store.Digest{KeyID: d.KeyID, Sum: d.Sum})
	}
	return &prepared{obs: o, digests: digests}, nil
}

// CreateObservable records one observable.
func (s *ObservableServer) CreateObservable(ctx context.Context, req *casesv1.CreateObservableRequest) (*casesv1.CreateObservableResponse, error) {
	out, skipped, err := s.create(ctx, req.GetCaseId(), []*casesv1.Observable{req.GetObservable()}, "observable")
	if err != nil {
		return nil, err
	}
	if len(skipped) > 0 {
		return nil, status.Errorf(codes.AlreadyExists, "the case already holds %s", skipped[0])
	}
	return &casesv1.CreateObservableResponse{Observable: out[0]}, nil
}

// BatchCreateObservables records several observables in one transaction.
func (s *ObservableServer) BatchCreateObservables(ctx context.Context, req *casesv1.BatchCreateObservablesRequest) (*casesv1.BatchCreateObservablesResponse, error) {
	ins := req.GetObservables()
	if id := req.GetFromIncidentReportId(); id != "" {
		imported, err := s.fromReport(ctx, id)
		if err != nil {
			return nil, err
		}
		if len(ins) == 0 && len(imported) == 0 {
			return nil, rpc.FieldError("fromIncidentReportId", "the report lists no indicators")
		}
		ins = append(append([]*casesv1.Observable{}, ins...), imported...)
	}
	out, skipped, err := s.create(ctx, req.GetCaseId(), ins, "observables")
	if err != nil {
		return nil, err
	}
	return &casesv1.BatchCreateObservablesResponse{Observables: out, Skipped: skipped}, nil
}

// create is CreateObservable and BatchCreateObservables: authorize on the
// case, check every value (nothing is written when one is bad), enforce the
// lookup limit, insert, and deconflict each new value, all in one
// transaction with the call's audit record.
func (s *ObservableServer) create(ctx context.Context, caseID string, ins []*casesv1.Observable, field string) ([]*casesv1.Observable, []string, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "observable", "create", caseResource(caseID)); err != nil {
		return nil, nil, toStatus(ctx, s.logger, err)
	}
	now := s.timestamp()
	preps := make([]*prepared, 0, len(ins))
	for i, in := range ins {
		f := field
		if field == "observables" {
			f = fmt.Sprintf("observables[%d]", i)
		}
		// A microsecond apart: the table lists in the order pasted.
		pr, err := s.prepare(ctx, p, caseID, f, in, now.Add(time.Duration(i)*time.Microsecond))
		if err != nil {
			return nil, nil, err
		}
		preps = append(preps, pr)
	}
	var out []*casesv1.Observable
	var skipped []string
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		out, skipped = nil, nil
		n, err := store.RecentObservableCount(ctx, tx, p.UserID, now.Add(-s.lookupWindow))
		if err != nil {
			return err
		}
		if n+len(preps) > s.lookupLimit {
			return status.Errorf(codes.ResourceExhausted,
				"deconfliction lookup limit: at most %d observables per user per hour (%d recorded in the last hour)", s.lookupLimit, n)
		}
		c, err := store.GetCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		setting, err := store.GetDeconflictionSetting(ctx, tx, caseID)
		if err != nil {
			return err
		}
		matched := 0
		for _, pr := range preps {
			if err := store.LockDigest(ctx, tx, pr.digests[0]); err != nil {
				return err
			}
			ok, err := store.InsertObservable(ctx, tx, pr.obs, pr.digests)
			if err != nil {
				return err
			}
			if !ok {
				skipped = append(skipped, pr.obs.Type+" "+pr.obs.Value)
				continue
			}
			k, err := s.deconflict(ctx, tx, p, c, setting.DoNotDeconflict, pr, now)
			if err != nil {
				return err
			}
			matched += k
			out = append(out, observableToProto(pr.obs))
		}
		annotate(ctx, "observable", "", caseID)
		if len(out) == 1 {
			annotate(ctx, "observable", out[0].GetId(), caseID)
		}
		// The lookup itself is part of the record: how many values were
		// checked and how many notices they caused (never which).
		audit.Annotate(ctx, func(e *audit.Event) {
			e.Reason = fmt.Sprintf("deconfliction lookups %d, notices %d", len(out), matched)
		})
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, nil, toStatus(ctx, s.logger, err)
	}
	return out, skipped, nil
}

// deconflict matches one new observable against other agencies' cases by
// digest and records the notices: to this case's lead about each other
// agency whose case it cannot reach, and to that agency's lead about this
// case when it cannot reach this one. A notice about a case marked "do not
// deconflict" is not sent (that case sends nothing); the suppression is
// audited on the marked case's agency's chain. It returns the notices
// recorded.
func (s *ObservableServer) deconflict(ctx context.Context, tx pgx.Tx, p *auth.Principal, c *store.Case, dnd bool, pr *prepared, now time.Time) (int, error) {
	matches, err := store.DeconflictionMatches(ctx, tx, c.ID, c.LeadAgencyID, pr.digests)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, m := range matches {
		// To this case's lead, about the other case (sent by the other).
		if !m.LeadSeesOther {
			if m.OtherDoNotDeconflict {
				if err := s.auditNotice(ctx, tx, p, m.OtherLeadID, m.OtherCaseID, "", "DeconflictionNoticeSuppressed", c.LeadAgencyID); err != nil {
					return 0, err
				}
			} else {
				k, err := s.notify(ctx, tx, p, &store.Notice{ID: uuid.NewString(), CaseID: c.ID, AgencyID: c.LeadAgencyID,
					ObservableID: pr.obs.ID, OtherAgencyID: m.OtherLeadID, OtherCaseID: m.OtherCaseID, MatchTime: now})
				if err != nil {
					return 0, err
				}
				sent += k
			}
		}
		// To the other case's lead, about this case (sent by this one).
		if !m.OtherSeesThis {
			if dnd {
				if err := s.auditNotice(ctx, tx, p, c.LeadAgencyID, c.ID, "", "DeconflictionNoticeSuppressed", m.OtherLeadID); err != nil {
					return 0, err
				}
			} else {
				k, err := s.notify(ctx, tx, p, &store.Notice{ID: uuid.NewString(), CaseID: m.OtherCaseID, AgencyID: m.OtherLeadID,
					ObservableID: m.OtherObservableID, OtherAgencyID: c.LeadAgencyID, OtherCaseID: c.ID, MatchTime: now})
				if err != nil {
					return 0, err
				}
				sent += k
			}
		}
	}
	return sent, nil
}

// notify records n and audits it on both sides: on the recipient's chain
// (a notice received on its case) and on the other agency's chain (its
// contact disclosed to the recipient).
//
// This is the one place a deconfliction notice is created; it also tells
// the recipient case's lead agency's supervisors through the notification
// service (pkg/notify, a River job in this transaction), in-app and by
// e-mail only (no webhook: the notice names another agency), with the
// recipient's own case number and a link — nothing of the other side.
func (s *ObservableServer) notify(ctx context.Context, tx pgx.Tx, p *auth.Principal, n *store.Notice) (int, error) {
	ok, err := store.InsertNotice(ctx, tx, n)
	if err != nil || !ok {
		return 0, err
	}
	if err := s.auditNotice(ctx, tx, p, n.AgencyID, n.CaseID, n.ID, "DeconflictionNoticeReceived", n.OtherAgencyID); err != nil {
		return 0, err
	}
	if err := s.auditNotice(ctx, tx, p, n.OtherAgencyID, n.OtherCaseID, n.ID, "DeconflictionContactDisclosed", n.AgencyID); err != nil {
		return 0, err
	}
	var number string
	if err := tx.QueryRow(ctx, `SELECT case_number FROM cases.cases WHERE id = $1`, n.CaseID).Scan(&number); err != nil {
		return 0, postgres.Translate(err)
	}
	if _, err := notify.Emit(ctx, tx, notify.Event{Type: notify.DeconflictionMatch, Number: number, Link: "/cases/" + n.CaseID,
		Resource:  "deconfliction_notice:" + n.ID,
		Audiences: []notify.Audience{{AgencyID: n.AgencyID, Roles: []string{"supervisor"}, NoWebhook: true}}}); err != nil {
		return 0, err
	}
	return 1, nil
}

// auditNotice appends a deconfliction record to agency's chain about its
// case: who caused it (the caller, by user id only: the caller's agency may
// be the other side), and to whom it went.
func (s *ObservableServer) auditNotice(ctx context.Context, tx pgx.Tx, p *auth.Principal, agencyID, caseID, noticeID, action, recipient string) error {
	ev := &audit.Event{
		AgencyID: agencyID, Time: time.Now().UTC(), RequestID: requestid.From(ctx), Roles: []string{},
		Service: casesv1.ObservableService_ServiceDesc.ServiceName, Method: action, Action: action,
		ResourceType: "deconfliction_notice", ResourceID: noticeID, CaseID: caseID,
		Outcome: audit.OutcomeAllowed, StatusCode: "OK", RecipientAgencyID: recipient,
		Reason: "deconfliction match recorded by a user of agency " + p.AgencyORI,
	}
	if agencyID == p.AgencyID {
		ev.UserID, ev.UserEmail, ev.AgencyORI = p.UserID, p.Email, p.AgencyORI
	}
	return audit.Append(ctx, tx, ev)
}

// ListObservables lists a case's observables with their correlations.
func (s *ObservableServer) ListObservables(ctx context.Context, req *casesv1.ListObservablesRequest) (*casesv1.ListObservablesResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "observable", "read", caseResource(req.GetCaseId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	bind := pagetoken.Bind("ListObservables", req.GetCaseId())
	keys, err := pagetoken.Decode(req.GetPageToken(), bind, 2)
	if err != nil {
		return nil, rpc.FieldError("pageToken", "invalid or issued for another case")
	}
	var afterTime *time.Time
	var afterID string
	if keys != nil {
		t, err := time.Parse(time.RFC3339Nano, keys[0])
		if err != nil || uuid.Validate(keys[1]) != nil {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
		afterTime, afterID = &t, keys[1]
	}
	limit := pagetoken.PageSize(req.GetPageSize()) + 1
	rows, err := store.ListObservables(ctx, s.pool, req.GetCaseId(), afterTime, afterID, limit)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &casesv1.ListObservablesResponse{}
	if len(rows) == limit {
		rows = rows[:limit-1]
		last := rows[len(rows)-1]
		resp.NextPageToken = pagetoken.Encode(bind, last.CreateTime.UTC().Format(time.RFC3339Nano), last.ID)
	}
	ids := make([]string, 0, len(rows))
	byID := map[string]*casesv1.Observable{}
	for _, o := range rows {
		po := observableToProto(o)
		resp.Observables = append(resp.Observables, po)
		ids = append(ids, o.ID)
		byID[o.ID] = po
	}
	// Correlation: only cases the caller may read, decided in the SQL.
	corr, err := store.Correlations(ctx, s.pool, ids, p.AgencyID, s.authz.Permitting(p, "case", "read"), 20)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	listed := []string{req.GetCaseId()}
	for _, c := range corr {
		byID[c.ObservableID].Correlations = append(byID[c.ObservableID].Correlations, &casesv1.CorrelatedCase{
			CaseId: c.CaseID, CaseNumber: c.CaseNumber, Title: c.Title, ObservableId: c.OtherObservableID})
		listed = append(listed, c.CaseID)
	}
	// The correlated cases were shown (number and title): name them in the
	// audit record so their disclosure reports include this read.
	audit.Annotate(ctx, func(e *audit.Event) { e.ListedCaseIDs = listed })
	return resp, nil
}

// ExportObservables renders the case's observables at or below the
// requested TLP, capped by the caller's effective relation (tlpCap).
func (s *ObservableServer) ExportObservables(ctx context.Context, req *casesv1.ExportObservablesRequest) (*casesv1.ExportObservablesResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	res := caseResource(req.GetCaseId())
	if err := s.authz.Authorize(ctx, s.pool, p, "observable", "export", res); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	rels, err := authz.Held(ctx, s.pool, p.AgencyID, res)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	want := req.GetTlp()
	if want == "" {
		want = "GREEN"
	}
	limit := tlpCap(rels)
	if observable.TLPRank(want) > observable.TLPRank(limit) {
		return nil, status.Errorf(codes.PermissionDenied, "your agency may export observables of this case up to TLP:%s, not TLP:%s", limit, want)
	}
	tlps := observable.TLPs[:observable.TLPRank(want)+1]
	c, err := store.GetCase(ctx, s.pool, req.GetCaseId())
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	rows, err := store.ExportableObservables(ctx, s.pool, c.ID, tlps)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	items := make([]observable.Item, 0, len(rows))
	for _, o := range rows {
		items = append(items, observable.Item{ID: o.ID, Type: o.Type, Chain: o.Chain, Platform: o.Platform, Value: o.Value,
			Canonical: o.Canonical, Description: o.Description, TLP: o.TLP, FirstSeen: o.FirstSeen, LastSeen: o.LastSeen,
			CreateTime: o.CreateTime})
	}
	src := observable.Source{CaseID: c.ID, CaseNumber: c.CaseNumber, AgencyID: p.AgencyID, AgencyName: p.AgencyORI, Time: s.timestamp()}
	if a, err := s.dir.GetAgency(rpc.ForwardIdentity(ctx), &liaisonv1.GetAgencyRequest{AgencyId: p.AgencyID}); err == nil {
		src.AgencyName = a.GetAgency().GetName()
	}
	var body []byte
	contentType := "application/json"
	if req.GetFormat() == "stix" {
		body, err = observable.STIXBundle(src, items)
		contentType = "application/stix+json;version=2.1"
	} else {
		body, err = observable.MISPEvent(src, items)
	}
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	// An export disseminates: the record names the marking and the count.
	audit.Annotate(ctx, func(e *audit.Event) {
		e.Reason = fmt.Sprintf("export %s up to TLP:%s, %d observables", req.GetFormat(), want, len(items))
	})
	return &casesv1.ExportObservablesResponse{Body: &httpbody.HttpBody{ContentType: contentType, Data: body}}, nil
}

// GetDeconflictionSetting returns the case's flag.
func (s *ObservableServer) GetDeconflictionSetting(ctx context.Context, req *casesv1.GetDeconflictionSettingRequest) (*casesv1.GetDeconflictionSettingResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "deconfliction", "read", caseResource(req.GetCaseId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	st, err := store.GetDeconflictionSetting(ctx, s.pool, req.GetCaseId())
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &casesv1.GetDeconflictionSettingResponse{Setting: settingToProto(st)}, nil
}

// UpdateDeconflictionSetting marks or unmarks the case; the change goes to
// the timeline and the audit record in one transaction.
func (s *ObservableServer) UpdateDeconflictionSetting(ctx context.Context, req *casesv1.UpdateDeconflictionSettingRequest) (*casesv1.UpdateDeconflictionSettingResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "deconfliction", "update", caseResource(req.GetCaseId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	now := s.timestamp()
	in := req.GetSetting()
	st := &store.DeconflictionSetting{CaseID: req.GetCaseId(), DoNotDeconflict: in.GetDoNotDeconflict(),
		Reason: strings.TrimSpace(in.GetReason()), UpdateTime: &now, UpdateUserEmail: p.Email}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := store.LockCase(ctx, tx, st.CaseID); err != nil {
			return err
		}
		if err := store.SaveDeconflictionSetting(ctx, tx, st); err != nil {
			return err
		}
		body := "Deconfliction resumed: matches of this case's observables notify other agencies again"
		if st.DoNotDeconflict {
			body = "Marked do not deconflict: matches send no notice to other agencies (" + st.Reason + ")"
		}
		a := actor(p)
		if err := store.InsertNote(ctx, tx, &store.Note{ID: uuid.NewString(), CaseID: st.CaseID, Kind: "SYSTEM", Body: body,
			AuthorUserID: a.UserID, AuthorEmail: a.Email, AgencyID: a.AgencyID, AgencyORI: a.AgencyORI, CreateTime: now}); err != nil {
			return err
		}
		audit.Annotate(ctx, func(e *audit.Event) {
			e.Reason = fmt.Sprintf("do_not_deconflict=%t: %s", st.DoNotDeconflict, st.Reason)
		})
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &casesv1.UpdateDeconflictionSettingResponse{Setting: settingToProto(st)}, nil
}

// ListDeconflictionNotices lists the notices addressed to the caller's
// agency on cases the caller may receive them for (deconfliction read,
// pushed into the SQL), newest first, each with the other agency's contact.
func (s *ObservableServer) ListDeconflictionNotices(ctx context.Context, req *casesv1.ListDeconflictionNoticesRequest) (*casesv1.ListDeconflictionNoticesResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	bind := pagetoken.Bind("ListDeconflictionNotices", p.AgencyID, p.UserID)
	keys, err := pagetoken.Decode(req.GetPageToken(), bind, 2)
	if err != nil {
		return nil, rpc.FieldError("pageToken", "invalid or issued to someone else")
	}
	var afterTime *time.Time
	var afterID string
	if keys != nil {
		t, err := time.Parse(time.RFC3339Nano, keys[0])
		if err != nil || uuid.Validate(keys[1]) != nil {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
		afterTime, afterID = &t, keys[1]
	}
	limit := pagetoken.PageSize(req.GetPageSize()) + 1
	rows, err := store.ListNotices(ctx, s.pool, p.AgencyID, s.authz.Permitting(p, "deconfliction", "read"), afterTime, afterID, limit)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &casesv1.ListDeconflictionNoticesResponse{}
	if len(rows) == limit {
		rows = rows[:limit-1]
		last := rows[len(rows)-1]
		resp.NextPageToken = pagetoken.Encode(bind, last.MatchTime.UTC().Format(time.RFC3339Nano), last.ID)
	}
	contacts := map[string]*contactOf{}
	listed := make([]string, 0, len(rows))
	for _, n := range rows {
		c, ok := contacts[n.OtherAgencyID]
		if !ok {
			c = s.deconflictionContact(ctx, n.OtherAgencyID)
			contacts[n.OtherAgencyID] = c
		}
		resp.Notices = append(resp.Notices, &casesv1.DeconflictionNotice{
			Id: n.ID, CaseId: n.CaseID, CaseNumber: n.CaseNumber, ObservableId: n.ObservableID,
			ObservableValue: n.ObservableValue, ObservableType: n.ObservableType,
			OtherAgencyId: n.OtherAgencyID, OtherAgencyName: c.agency.GetName(), OtherAgencyOri: c.agency.GetOri(),
			ContactName: c.contact.GetName(), ContactTitle: c.contact.GetTitle(), ContactPhone: c.contact.GetPhone(),
			ContactEmail: c.contact.GetEmail(), ContactDutyPhone: c.contact.GetDutyPhone(),
			MatchTime: timestamppb.New(n.MatchTime),
		})
		listed = append(listed, n.CaseID)
	}
	audit.Annotate(ctx, func(e *audit.Event) { e.ResourceType, e.ListedCaseIDs = "deconfliction_notice", listed })
	return resp, nil
}

type contactOf struct {
	agency  *liaisonv1.Agency
	contact *liaisonv1.Contact
}

// DeconflictionTopic is the contact topic that names an agency's
// deconfliction point of contact.
const DeconflictionTopic = "deconfliction"

// deconflictionContact picks the other agency's point of contact for
// deconfliction: the first contact whose topics include "deconfliction";
// else the first with a duty line (a 24/7 number answers a deconfliction
// call); else the first contact. Contacts and agencies are public within
// Casebridge; a lookup that fails leaves the fields empty (the notice still
// names the agency id) and is logged.
func (s *ObservableServer) deconflictionContact(ctx context.Context, agencyID string) *contactOf {
	out := &contactOf{}
	if a, err := s.dir.GetAgency(rpc.ForwardIdentity(ctx), &liaisonv1.GetAgencyRequest{AgencyId: agencyID}); err == nil {
		out.agency = a.GetAgency()
	} else {
		s.logger.WarnContext(ctx, "deconfliction: agency lookup failed", "agency", agencyID, "err", err)
	}
	resp, err := s.liaison.ListContacts(rpc.ForwardIdentity(ctx), &liaisonv1.ListContactsRequest{AgencyId: agencyID, PageSize: 100})
	if err != nil {
		s.logger.WarnContext(ctx, "deconfliction: contact lookup failed", "agency", agencyID, "err", err)
		return out
	}
	var duty, first *liaisonv1.Contact
	for _, c := range resp.GetContacts() {
		for _, t := range c.GetTopics() {
			if strings.EqualFold(strings.TrimSpace(t), DeconflictionTopic) {
				out.contact = c
				return out
			}
		}
		if duty == nil && c.GetDutyPhone() != "" {
			duty = c
		}
		if first == nil {
			first = c
		}
	}
	out.contact = duty
	if duty == nil {
		out.contact = first
	}
	return out
}

func observableToProto(o *store.Observable) *casesv1.Observable {
	out := &casesv1.Observable{
		Id: o.ID, CaseId: o.CaseID, Type: o.Type, Value: o.Value, Canonical: o.Canonical, Chain: o.Chain,
		Platform: o.Platform, Description: o.Description, Tlp: o.TLP, ExhibitIds: o.ExhibitIDs,
		CreateTime: timestamppb.New(o.CreateTime), CreateUserEmail: o.CreateUserEmail, AgencyOri: o.AgencyORI,
	}
	if o.FirstSeen != nil {
		out.FirstSeenTime = timestamppb.New(*o.FirstSeen)
	}
	if o.LastSeen != nil {
		out.LastSeenTime = timestamppb.New(*o.LastSeen)
	}
	return out
}

func settingToProto(s *store.DeconflictionSetting) *casesv1.DeconflictionSetting {
	out := &casesv1.DeconflictionSetting{CaseId: s.CaseID, DoNotDeconflict: s.DoNotDeconflict, Reason: s.Reason,
		UpdateUserEmail: s.UpdateUserEmail}
	if s.UpdateTime != nil {
		out.UpdateTime = timestamppb.New(*s.UpdateTime)
	}
	return out
}

// Keyring is the deconfliction keyring, for the process that wires the
// service (the type lives with the digests it computes).
type Keyring = observable.Keyring

// LoadOrCreateKeyring reads the deconfliction key file (--deconfliction-key-file),
// creating it with one random key when missing. See observable.LoadOrCreateKeyring.
func LoadOrCreateKeyring(path string) (*Keyring, error) { return observable.LoadOrCreateKeyring(path) }
