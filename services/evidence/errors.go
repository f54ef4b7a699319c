package evidence

import (
	"context"
	"log/slog"

	"google.golang.org/grpc/codes"

	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
)

// toStatus is the one place the Evidence service turns errors into gRPC
// statuses. A unique violation here can only be two appends racing for the
// same chain position or exhibit number, so it is a retryable conflict, not
// "already exists".
func toStatus(ctx context.Context, logger *slog.Logger, err error) error {
	return rpc.ToStatus(ctx, logger, err, "not found",
		rpc.Mapping{Err: postgres.ErrAlreadyExists, Code: codes.Aborted, Message: "concurrent change; retry"})
}
