package audit

import (
	"context"

	"github.com/casebridge/casebridge/pkg/postgres"
)

// Append writes records that belong to no RPC (load-tool baselines, system
// jobs) to their chains inside q's transaction, exactly as the interceptor
// does, so the chains stay verifiable.
func Append(ctx context.Context, q postgres.Querier, evs ...*Event) error {
	return appendEvents(ctx, q, evs)
}
