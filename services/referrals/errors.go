package referrals

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"

	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/referrals/internal/store"
)

// errChanged: the referral changed between the checks made before the
// transaction (authorization, calls to other services) and the transaction.
var errChanged = errors.New("referral changed concurrently")

// toStatus is the one place the Referral service turns errors into gRPC
// statuses: its own sentinels here, the platform's through rpc.ToStatus.
// Statuses pass through, including those of the Cases and Directory services
// called on the user's behalf.
func toStatus(ctx context.Context, logger *slog.Logger, err error) error {
	return rpc.ToStatus(ctx, logger, err, "referral not found",
		rpc.Mapping{Err: store.ErrEtagMismatch, Code: codes.Aborted,
			Message: "etag mismatch: the referral changed since it was read; read it again and retry"},
		rpc.Mapping{Err: errChanged, Code: codes.Aborted, Message: "concurrent change; retry"})
}
