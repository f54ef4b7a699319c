package reports

import (
	"context"
	"log/slog"

	"google.golang.org/grpc/codes"

	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/reports/internal/store"
)

// toStatus is the one place the Incident Report service turns errors into
// gRPC statuses: its own sentinels here, the platform's through
// rpc.ToStatus. Statuses pass through, including those of the Cases and
// Directory services called on the user's behalf.
func toStatus(ctx context.Context, logger *slog.Logger, err error) error {
	return rpc.ToStatus(ctx, logger, err, "incident report not found",
		rpc.Mapping{Err: store.ErrEtagMismatch, Code: codes.Aborted,
			Message: "etag mismatch: the report changed since it was read; read it again and retry"})
}
