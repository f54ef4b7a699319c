package notifications

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/casebridge/casebridge/pkg/jobs"
	"github.com/casebridge/casebridge/pkg/notify"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/services/notifications/internal/store"
)

// fanout works notify.EventArgs: for each audience it writes one inbox row
// per user, queues an e-mail to each user who wants this event by mail and
// a delivery to each subscribed webhook of the agency — all in one
// transaction with the job's completion, so a retried job never tells
// anyone twice.
type fanout struct {
	river.WorkerDefaults[notify.EventArgs]
	s *Server
}

func (w *fanout) Work(ctx context.Context, job *river.Job[notify.EventArgs]) error {
	ev := job.Args
	spec, ok := notify.Lookup(ev.Type)
	if !ok {
		return river.JobCancel(fmt.Errorf("unknown event type %q", ev.Type))
	}
	title := fmt.Sprintf(spec.Title, ev.Number)
	return postgres.WithTx(ctx, w.s.pool, func(tx pgx.Tx) error {
		hooked := map[string]bool{}
		for _, a := range ev.Audiences {
			rcpts, err := store.Recipients(ctx, tx, a.AgencyID, a.Roles, a.Emails)
			if err != nil {
				return err
			}
			for _, r := range rcpts {
				added, err := store.InsertNotification(ctx, tx, &store.Notification{
					ID: uuid.NewString(), EventID: ev.EventID, UserID: r.UserID, AgencyID: r.AgencyID,
					Event: string(ev.Type), Title: title, Number: ev.Number, Link: ev.Link, CreateTime: ev.Time,
				})
				if err != nil {
					return err
				}
				if !added {
					continue // in two audiences, or told already
				}
				events, chosen, err := store.EmailEvents(ctx, tx, r.UserID)
				if err != nil {
					return err
				}
				if chosen && !slices.Contains(events, string(ev.Type)) {
					continue
				}
				if err := jobs.InsertTx(ctx, tx, emailArgs{EventID: ev.EventID, Type: ev.Type, To: r.Email,
					Number: ev.Number, Link: ev.Link}, nil); err != nil {
					return err
				}
			}
			if !spec.Webhook || a.NoWebhook || hooked[a.AgencyID] {
				continue
			}
			hooked[a.AgencyID] = true
			hooks, err := store.SubscribedWebhooks(ctx, tx, a.AgencyID, string(ev.Type))
			if err != nil {
				return err
			}
			for _, h := range hooks {
				if err := jobs.InsertTx(ctx, tx, deliveryArgs{WebhookID: h.ID, EventID: ev.EventID, Type: ev.Type,
					Number: ev.Number, Link: ev.Link, Time: ev.Time}, nil); err != nil {
					return err
				}
			}
		}
		return jobs.CompleteTx(ctx, tx, job)
	})
}

// emailArgs is one e-mail to one user.
type emailArgs struct {
	EventID string      `json:"event_id"`
	Type    notify.Type `json:"type"`
	To      string      `json:"to"`
	Number  string      `json:"number"`
	Link    string      `json:"link"`
}

func (emailArgs) Kind() string { return "notify_email" }
func (emailArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueNotifications, MaxAttempts: 10}
}

type mailer struct {
	river.WorkerDefaults[emailArgs]
	s *Server
}

func (w *mailer) Work(ctx context.Context, job *river.Job[emailArgs]) error {
	if w.s.mail == nil {
		return nil // no --smtp-url: in-app only
	}
	msg, err := w.s.mail.compose(job.Args, w.s.publicURL)
	if err != nil {
		return river.JobCancel(err)
	}
	return w.s.mail.send(ctx, job.Args.To, msg)
}

func (w *mailer) NextRetry(job *river.Job[emailArgs]) time.Time {
	return jobs.Backoff(job.Attempt, w.s.retryBase, time.Hour)
}

// deliveryArgs is one event to one webhook.
type deliveryArgs struct {
	WebhookID string      `json:"webhook_id"`
	EventID   string      `json:"event_id"`
	Type      notify.Type `json:"type"`
	Number    string      `json:"number"`
	Link      string      `json:"link"`
	Time      time.Time   `json:"time"`
}

func (deliveryArgs) Kind() string { return "notify_webhook" }
func (deliveryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueNotifications, MaxAttempts: 10}
}

// payload is the JSON body posted to a webhook: the event, the number and
// a link, never case content.
type payload struct {
	ID       string    `json:"id"`
	Type     string    `json:"type"`
	Time     time.Time `json:"time"`
	AgencyID string    `json:"agencyId"`
	Number   string    `json:"number"`
	Link     string    `json:"link"`
}

type deliverer struct {
	river.WorkerDefaults[deliveryArgs]
	s *Server
}

func (w *deliverer) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	a := job.Args
	h, err := store.WebhookByID(ctx, w.s.pool, a.WebhookID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleted since: nothing to deliver
		}
		return err
	}
	if !h.Active {
		return nil
	}
	link := a.Link
	if link != "" && w.s.publicURL != "" {
		link = w.s.publicURL + link
	}
	body, err := json.Marshal(payload{ID: a.EventID, Type: string(a.Type), Time: a.Time, AgencyID: h.AgencyID, Number: a.Number, Link: link})
	if err != nil {
		return river.JobCancel(err)
	}
	code, derr := w.s.hooks.post(ctx, h.URL, h.Secret, body, time.Now())
	d := &store.Delivery{ID: uuid.NewString(), WebhookID: h.ID, Event: string(a.Type), EventID: a.EventID,
		Attempt: job.Attempt, StatusCode: code, Success: derr == nil, AttemptTime: time.Now().UTC()}
	if derr != nil {
		d.Error = derr.Error()
	}
	// The log is written apart from the job: a failed attempt is logged
	// and then retried by River.
	if err := store.InsertDelivery(context.WithoutCancel(ctx), w.s.pool, d); err != nil {
		w.s.logger.ErrorContext(ctx, "webhook delivery log", "err", err)
	}
	if derr != nil && isPermanent(derr) {
		return river.JobCancel(derr)
	}
	return derr
}

func (w *deliverer) NextRetry(job *river.Job[deliveryArgs]) time.Time {
	return jobs.Backoff(job.Attempt, w.s.retryBase, time.Hour)
}
