package cases

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/notify"
	"github.com/casebridge/casebridge/services/cases/internal/store"
)

// shareRoles are who, in an agency a case is shared with (or unshared
// from), is told: those who assign or take up the work.
var shareRoles = []string{"supervisor", "liaison", "analyst"}

// emitShare queues, in tx, the case.shared or case.unshared notification
// to agencyID only: the case number and, while it can see it, a link.
func emitShare(ctx context.Context, tx pgx.Tx, caseID, agencyID string, typ notify.Type) error {
	c, err := store.GetCase(ctx, tx, caseID)
	if err != nil {
		return err
	}
	ev := notify.Event{Type: typ, Number: c.CaseNumber, Resource: "case:" + caseID,
		Audiences: []notify.Audience{{AgencyID: agencyID, Roles: shareRoles}}}
	if typ == notify.CaseShared {
		ev.Link = "/cases/" + caseID
	}
	_, err = notify.Emit(ctx, tx, ev)
	return err
}
