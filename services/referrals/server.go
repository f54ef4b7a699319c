// Package referrals is the Referral service (casebridge.referrals.v1): how
// work moves between agencies. A department files an assistance request with
// the state unit; the unit refers a case to a federal partner. Each is a
// referral with a lifecycle (DRAFT → SUBMITTED → ACKNOWLEDGED → ACCEPTED |
// DECLINED | RETURNED; WITHDRAWN), an acknowledgement deadline, a history of
// who did what and why, and effects on the authorization relations written
// in the same transaction as the transition. Handlers are thin: they
// authorize through pkg/authz, call other services with the caller's
// identity, run one transaction through the store, and map errors in
// toStatus.
package referrals

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	evidencev1 "github.com/casebridge/casebridge/gen/casebridge/evidence/v1"
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	referralsv1 "github.com/casebridge/casebridge/gen/casebridge/referrals/v1"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/filter"
	"github.com/casebridge/casebridge/pkg/pagetoken"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/referrals/internal/store"
)

// DefaultAckDue is how long a recipient has to acknowledge a submitted
// referral before it is flagged overdue.
const DefaultAckDue = 72 * time.Hour

// Server implements referralsv1.ReferralServiceServer.
type Server struct {
	referralsv1.UnimplementedReferralServiceServer
	pool     *pgxpool.Pool
	authz    *authz.Authorizer
	cases    casesv1.CaseServiceClient
	evidence evidencev1.EvidenceServiceClient
	dir      liaisonv1.DirectoryServiceClient
	logger   *slog.Logger
	ackDue   time.Duration
	now      func() time.Time
}

// NewServer returns the Referral service on pool. cases, evidence and dir
// are the Cases, Evidence and Directory services, called with the caller's
// identity. ackDue is the acknowledgement deadline after submission (<= 0:
// DefaultAckDue).
func NewServer(pool *pgxpool.Pool, az *authz.Authorizer, cases casesv1.CaseServiceClient,
	evidence evidencev1.EvidenceServiceClient, dir liaisonv1.DirectoryServiceClient,
	logger *slog.Logger, ackDue time.Duration) *Server {
	if ackDue <= 0 {
		ackDue = DefaultAckDue
	}
	return &Server{pool: pool, authz: az, cases: cases, evidence: evidence, dir: dir, logger: logger, ackDue: ackDue, now: time.Now}
}

func (s *Server) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func referralResource(id string) authz.Resource { return authz.Resource{Type: "referral", ID: id} }
func caseResource(id string) authz.Resource     { return authz.Resource{Type: "case", ID: id} }

// annotate names the resource of the call's audit record.
func annotate(ctx context.Context, r *store.Referral) {
	audit.Annotate(ctx, func(e *audit.Event) {
		e.ResourceType, e.ResourceID = "referral", r.ID
		if r.CaseID != nil {
			e.CaseID = *r.CaseID
		}
	})
}

// agency fetches an agency from the directory service, as the caller; an
// unknown or inactive one is a field error on field.
func (s *Server) agency(ctx context.Context, id, field string) (*liaisonv1.Agency, error) {
	resp, err := s.dir.GetAgency(rpc.ForwardIdentity(ctx), &liaisonv1.GetAgencyRequest{AgencyId: id})
	if status.Code(err) == codes.NotFound {
		return nil, rpc.FieldError(field, "no such agency")
	}
	if err != nil {
		return nil, err
	}
	if !resp.GetAgency().GetActive() {
		return nil, rpc.FieldError(field, "the agency is inactive")
	}
	return resp.GetAgency(), nil
}

// transition builds a history entry.
func transition(p *auth.Principal, action, from, to, reason string, now time.Time) *referralsv1.Transition {
	return &referralsv1.Transition{
		Action: action, FromState: stateFromDB(from), ToState: stateFromDB(to),
		User: p.Email, AgencyId: p.AgencyID, AgencyOri: p.AgencyORI, Reason: reason, Time: timestamppb.New(now),
	}
}

