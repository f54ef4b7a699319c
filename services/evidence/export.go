package evidence

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	auditv1 "github.com/casebridge/casebridge/gen/casebridge/audit/v1"
	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	evidencev1 "github.com/casebridge/casebridge/gen/casebridge/evidence/v1"
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/evidence/internal/store"
)

// WithExport enables ExportCase: the disclosure report comes from the Audit
// service (asked as the caller), and packages are signed with key. A nil key
// makes an ephemeral one: packages then verify only against the public key
// the server logs at start, until it restarts.
func (s *Server) WithExport(auditClient auditv1.AuditServiceClient, key ed25519.PrivateKey) *Server {
	if key == nil {
		_, key, _ = ed25519.GenerateKey(rand.Reader)
		s.logger.Warn("no case-package signing key configured (--package-signing-key): using an ephemeral key",
			"public_key", base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)))
	}
	s.auditor, s.signer = auditClient, key
	return s
}

// ExportCase builds the case package (see casepackage.go) for the case's
// lead supervisors. Everything it reads about the case comes through the
// Cases, Directory and Audit services as the caller; exhibits and chains
// from one snapshot of the evidence schema.
func (s *Server) ExportCase(ctx context.Context, req *evidencev1.ExportCaseRequest) (*evidencev1.ExportCaseResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	caseID := req.GetCaseId()
	annotate(ctx, "case", caseID, caseID)
	if err := s.authz.Authorize(ctx, s.pool, p, "case", "export", caseResource(caseID)); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	if s.auditor == nil || s.signer == nil {
		return nil, status.Error(codes.Unimplemented, "case export is not configured on this server")
	}
	fwd := rpc.ForwardIdentity(ctx)
	cr, err := s.cases.GetCase(fwd, &casesv1.GetCaseRequest{CaseId: caseID})
	if err != nil {
		return nil, err
	}
	c := cr.GetCase()
	disclosure, err := s.auditor.ExportCaseAuditEvents(fwd, &auditv1.ExportCaseAuditEventsRequest{CaseId: caseID})
	if err != nil {
		return nil, err
	}

	var items []*store.Item
	events := map[string][]*store.Event{}
	err = store.ReadSnapshot(ctx, s.pool, func(tx pgx.Tx) error {
		after := 0
		for {
			page, err := store.ListItems(ctx, tx, caseID, after, 500)
			if err != nil {
				return err
			}
			items = append(items, page...)
			if len(page) < 500 {
				break
			}
			after = page[len(page)-1].ExhibitSeq
		}
		for _, it := range items {
			if err := store.EachEvent(ctx, tx, it.ID, func(e *store.Event) error {
				events[it.ID] = append(events[it.ID], e)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	// The package vouches for chains that verify, like a checkpoint.
	custody := &packageCustody{CaseID: caseID, CaseNumber: c.GetCaseNumber(), Items: []packageItem{}}
	for _, it := range items {
		v := newChainVerifier(it.CustodyCount)
		pi := packageItem{Registration: registrationOf(it), State: stateOf(it), Events: []packageEvent{}}
		for _, e := range events[it.ID] {
			v.add(e)
			pi.Events = append(pi.Events, packageEventOf(e))
		}
		v.finish(it.CustodyHead)
		if r := v.checkItem(pi.Registration, pi.State); !r.Valid() {
			s.logger.ErrorContext(ctx, "case export refused: custody chain broken", "evidence_id", it.ID, "problem", r.Problem)
			return nil, status.Errorf(codes.FailedPrecondition,
				"exhibit %s does not verify (%s): a package cannot vouch for it", it.ExhibitNumber, r.Problem)
		}
		custody.Items = append(custody.Items, pi)
	}

	agencies := s.agencyNames(fwd, c, items, events)
	caseDoc, err := caseJSONLD(c, items, events, agencies)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	custodyDoc, err := json.MarshalIndent(custody, "", "  ")
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	now := s.timestamp()
	cp := &Checkpoint{Version: 1, Kind: checkpointKindPackage, Time: now, CaseID: caseID, CaseNumber: c.GetCaseNumber(),
		Recipient: req.GetRecipient(), Purpose: req.GetPurpose()}
	pub := base64.StdEncoding.EncodeToString(s.signer.Public().(ed25519.PublicKey))
	zipData, err := buildPackage(cp, custody, map[string][]byte{
		packageCaseFile:       caseDoc,
		packageCustodyFile:    custodyDoc,
		packageDisclosureFile: disclosure.GetBody().GetData(),
		packageVerifyFile:     []byte(verifyText(c.GetCaseNumber(), pub)),
	}, s.signer)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	// A dissemination: the record names to whom and why, and pins the
	// package's SHA-256.
	audit.Annotate(ctx, func(ev *audit.Event) {
		ev.Purpose = fmt.Sprintf("case package for %s: %s", req.GetRecipient(), req.GetPurpose())
		ev.RecipientAgencyID = req.GetRecipientAgencyId()
		ev.Changes = append(ev.Changes, audit.Change{Field: "package", Hash: sha256Hex(zipData)})
	})
	return &evidencev1.ExportCaseResponse{Body: &httpbody.HttpBody{ContentType: "application/zip", Data: zipData}}, nil
}

// agencyNames resolves every agency the package mentions through the
// directory, as the caller; one it cannot resolve is named by its ORI.
func (s *Server) agencyNames(ctx context.Context, c *casesv1.Case, items []*store.Item, events map[string][]*store.Event) map[string]agencyInfo {
	out := map[string]agencyInfo{c.GetLeadAgencyId(): {Name: c.GetLeadAgencyOri(), ORI: c.GetLeadAgencyOri()}}
	oris := map[string]string{}
	for _, it := range items {
		out[it.HoldingAgencyID] = agencyInfo{}
		oris[it.HoldingAgencyID] = it.HoldingAgencyORI
		for _, e := range events[it.ID] {
			for _, id := range []string{e.HoldingAgencyID, e.FromAgencyID, e.ActorAgencyID, e.ToAgencyID} {
				if id != "" {
					out[id] = agencyInfo{}
				}
			}
			oris[e.ActorAgencyID] = e.ActorAgencyORI
		}
	}
	oris[c.GetLeadAgencyId()] = c.GetLeadAgencyOri()
	for id := range out {
		resp, err := s.dir.GetAgency(ctx, &liaisonv1.GetAgencyRequest{AgencyId: id})
		if err != nil {
			name := oris[id]
			if name == "" {
				name = "agency " + id
			}
			out[id] = agencyInfo{Name: name, ORI: oris[id]}
			continue
		}
		out[id] = agencyInfo{Name: resp.GetAgency().GetName(), ORI: resp.GetAgency().GetOri()}
	}
	return out
}
