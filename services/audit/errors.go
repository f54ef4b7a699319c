package audit

import (
	"context"
	"log/slog"

	"github.com/casebridge/casebridge/pkg/rpc"
)

// toStatus is the one place the Audit service turns errors into gRPC
// statuses (the platform's sentinels through rpc.ToStatus; it has none of
// its own).
func toStatus(ctx context.Context, logger *slog.Logger, err error) error {
	return rpc.ToStatus(ctx, logger, err, "case not found")
}
