package cases

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/notify"
	"github.com/casebridge/casebridge/services/cases/internal/store"
)

// shareRoles are who, in an agency a case is shared with (or unshared
// from), is told: those who assign or take up the work.
var shareRoles = []string{"supervisor", "liaison", "analyst"}

// emitShare queues, in tx, the case.shared or case.unshared notification
// to agencyID only: the case number and, while it can see it, a link. A
// share that gives the agency nothing once the agreements cap it (a
// task-force member with no agreement with the lead, the share carrying no
// override) tells it nothing: the notice would disclose the case's number.
func emitShare(ctx context.Context, tx pgx.Tx, caseID, agencyID string, typ notify.Type) error {
	if typ == notify.CaseShared {
		held, err := authz.Held(ctx, tx, agencyID, caseResource(caseID))
		if err != nil {
			return err
		}
		if len(held) == 0 {
			return nil
		}
	}
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
