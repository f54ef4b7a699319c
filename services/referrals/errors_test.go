package referrals

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/services/referrals/internal/store"
)

// The platform's sentinels are tested with rpc.ToStatus; here the service's
// own, and that platform errors still pass through.
func TestToStatus(t *testing.T) {
	t.Parallel()
	ctx, logger := context.Background(), slog.New(slog.DiscardHandler)
	require.Equal(t, codes.Aborted, status.Code(toStatus(ctx, logger, fmt.Errorf("x: %w", store.ErrEtagMismatch))))
	require.Equal(t, codes.NotFound, status.Code(toStatus(ctx, logger, authz.ErrNotFound)))
	require.Equal(t, codes.Aborted, status.Code(toStatus(ctx, logger, errChanged)))
}