// CreateReferral drafts an assistance request or a referral from the
// caller's agency.
func (s *Server) CreateReferral(ctx context.Context, req *referralsv1.CreateReferralRequest) (*referralsv1.CreateReferralResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetReferral()
	kind := kindToDB(in.GetKind())
	if kind == kindAssistance {
		err = s.authz.AuthorizeOwnAgency(p, "assistance_request", "create")
	} else {
		// Referring a case: the caller's agency must lead it (policy:
		// `lead, referral, create` checked on the case). Invisible → 404.
		err = s.authz.Authorize(ctx, s.pool, p, "referral", "create", caseResource(in.GetCaseId()))
	}
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	if in.GetToAgencyId() == p.AgencyID {
		return nil, rpc.FieldError("referral.toAgencyId", "cannot refer to your own agency")
	}
	to, err := s.agency(ctx, in.GetToAgencyId(), "referral.toAgencyId")
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	from, err := s.agency(ctx, p.AgencyID, "fromAgencyId")
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	details, err := detailsToDB(in)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	now := s.timestamp()
	r := &store.Referral{
		ID: uuid.NewString(), Kind: kind, State: "DRAFT",
		FromAgencyID: p.AgencyID, FromAgencyORI: p.AgencyORI, FromAgencyName: from.GetName(),
		ToAgencyID: to.GetId(), ToAgencyORI: to.GetOri(), ToAgencyName: to.GetName(),
		Summary: in.GetSummary(), Details: details,
		CreateTime: now, UpdateTime: now, CreateUserID: p.UserID, CreateUserEmail: p.Email, UpdateUserEmail: p.Email,
		Version: 1,
	}
	if kind == kindReferral {
		id := in.GetCaseId()
		r.CaseID = &id
	}
	if r.History, err = appendHistory(nil, transition(p, "create", "UNSPECIFIED", "DRAFT", "", now)); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	var out *store.Referral
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if req.GetRequestId() != "" {
			prev, err := store.Requests.Claim(ctx, tx, p.UserID, "CreateReferral", req.GetRequestId())
			if err != nil {
				return err
			}
			if prev != "" {
				if out, err = store.Get(ctx, tx, prev, now); err != nil {
					return err
				}
				annotate(ctx, out)
				return audit.Write(ctx, tx)
			}
			if err := store.Requests.Complete(ctx, tx, p.UserID, "CreateReferral", req.GetRequestId(), r.ID); err != nil {
				return err
			}
		}
		if r.Number, err = store.NextNumber(ctx, tx, p.AgencyID, p.AgencyORI, now.Year()); err != nil {
			return err
		}
		if err := store.Insert(ctx, tx, r); err != nil {
			return err
		}
		// The sending agency owns the referral: it follows, edits, submits
		// and withdraws it (policy `lead` lines on referral and
		// assistance_request).
		if _, err := authz.Grant(ctx, tx, p, authz.GrantRequest{Resource: referralResource(r.ID), AgencyID: p.AgencyID, Relation: authz.RelLead}); err != nil {
			return err
		}
		out = r
		annotate(ctx, r)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	ref, err := s.toProto(ctx, out)
	if err != nil {
		return nil, err
	}
	return &referralsv1.CreateReferralResponse{Referral: ref}, nil
}

// toProto converts r for a response; a stored document that no longer
// parses is an internal error.
func (s *Server) toProto(ctx context.Context, r *store.Referral) (*referralsv1.Referral, error) {
	ref, err := toProto(r)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return ref, nil
}

