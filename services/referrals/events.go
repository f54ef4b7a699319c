package referrals

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/casebridge/casebridge/pkg/jobs"
	"github.com/casebridge/casebridge/pkg/notify"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/services/referrals/internal/store"
)

// events maps each transition to the event it emits.
var events = map[string]notify.Type{
	"submit":      notify.ReferralSubmitted,
	"acknowledge": notify.ReferralAcknowledged,
	"accept":      notify.ReferralAccepted,
	"decline":     notify.ReferralDeclined,
	"return":      notify.ReferralReturned,
	"withdraw":    notify.ReferralWithdrawn,
}

// Who is told. The receiving agency's inbox is worked by its supervisors
// and liaison officers; on the sending side, its supervisors and the
// officer who filed the referral.
var inboxRoles = []string{"supervisor", "liaison"}

func recipientSide(r *store.Referral) notify.Audience {
	return notify.Audience{AgencyID: r.ToAgencyID, Roles: inboxRoles}
}

func senderSide(r *store.Referral) notify.Audience {
	return notify.Audience{AgencyID: r.FromAgencyID, Roles: []string{"supervisor"}, Emails: []string{r.CreateUserEmail}}
}

// emit queues, in tx, the notification of the transition action from
// fromState and, on submission, the acknowledgement deadline's job. Only
// the referral's number and a link travel; never its summary.
func emit(ctx context.Context, tx pgx.Tx, action, fromState string, r *store.Referral) error {
	typ, ok := events[action]
	if !ok {
		return nil
	}
	ev := notify.Event{Type: typ, Number: r.Number, Link: "/referrals/" + r.ID, Resource: "referral:" + r.ID}
	switch action {
	case "submit":
		ev.Audiences = []notify.Audience{recipientSide(r)}
	case "withdraw":
		if fromState == "DRAFT" {
			return nil // the recipient never saw it
		}
		// It no longer sees the referral: in-app and e-mail, no webhook.
		a := recipientSide(r)
		a.NoWebhook = true
		ev.Audiences = []notify.Audience{a}
	default:
		ev.Audiences = []notify.Audience{senderSide(r)}
	}
	if _, err := notify.Emit(ctx, tx, ev); err != nil {
		return err
	}
	if action == "submit" && r.AckDueTime != nil {
		// The deadline is a job scheduled for it; a resubmission (after a
		// return) sets a new deadline and a new job, and the old job finds
		// its deadline superseded.
		return jobs.InsertTx(ctx, tx, ackDueArgs{ReferralID: r.ID, Due: *r.AckDueTime},
			&river.InsertOpts{ScheduledAt: *r.AckDueTime})
	}
	return nil
}

// ackDueArgs is the acknowledgement deadline of one submission.
type ackDueArgs struct {
	ReferralID string    `json:"referral_id"`
	Due        time.Time `json:"due"`
}

func (ackDueArgs) Kind() string { return "referral_ack_due" }
func (ackDueArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueReferrals,
		UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// ackDueWorker escalates a referral still unacknowledged at its deadline:
// the recipient's supervisors and the sender are told, once (the event's
// Once key and the job's completion commit with the check).
type ackDueWorker struct {
	river.WorkerDefaults[ackDueArgs]
	s *Server
}

func (w *ackDueWorker) Work(ctx context.Context, job *river.Job[ackDueArgs]) error {
	due := job.Args.Due.UTC().Truncate(time.Microsecond)
	if wait := time.Until(due); wait > 0 {
		return river.JobSnooze(wait)
	}
	return postgres.WithTx(ctx, w.s.pool, func(tx pgx.Tx) error {
		r, err := store.Lock(ctx, tx, job.Args.ReferralID, w.s.timestamp())
		if errors.Is(err, postgres.ErrNotFound) {
			return jobs.CompleteTx(ctx, tx, job)
		}
		if err != nil {
			return err
		}
		if r.State == "SUBMITTED" && r.AckDueTime != nil && r.AckDueTime.Equal(due) {
			if _, err := notify.Emit(ctx, tx, notify.Event{
				Type: notify.ReferralAckOverdue, Number: r.Number, Link: "/referrals/" + r.ID, Resource: "referral:" + r.ID,
				Audiences: []notify.Audience{{AgencyID: r.ToAgencyID, Roles: []string{"supervisor"}}, senderSide(r)},
				Once:      "referral.ack_overdue:" + r.ID + ":" + due.Format(time.RFC3339Nano),
			}); err != nil {
				return err
			}
		}
		return jobs.CompleteTx(ctx, tx, job)
	})
}

// RegisterWorkers adds the service's deadline workers to r.
func (s *Server) RegisterWorkers(r *jobs.Runner) {
	jobs.Add(r, jobs.QueueReferrals, &ackDueWorker{s: s})
}
