package liaison

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"

	"github.com/casebridge/casebridge/pkg/rpc"
)

// errStale: the caller's etag is not the record's current one.
var errStale = errors.New("etag mismatch")

// toStatus is the one place the Liaison service turns errors into statuses:
// its own sentinels here, the platform's through rpc.ToStatus.
func toStatus(ctx context.Context, logger *slog.Logger, err error) error {
	return rpc.ToStatus(ctx, logger, err, "not found",
		rpc.Mapping{Err: errStale, Code: codes.Aborted,
			Message: "etag mismatch: the record changed since it was read; read it again and retry"},
		rpc.Mapping{Err: errOwnAccount, Code: codes.PermissionDenied,
			Message: "nobody changes their own roles or active flag: ask another admin of your agency"},
		rpc.Mapping{Err: errNeedsApproval, Code: codes.FailedPrecondition,
			Message: "admin, auditor and supervisor are granted by a second admin: propose the change with POST /v1/agencies/{agency_id}/users/{user_id}/roleGrants"},
		rpc.Mapping{Err: errGrantPending, Code: codes.AlreadyExists,
			Message: "this user already has a role change waiting for approval: approve or reject it first"},
		rpc.Mapping{Err: errNotPending, Code: codes.FailedPrecondition, Message: "this role grant is no longer pending"},
		rpc.Mapping{Err: errSameAdmin, Code: codes.PermissionDenied,
			Message: "a role grant must be approved by a second admin, not the one who proposed it"},
		rpc.Mapping{Err: errRolesMoved, Code: codes.Aborted,
			Message: "the user's roles changed since this grant was proposed: reject it and propose again"})
}
