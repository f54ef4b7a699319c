// Package evidence is the Evidence service (casebridge.evidence.v1): exhibit
// metadata registered on a case, each item's append-only, hash-chained chain
// of custody, and integrity checks. Handlers are thin: they authorize through
// pkg/authz (on the item's case, or on the item for its holding agency), run
// one transaction through internal/store, and map errors in toStatus.
package evidence

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	auditv1 "github.com/casebridge/casebridge/gen/casebridge/audit/v1"
	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	evidencev1 "github.com/casebridge/casebridge/gen/casebridge/evidence/v1"
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/pagetoken"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/evidence/internal/store"
)

// Server implements evidencev1.EvidenceServiceServer.
type Server struct {
	evidencev1.UnimplementedEvidenceServiceServer
	pool  *pgxpool.Pool
	authz *authz.Authorizer
	cases casesv1.CaseServiceClient
	// legal checks legalAuthority.legalProcessId (legal.go); optional.
	legal  casesv1.LegalProcessServiceClient
	dir    liaisonv1.DirectoryServiceClient
	logger *slog.Logger
	now    func() time.Time

	// Case export (WithExport): the disclosure report's source and the
	// package signing key.
	auditor auditv1.AuditServiceClient
	signer  ed25519.PrivateKey
}

// NewServer returns the Evidence service on pool. cases (the case number, the
// timeline) and dir (agencies) are called with the caller's identity.
func NewServer(pool *pgxpool.Pool, az *authz.Authorizer, cases casesv1.CaseServiceClient, dir liaisonv1.DirectoryServiceClient, logger *slog.Logger) *Server {
	return &Server{pool: pool, authz: az, cases: cases, dir: dir, logger: logger, now: time.Now}
}

func (s *Server) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func caseResource(id string) authz.Resource { return authz.Resource{Type: "case", ID: id} }
func itemResource(id string) authz.Resource { return authz.Resource{Type: "evidence", ID: id} }

// annotate names the resource of the call's audit record.
func annotate(ctx context.Context, resourceType, resourceID, caseID string) {
	audit.Annotate(ctx, func(e *audit.Event) {
		e.ResourceType, e.ResourceID, e.CaseID = resourceType, resourceID, caseID
	})
}

var errItemNotFound = status.Error(codes.NotFound, "evidence not found")

// item loads an item the caller may read obj ("evidence" or "custody") of,
// through its case. An item the caller may not read answers NOT_FOUND, the
// same as one that does not exist: a requester who sees the case must not
// learn which exhibits it holds.
func (s *Server) item(ctx context.Context, p *auth.Principal, id, obj string) (*store.Item, error) {
	it, err := store.GetItem(ctx, s.pool, id)
	if errors.Is(err, postgres.ErrNotFound) {
		return nil, errItemNotFound
	}
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	err = s.authz.Authorize(ctx, s.pool, p, obj, "read", caseResource(it.CaseID))
	if errors.Is(err, authz.ErrNotFound) || errors.Is(err, authz.ErrDenied) {
		return nil, errItemNotFound
	}
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	annotate(ctx, "evidence", it.ID, it.CaseID)
	return it, nil
}

// holderOnly decides act on obj of the locked item it: only the holding
// agency's custodians may (relation holder on the item).
func (s *Server) holderOnly(ctx context.Context, tx pgx.Tx, p *auth.Principal, it *store.Item, obj, act string) error {
	err := s.authz.Authorize(ctx, tx, p, obj, act, itemResource(it.ID))
	if errors.Is(err, authz.ErrNotFound) || errors.Is(err, authz.ErrDenied) {
		return status.Errorf(codes.PermissionDenied,
			"exhibit %s is held by agency %s: only that agency's evidence custodians may %s its %s",
			it.ExhibitNumber, it.HoldingAgencyORI, act, obj)
	}
	return err
}

func lowerHex(s string) string { return strings.ToLower(s) }

