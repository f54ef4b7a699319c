package cases

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	evidencev1 "github.com/casebridge/casebridge/gen/casebridge/evidence/v1"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/rpc"
)

// WithEvidence sets the Evidence service client ExportCase forwards to.
func (s *Server) WithEvidence(c evidencev1.EvidenceServiceClient) *Server {
	s.evidence = c
	return s
}

// ExportCase serves the case package at the case's own route
// (GET /v1/cases/{case_id}:export). The package is built and signed by the
// Evidence service, which holds the exhibits and chains; this forwards the
// caller's identity, so the Evidence service authorizes and audits the
// build too. The route lives here because a case-level custom method must
// be registered with the case's other routes: grpc-gateway matches
// patterns in registration order, and GetCase's /v1/cases/{case_id} would
// otherwise take "ID:export" for a case id.
func (s *Server) ExportCase(ctx context.Context, req *casesv1.ExportCaseRequest) (*casesv1.ExportCaseResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	annotate(ctx, "case", req.GetCaseId(), req.GetCaseId())
	if err := s.authz.Authorize(ctx, s.pool, p, "case", "export", caseResource(req.GetCaseId())); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	if s.evidence == nil {
		return nil, status.Error(codes.Unimplemented, "case export is not configured on this server")
	}
	resp, err := s.evidence.ExportCase(rpc.ForwardIdentity(ctx), &evidencev1.ExportCaseRequest{
		CaseId: req.GetCaseId(), Recipient: req.GetRecipient(), Purpose: req.GetPurpose(),
		RecipientAgencyId: req.GetRecipientAgencyId(),
	})
	if err != nil {
		return nil, err
	}
	audit.Annotate(ctx, func(ev *audit.Event) {
		ev.Purpose = "case package for " + req.GetRecipient() + ": " + req.GetPurpose()
		ev.RecipientAgencyID = req.GetRecipientAgencyId()
	})
	return &casesv1.ExportCaseResponse{Body: resp.GetBody()}, nil
}
