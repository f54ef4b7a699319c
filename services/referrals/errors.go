package referrals

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/services/referrals/internal/store"
)

// errChanged: the referral changed between the checks made before the
// transaction (authorization, calls to other services) and the transaction.
var errChanged = errors.New("referral changed concurrently")

// toStatus is the one place the Referral service turns errors into gRPC
// statuses. A status passes through (including those of the Cases and
// Directory services called on the user's behalf); known sentinels map to
// their code with a message fit for the caller; anything else is logged in
// full and answered with a generic Internal.
func toStatus(ctx context.Context, logger *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, authz.ErrNotFound), errors.Is(err, postgres.ErrNotFound):
		return status.Error(codes.NotFound, "referral not found")
	case errors.Is(err, authz.ErrDenied):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, store.ErrEtagMismatch):
		return status.Error(codes.Aborted, "etag mismatch: the referral changed since it was read; read it again and retry")
	case errors.Is(err, errChanged), errors.Is(err, postgres.ErrConflict):
		return status.Error(codes.Aborted, "concurrent change; retry")
	case errors.Is(err, postgres.ErrUnavailable):
		logger.WarnContext(ctx, "database unavailable", "err", err)
		return status.Error(codes.Unavailable, "database unavailable; retry shortly")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	case errors.Is(err, postgres.ErrInvalid):
		logger.WarnContext(ctx, "database refused a value that passed validation", "err", err)
		return status.Error(codes.InvalidArgument, "invalid value")
	}
	logger.ErrorContext(ctx, "internal error", "err", err)
	return status.Error(codes.Internal, "internal error")
}