// registerItem numbers it on its case and writes it with the INTAKE event
// that opens its chain of custody and its holder relation, inside tx.
func registerItem(ctx context.Context, tx pgx.Tx, p *auth.Principal, it *store.Item, now time.Time) error {
	seq, err := store.NextExhibit(ctx, tx, it.CaseID)
	if err != nil {
		return err
	}
	it.ExhibitSeq = seq
	it.ExhibitNumber = fmt.Sprintf("%s-E%03d", it.CaseNumber, seq)
	// The chain opens with the intake: from where it was acquired to the
	// registering user, stored at the storage location.
	e := &store.Event{
		EvidenceID: it.ID, Seq: 1, ID: uuid.NewString(), Action: actionIntake, EventTime: now,
		FromCustodian: it.SourceLocation, ToCustodian: p.Email, Location: it.StorageLocation,
		Purpose: "Registered as exhibit " + it.ExhibitNumber, HoldingAgencyID: p.AgencyID,
		ToStatus: statusInCustody, ActorUserID: p.UserID, ActorEmail: p.Email, ActorAgencyID: p.AgencyID,
		ActorAgencyORI: p.AgencyORI, CreateTime: now, PrevHash: genesis,
		// The intake seals the registration record: its hash covers it.
		Registration: sealRegistration(it),
	}
	e.Hash = chainHash(e.PrevHash, e)
	it.CustodyCount, it.CustodyHead = 1, e.Hash
	if err := store.InsertItem(ctx, tx, it); err != nil {
		return err
	}
	if err := store.InsertEvent(ctx, tx, e); err != nil {
		return err
	}
	_, err = authz.Grant(ctx, tx, p, authz.GrantRequest{Resource: itemResource(it.ID), AgencyID: p.AgencyID, Relation: authz.RelHolder})
	return err
}

