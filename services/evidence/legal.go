package evidence

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	"github.com/casebridge/casebridge/pkg/rpc"
)

// WithLegalProcess sets the Cases service's legal process client, through
// which an exhibit's legalAuthority.legalProcessId is checked (issue 17).
func (s *Server) WithLegalProcess(c casesv1.LegalProcessServiceClient) *Server {
	s.legal = c
	return s
}

// checkLegalProcess refuses a legal process id that the caller cannot read
// or that belongs to another case, asking the Cases service with the
// caller's identity.
func (s *Server) checkLegalProcess(ctx context.Context, caseID, id string) error {
	if s.legal == nil {
		return status.Error(codes.Unavailable, "legal process references are not available")
	}
	lp, err := s.legal.GetLegalProcess(rpc.ForwardIdentity(ctx), &casesv1.GetLegalProcessRequest{LegalProcessId: id})
	if status.Code(err) == codes.NotFound || status.Code(err) == codes.PermissionDenied || (err == nil && lp.GetLegalProcess().GetCaseId() != caseID) {
		return rpc.FieldError("evidence.legalAuthority.legalProcessId", "not a legal process item of this case that you may read")
	}
	return err
}
