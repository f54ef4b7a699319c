package rpc

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/postgres"
)

// Mapping maps one of a service's own sentinel errors to a status.
type Mapping struct {
	Err     error
	Code    codes.Code
	Message string
}

// ToStatus is the body of every service's toStatus: a status passes through;
// the service's own mappings come first; then the platform's sentinels —
// authorization (invisible → NOT_FOUND with notFound as message, forbidden →
// PERMISSION_DENIED), database (pkg/postgres) and context errors; anything
// else is logged in full and answered with a generic INTERNAL, so no
// internal detail reaches a caller.
func ToStatus(ctx context.Context, logger *slog.Logger, err error, notFound string, own ...Mapping) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, m := range own {
		if errors.Is(err, m.Err) {
			return status.Error(m.Code, m.Message)
		}
	}
	var rule *authz.RuleError
	if errors.As(err, &rule) {
		// The dissemination rules refused a grant: a missing override is a
		// field the supervisor must fill (overrideReason on a share and on
		// a referral's submission), an agreement exceeded a precondition no
		// field can lift.
		if errors.Is(rule, authz.ErrOverrideRequired) {
			return FieldError("overrideReason", rule.Msg)
		}
		return status.Error(codes.FailedPrecondition, rule.Msg)
	}
	switch {
	case errors.Is(err, authz.ErrNotFound), errors.Is(err, postgres.ErrNotFound):
		return status.Error(codes.NotFound, notFound)
	case errors.Is(err, authz.ErrDenied):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, postgres.ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, "already exists")
	case errors.Is(err, postgres.ErrConflict):
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