// CreateEvidence registers an exhibit on a case.
func (s *Server) CreateEvidence(ctx context.Context, req *evidencev1.CreateEvidenceRequest) (*evidencev1.CreateEvidenceResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	caseID := req.GetCaseId()
	if err := s.authz.Authorize(ctx, s.pool, p, "evidence", "create", caseResource(caseID)); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	// The case number comes from the Cases service, asked as the caller.
	cr, err := s.cases.GetCase(rpc.ForwardIdentity(ctx), &casesv1.GetCaseRequest{CaseId: caseID})
	if err != nil {
		return nil, err
	}
	if cr.GetCase().GetStatus() == casesv1.Status_STATUS_CLOSED {
		return nil, status.Errorf(codes.FailedPrecondition, "case %s is CLOSED: reopen it to register evidence", cr.GetCase().GetCaseNumber())
	}
	in := req.GetEvidence()
	now := s.timestamp()
	it := &store.Item{
		ID:               uuid.NewString(),
		CaseID:           caseID,
		CaseNumber:       cr.GetCase().GetCaseNumber(),
		Description:      strings.TrimSpace(in.GetDescription()),
		Kind:             kindToDB(in.GetKind()),
		SHA256:           lowerHex(in.GetSha256()),
		MD5:              lowerHex(in.GetMd5()),
		SHA1:             lowerHex(in.GetSha1()),
		SizeBytes:        in.GetSizeBytes(),
		AuthorityType:    "UNSPECIFIED",
		StorageLocation:  in.GetStorageLocation(),
		CurrentCustodian: p.Email,
		HoldingAgencyID:  p.AgencyID,
		HoldingAgencyORI: p.AgencyORI,
		Status:           statusInCustody,
		CreateTime:       now,
		UpdateTime:       now,
		CreateUserID:     p.UserID,
		CreateUserEmail:  p.Email,
		Version:          1,
	}
	if in.GetParentId() != "" {
		parent := strings.ToLower(in.GetParentId())
		it.ParentID = &parent
	}
	if a := in.GetAcquisition(); a != nil {
		it.AcquireTime, it.AcquiredBy, it.AcquireMethod = timep(a.GetAcquireTime()), a.GetAcquiredBy(), a.GetMethod()
		it.AcquireTool, it.AcquireToolVersion, it.SourceLocation = a.GetTool(), a.GetToolVersion(), a.GetSourceLocation()
	}
	if it.AcquiredBy == "" {
		it.AcquiredBy = p.Email
	}
	if it.AcquireTime != nil && it.AcquireTime.After(now) {
		return nil, rpc.FieldError("evidence.acquisition.acquireTime", "must not be after the registration (now)")
	}
	if la := in.GetLegalAuthority(); la != nil {
		it.AuthorityType, it.AuthorityIdentifier = authorityToDB(la.GetType()), la.GetIdentifier()
		it.AuthorityIssuer, it.AuthorityExpireTime = la.GetIssuer(), timep(la.GetExpireTime())
		if id := la.GetLegalProcessId(); id != "" {
			if err := s.checkLegalProcess(ctx, caseID, id); err != nil {
				return nil, err
			}
			it.AuthorityLegalProcessID = &id
		}
	}

	var out *store.Item
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if req.GetRequestId() != "" {
			prev, err := store.Requests.Claim(ctx, tx, p.UserID, "CreateEvidence:"+caseID, req.GetRequestId())
			if err != nil {
				return err
			}
			if prev != "" {
				if out, err = store.GetItem(ctx, tx, prev); err != nil {
					return err
				}
				annotate(ctx, "evidence", out.ID, out.CaseID)
				return audit.Write(ctx, tx)
			}
		}
		if it.ParentID != nil {
			parentCase, err := store.ItemCase(ctx, tx, *it.ParentID)
			if errors.Is(err, postgres.ErrNotFound) || (err == nil && parentCase != caseID) {
				return rpc.FieldError("evidence.parentId", "no evidence item with this id on this case")
			}
			if err != nil {
				return err
			}
		}
		if err := registerItem(ctx, tx, p, it, now); err != nil {
			return err
		}
		if req.GetRequestId() != "" {
			if err := store.Requests.Complete(ctx, tx, p.UserID, "CreateEvidence:"+caseID, req.GetRequestId(), it.ID); err != nil {
				return err
			}
		}
		out = it
		annotate(ctx, "evidence", it.ID, caseID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &evidencev1.CreateEvidenceResponse{Evidence: itemToProto(out)}, nil
}

// GetEvidence returns one exhibit the caller may read.
func (s *Server) GetEvidence(ctx context.Context, req *evidencev1.GetEvidenceRequest) (*evidencev1.GetEvidenceResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	it, err := s.item(ctx, p, req.GetEvidenceId(), "evidence")
	if err != nil {
		return nil, err
	}
	return &evidencev1.GetEvidenceResponse{Evidence: itemToProto(it)}, nil
}

// ListEvidence lists a case's exhibits in exhibit order.
func (s *Server) ListEvidence(ctx context.Context, req *evidencev1.ListEvidenceRequest) (*evidencev1.ListEvidenceResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	caseID := req.GetCaseId()
	if err := s.authz.Authorize(ctx, s.pool, p, "evidence", "read", caseResource(caseID)); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	annotate(ctx, "case", caseID, caseID)
	bind := pagetoken.Bind("ListEvidence", caseID)
	keys, err := pagetoken.Decode(req.GetPageToken(), bind, 1)
	if err != nil {
		return nil, rpc.FieldError("pageToken", "invalid or issued for another case")
	}
	after := 0
	if keys != nil {
		if after, err = strconv.Atoi(keys[0]); err != nil {
			return nil, rpc.FieldError("pageToken", "invalid page token")
		}
	}
	limit := pagetoken.PageSize(req.GetPageSize()) + 1
	items, err := store.ListItems(ctx, s.pool, caseID, after, limit)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &evidencev1.ListEvidenceResponse{}
	if len(items) == limit {
		items = items[:limit-1]
		resp.NextPageToken = pagetoken.Encode(bind, strconv.Itoa(items[len(items)-1].ExhibitSeq))
	}
	for _, it := range items {
		resp.Evidence = append(resp.Evidence, itemToProto(it))
	}
	return resp, nil
}
