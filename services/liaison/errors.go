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
			Message: "etag mismatch: the record changed since it was read; read it again and retry"})
}
