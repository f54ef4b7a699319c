package cases

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/notify"
	"github.com/casebridge/casebridge/pkg/postgres"
)

// EventKind names something a person should hear about: the Cases service
// emits these through its Notifier inside the transaction of the change
// that causes them; the default (notifyEvents) hands them to the
// notification service. Clock-driven kinds (overdue, renewal due,
// lapsed) are not emitted by a change: they are what a periodic job finds
// with the service's computed clocks (Task.overdue, LegalProcess
// due_for_renewal / status EXPIRED), listed here so the merge wires all of
// them in one place.
type EventKind string

const (
	// EventTaskAssigned: a task got assignees or an assigned agency
	// (emitted on create, update and playbook apply).
	EventTaskAssigned EventKind = "task.assigned"
	// EventTaskOverdue: a task's due time passed while it was open
	// (clock-driven).
	EventTaskOverdue EventKind = "task.overdue"
	// EventLegalProcessRenewalDue: a served preservation request (or other
	// item with an expiry) entered its 14-day renewal window
	// (clock-driven).
	EventLegalProcessRenewalDue EventKind = "legal_process.renewal_due"
	// EventLegalProcessLapsed: a served item passed its expiry without a
	// return (clock-driven).
	EventLegalProcessLapsed EventKind = "legal_process.lapsed"
)

// Event is one notification-worthy fact.
type Event struct {
	Kind     EventKind
	CaseID   string
	TaskID   string // task events
	ItemID   string // legal process events
	UserIDs  []string
	AgencyID string
	Due      *time.Time
}

// Notifier receives events in the transaction of the change (so River can
// insert its job atomically with it).
type Notifier interface {
	Emit(ctx context.Context, tx pgx.Tx, e Event) error
}

// WithNotifier sets where events go (issue 18 wires River here).
func (s *Server) WithNotifier(n Notifier) *Server {
	s.notifier = n
	return s
}

func (s *Server) emit(ctx context.Context, tx pgx.Tx, e Event) error {
	if s.notifier == nil {
		return notifyEvents{}.Emit(ctx, tx, e)
	}
	return s.notifier.Emit(ctx, tx, e)
}

// notifyEvents is the default Notifier: change-driven events go to the
// notification service (pkg/notify, a River job in tx). A task assignment
// tells the assigned users and, when an agency is assigned, its
// supervisors and liaisons — the assignment itself was checked to name
// only users and agencies working the case. Only the case number and a
// link travel. Clock-driven kinds are not emitted by a change.
type notifyEvents struct{}

func (notifyEvents) Emit(ctx context.Context, tx pgx.Tx, e Event) error {
	if e.Kind != EventTaskAssigned {
		return nil
	}
	var number string
	if err := tx.QueryRow(ctx, `SELECT case_number FROM cases.cases WHERE id = $1`, e.CaseID).Scan(&number); err != nil {
		return postgres.Translate(err)
	}
	byAgency := map[string]*notify.Audience{}
	var order []string
	aud := func(agency string) *notify.Audience {
		if a, ok := byAgency[agency]; ok {
			return a
		}
		a := &notify.Audience{AgencyID: agency}
		byAgency[agency] = a
		order = append(order, agency)
		return a
	}
	if len(e.UserIDs) > 0 {
		// Read-only, like authentication: the directory's users.
		rows, err := tx.Query(ctx, `SELECT agency_id::text, email FROM liaison.users WHERE id = ANY($1::uuid[]) AND active`, e.UserIDs)
		if err != nil {
			return postgres.Translate(err)
		}
		for rows.Next() {
			var agency, email string
			if err := rows.Scan(&agency, &email); err != nil {
				rows.Close()
				return postgres.Translate(err)
			}
			a := aud(agency)
			a.Emails = append(a.Emails, email)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return postgres.Translate(err)
		}
	}
	if e.AgencyID != "" {
		aud(e.AgencyID).Roles = []string{"supervisor", "liaison"}
	}
	ev := notify.Event{Type: notify.TaskAssigned, Number: number, Link: "/cases/" + e.CaseID, Resource: "task:" + e.TaskID}
	for _, id := range order {
		ev.Audiences = append(ev.Audiences, *byAgency[id])
	}
	if len(ev.Audiences) == 0 {
		return nil
	}
	_, err := notify.Emit(ctx, tx, ev)
	return err
}

var _ Notifier = notifyEvents{}
