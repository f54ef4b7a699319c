package cases

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// EventKind names something a person should hear about. TO BE WIRED TO
// NOTIFICATIONS (issue 18, River): the Cases service emits these through
// its Notifier inside the transaction of the change that causes them; the
// default Notifier drops them. Clock-driven kinds (overdue, renewal due,
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

type dropNotifier struct{}

func (dropNotifier) Emit(context.Context, pgx.Tx, Event) error { return nil }

// WithNotifier sets where events go (issue 18 wires River here).
func (s *Server) WithNotifier(n Notifier) *Server {
	s.notifier = n
	return s
}

func (s *Server) emit(ctx context.Context, tx pgx.Tx, e Event) error {
	if s.notifier == nil {
		return nil
	}
	return s.notifier.Emit(ctx, tx, e)
}

var _ Notifier = dropNotifier{}