// GetReferral returns one referral the caller's agency sent or received.
func (s *Server) GetReferral(ctx context.Context, req *referralsv1.GetReferralRequest) (*referralsv1.GetReferralResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, s.pool, p, "referral", "read", referralResource(req.GetReferralId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	r, err := store.Get(ctx, s.pool, req.GetReferralId(), s.timestamp())
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	annotate(ctx, r)
	ref, err := s.toProto(ctx, r)
	if err != nil {
		return nil, err
	}
	return &referralsv1.GetReferralResponse{Referral: ref}, nil
}

// filterFields are the fields ListReferrals and GetReferralStats filter on.
var filterFields = []string{"state", "kind", "overdue", "agency", "case_id"}

// listQuery builds the store query of a list or stats request.
func (s *Server) listQuery(p *auth.Principal, view, text string) (store.ListQuery, error) {
	q := store.ListQuery{
		AgencyID:  p.AgencyID,
		Relations: s.authz.Permitting(p, "referral", "read"),
		View:      view,
		Now:       s.timestamp(),
	}
	terms, err := filter.Parse(text, filterFields...)
	if err != nil {
		return q, rpc.FieldError("filter", err.Error())
	}
	for _, t := range terms {
		switch t.Field {
		case "":
			return q, rpc.FieldError("filter", "text search is not supported here; use state, kind, overdue, agency or case_id")
		case "state":
			v := strings.TrimPrefix(strings.ToUpper(t.Value), "REFERRAL_STATE_")
			if _, ok := referralsv1.ReferralState_value["REFERRAL_STATE_"+v]; !ok || v == "UNSPECIFIED" {
				return q, rpc.FieldError("filter", fmt.Sprintf("unknown state %q (DRAFT, SUBMITTED, ACKNOWLEDGED, ACCEPTED, DECLINED, RETURNED, WITHDRAWN)", t.Value))
			}
			if t.Op == "=" {
				q.States = append(q.States, v)
			} else {
				q.NotStates = append(q.NotStates, v)
			}
		case "kind":
			v := strings.TrimPrefix(strings.ToUpper(t.Value), "REFERRAL_KIND_")
			if _, ok := referralsv1.ReferralKind_value["REFERRAL_KIND_"+v]; !ok || v == "UNSPECIFIED" {
				return q, rpc.FieldError("filter", fmt.Sprintf("unknown kind %q (ASSISTANCE_REQUEST, REFERRAL)", t.Value))
			}
			if t.Op == "=" {
				q.Kinds = append(q.Kinds, v)
			} else {
				q.NotKinds = append(q.NotKinds, v)
			}
		case "overdue":
			var b bool
			switch strings.ToLower(t.Value) {
			case "true":
				b = true
			case "false":
			default:
				return q, rpc.FieldError("filter", "overdue takes true or false")
			}
			if t.Op == "!=" {
				b = !b
			}
			if q.Overdue != nil && *q.Overdue != b {
				return q, rpc.FieldError("filter", "overdue contradicts itself")
			}
			q.Overdue = &b
		case "agency", "case_id":
			if t.Op != "=" {
				return q, rpc.FieldError("filter", t.Field+" supports = only")
			}
			if t.Field == "agency" {
				if q.Agency != "" {
					return q, rpc.FieldError("filter", "agency may appear once")
				}
				q.Agency = t.Value
				continue
			}
			if q.CaseID != "" || uuid.Validate(t.Value) != nil {
				return q, rpc.FieldError("filter", "case_id takes one UUID")
			}
			q.CaseID = t.Value
		}
	}
	return q, nil
}

// ListReferrals lists the referrals the caller may see, newest first.
func (s *Server) ListReferrals(ctx context.Context, req *referralsv1.ListReferralsRequest) (*referralsv1.ListReferralsResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	q, err := s.listQuery(p, req.GetView(), req.GetFilter())
	if err != nil {
		return nil, err
	}
	q.Limit = pagetoken.PageSize(req.GetPageSize()) + 1
	bind := pagetoken.Bind("ListReferrals", p.AgencyID, req.GetView(), req.GetFilter())
	keys, err := pagetoken.Decode(req.GetPageToken(), bind, 2)
	if err != nil {
		return nil, rpc.FieldError("pageToken", "invalid or issued for a different view or filter; start again without a page token")
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
	resp := &referralsv1.ListReferralsResponse{Referrals: []*referralsv1.Referral{}}
	if len(rows) == q.Limit {
		rows = rows[:q.Limit-1]
		last := rows[len(rows)-1]
		resp.NextPageToken = pagetoken.Encode(bind, last.CreateTime.UTC().Format(time.RFC3339Nano), last.ID)
	}
	for _, r := range rows {
		ref, err := toProto(r)
		if err != nil {
			return nil, toStatus(ctx, s.logger, err)
		}
		resp.Referrals = append(resp.Referrals, ref)
	}
	return resp, nil
}

// GetReferralStats counts the referrals the caller may see.
func (s *Server) GetReferralStats(ctx context.Context, req *referralsv1.GetReferralStatsRequest) (*referralsv1.GetReferralStatsResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	q, err := s.listQuery(p, req.GetView(), req.GetFilter())
	if err != nil {
		return nil, err
	}
	rows, err := store.Stats(ctx, s.pool, q)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	st := &referralsv1.ReferralStats{ByState: map[string]int32{}, ByKind: map[string]int32{}, ByAgency: []*referralsv1.AgencyCount{}}
	byAgency := map[string]*referralsv1.AgencyCount{}
	for _, r := range rows {
		n := int32(r.Count)
		st.Total += n
		st.ByState["REFERRAL_STATE_"+r.State] += n
		st.ByKind["REFERRAL_KIND_"+r.Kind] += n
		a, ok := byAgency[r.PartnerID]
		if !ok {
			a = &referralsv1.AgencyCount{AgencyId: r.PartnerID, AgencyOri: r.PartnerORI}
			byAgency[r.PartnerID] = a
			st.ByAgency = append(st.ByAgency, a)
		}
		if r.Received {
			a.Received += n
		} else {
			a.Sent += n
		}
		if r.Overdue {
			a.Overdue += n
			st.Overdue += n
		}
	}
	slices.SortFunc(st.ByAgency, func(a, b *referralsv1.AgencyCount) int {
		if c := cmp.Compare(b.Received+b.Sent, a.Received+a.Sent); c != 0 {
			return c
		}
		return cmp.Compare(a.AgencyOri, b.AgencyOri)
	})
	return &referralsv1.GetReferralStatsResponse{Stats: st}, nil
}
