package cases

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/casebridge/casebridge/pkg/jobs"
	"github.com/casebridge/casebridge/pkg/notify"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/services/cases/internal/store"
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
	auds, err := taskAudience(ctx, tx, e.UserIDs, e.AgencyID)
	if err != nil {
		return err
	}
	if len(auds) == 0 {
		return nil
	}
	_, err = notify.Emit(ctx, tx, notify.Event{Type: notify.TaskAssigned, Number: number, Link: "/cases/" + e.CaseID,
		Resource: "task:" + e.TaskID, Audiences: auds})
	return err
}

// taskAudience is who hears about a task: its assigned users (by the
// directory's e-mail, read-only like authentication) and, when an agency is
// assigned, that agency's supervisors and liaisons. Assignment was checked
// to name only users and agencies working the case.
func taskAudience(ctx context.Context, tx pgx.Tx, userIDs []string, agencyID string) ([]notify.Audience, error) {
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
	if len(userIDs) > 0 {
		rows, err := tx.Query(ctx, `SELECT agency_id::text, email FROM liaison.users WHERE id = ANY($1::uuid[]) AND active`, userIDs)
		if err != nil {
			return nil, postgres.Translate(err)
		}
		for rows.Next() {
			var agency, email string
			if err := rows.Scan(&agency, &email); err != nil {
				rows.Close()
				return nil, postgres.Translate(err)
			}
			a := aud(agency)
			a.Emails = append(a.Emails, email)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, postgres.Translate(err)
		}
	}
	if agencyID != "" {
		aud(agencyID).Roles = []string{"supervisor", "liaison"}
	}
	out := make([]notify.Audience, 0, len(order))
	for _, id := range order {
		out = append(out, *byAgency[id])
	}
	return out, nil
}

// taskDueArgs is the due time of one open task: a job scheduled for it
// when the task is created or its due time changes (a changed due time
// schedules a new job; the old one finds its due time superseded).
type taskDueArgs struct {
	TaskID string    `json:"task_id"`
	Due    time.Time `json:"due"`
}

