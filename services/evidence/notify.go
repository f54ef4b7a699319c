package evidence

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/notify"
	"github.com/casebridge/casebridge/services/evidence/internal/store"
)

// emitMismatch queues, in tx, the integrity-mismatch notification to the
// agency holding the exhibit (its custodians and supervisors): the
// exhibit number and a link, never the hashes or the description.
func emitMismatch(ctx context.Context, tx pgx.Tx, it *store.Item) error {
	_, err := notify.Emit(ctx, tx, notify.Event{
		Type: notify.IntegrityMismatch, Number: it.ExhibitNumber, Link: "/evidence/" + it.ID, Resource: "evidence:" + it.ID,
		Audiences: []notify.Audience{{AgencyID: it.HoldingAgencyID, Roles: []string{"evidence_custodian", "supervisor"}}},
	})
	return err
}
