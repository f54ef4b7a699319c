package cases

import (
	"context"
	"log/slog"

	"google.golang.org/grpc/codes"

	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/cases/internal/store"
)

// toStatus is the one place the Cases service turns errors into gRPC
// statuses: its own sentinels here, the platform's through rpc.ToStatus.
func toStatus(ctx context.Context, logger *slog.Logger, err error) error {
	return rpc.ToStatus(ctx, logger, err, "case not found",
		rpc.Mapping{Err: store.ErrEtagMismatch, Code: codes.Aborted,
			Message: "etag mismatch: the case changed since it was read; read it again and retry"})
}