func (taskDueArgs) Kind() string { return "task_due" }
func (taskDueArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueCases, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// scheduleDue schedules t's overdue announcement at its due time.
func scheduleDue(ctx context.Context, tx pgx.Tx, t *store.Task) error {
	if t.DueTime == nil || !t.Open() {
		return nil
	}
	due := t.DueTime.UTC().Truncate(time.Microsecond)
	return jobs.InsertTx(ctx, tx, taskDueArgs{TaskID: t.ID, Due: due}, &river.InsertOpts{ScheduledAt: due})
}

// taskDueWorker announces a task still open at its due time, once: to its
// assignees and assigned agency, or — when nobody is assigned — to the
// case's lead agency's supervisors.
type taskDueWorker struct {
	river.WorkerDefaults[taskDueArgs]
	s *Server
}

func (w *taskDueWorker) Work(ctx context.Context, job *river.Job[taskDueArgs]) error {
	due := job.Args.Due.UTC().Truncate(time.Microsecond)
	if wait := time.Until(due); wait > 0 {
		return river.JobSnooze(wait)
	}
	return postgres.WithTx(ctx, w.s.pool, func(tx pgx.Tx) error {
		t, err := store.GetTask(ctx, tx, job.Args.TaskID)
		if errors.Is(err, postgres.ErrNotFound) {
			return jobs.CompleteTx(ctx, tx, job)
		}
		if err != nil {
			return err
		}
		if t.Open() && t.DueTime != nil && t.DueTime.UTC().Truncate(time.Microsecond).Equal(due) {
			agency := ""
			if t.AssignedAgencyID != nil {
				agency = *t.AssignedAgencyID
			}
			auds, err := taskAudience(ctx, tx, t.AssigneeUserIDs, agency)
			if err != nil {
				return err
			}
			if len(auds) == 0 {
				var lead string
				if err := tx.QueryRow(ctx, `SELECT lead_agency_id::text FROM cases.cases WHERE id = $1`, t.CaseID).Scan(&lead); err != nil {
					return postgres.Translate(err)
				}
				auds = []notify.Audience{{AgencyID: lead, Roles: []string{"supervisor"}}}
			}
			if _, err := notify.Emit(ctx, tx, notify.Event{Type: notify.TaskOverdue, Number: t.CaseNumber, Link: "/cases/" + t.CaseID,
				Resource: "task:" + t.ID, Audiences: auds, Once: "task.overdue:" + t.ID + ":" + due.Format(time.RFC3339Nano)}); err != nil {
				return err
			}
		}
		return jobs.CompleteTx(ctx, tx, job)
	})
}

// legalClockArgs is one moment of a served legal process item's clock: its
// renewal window opening (14 days before expiry) or its expiry. Scheduled
// when the item is recorded or changed; a job whose moment no longer
// matches the item's computed clock (extended, returned) does nothing.
type legalClockArgs struct {
	ItemID string    `json:"item_id"`
	Moment string    `json:"kind"` // "renewal" or "lapse"
	At     time.Time `json:"at"`
}

func (legalClockArgs) Kind() string { return "legal_process_clock" }
func (legalClockArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueCases, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// scheduleLegal schedules l's renewal and lapse announcements.
func scheduleLegal(ctx context.Context, tx pgx.Tx, l *store.LegalProcess, now time.Time) error {
	if l.State != "SERVED" {
		return nil
	}
	c := ClockOf(l, now)
	for kind, at := range map[string]*time.Time{"renewal": c.RenewalDue, "lapse": c.Expire} {
		if at == nil {
			continue
		}
		t := at.UTC().Truncate(time.Microsecond)
		if err := jobs.InsertTx(ctx, tx, legalClockArgs{ItemID: l.ID, Moment: kind, At: t}, &river.InsertOpts{ScheduledAt: t}); err != nil {
			return err
		}
	}
	return nil
}

// legalClockWorker tells the case's lead agency's supervisors and the
// person who recorded the item, once per moment.
type legalClockWorker struct {
	river.WorkerDefaults[legalClockArgs]
	s *Server
}

func (w *legalClockWorker) Work(ctx context.Context, job *river.Job[legalClockArgs]) error {
	at := job.Args.At.UTC().Truncate(time.Microsecond)
	if wait := time.Until(at); wait > 0 {
		return river.JobSnooze(wait)
	}
	return postgres.WithTx(ctx, w.s.pool, func(tx pgx.Tx) error {
		l, err := store.LockLegalProcess(ctx, tx, job.Args.ItemID)
		if errors.Is(err, postgres.ErrNotFound) {
			return jobs.CompleteTx(ctx, tx, job)
		}
		if err != nil {
			return err
		}
		c := ClockOf(l, time.Now())
		typ := notify.Type("")
		switch {
		case job.Args.Moment == "renewal" && c.DueForRenewal && c.RenewalDue != nil && c.RenewalDue.UTC().Truncate(time.Microsecond).Equal(at):
			typ = notify.LegalProcessDue
		case job.Args.Moment == "lapse" && c.Status == "EXPIRED" && c.Expire != nil && c.Expire.UTC().Truncate(time.Microsecond).Equal(at):
			typ = notify.LegalProcessLapsed
		}
		if typ != "" {
			var lead, number string
			if err := tx.QueryRow(ctx, `SELECT lead_agency_id::text, case_number FROM cases.cases WHERE id = $1`, l.CaseID).Scan(&lead, &number); err != nil {
				return postgres.Translate(err)
			}
			if _, err := notify.Emit(ctx, tx, notify.Event{Type: typ, Number: number, Link: "/cases/" + l.CaseID,
				Resource:  "legal_process:" + l.ID,
				Audiences: []notify.Audience{{AgencyID: lead, Roles: []string{"supervisor"}, Emails: []string{l.CreateUserEmail}}},
				Once:      string(typ) + ":" + l.ID + ":" + at.Format(time.RFC3339Nano)}); err != nil {
				return err
			}
		}
		return jobs.CompleteTx(ctx, tx, job)
	})
}

// RegisterWorkers adds the Cases service's deadline workers to r.
func (s *Server) RegisterWorkers(r *jobs.Runner) {
	jobs.Add(r, jobs.QueueCases, &taskDueWorker{s: s})
	jobs.Add(r, jobs.QueueCases, &legalClockWorker{s: s})
}

var _ Notifier = notifyEvents{}
