package liaison

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/casebridge/casebridge/pkg/jobs"
	"github.com/casebridge/casebridge/pkg/notify"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/services/liaison/internal/store"
)

// lapseWarnings are how long before an agreement's expiry its parties are
// told it is about to lapse.
var lapseWarnings = []int{30, 7} // days

// scheduleLapse queues, in tx, a job per warning still ahead for a's
// expiry. Set or moved expiries schedule new jobs; a job whose expiry
// changed since finds it superseded and does nothing.
func scheduleLapse(ctx context.Context, tx pgx.Tx, a *store.Agreement, now time.Time) error {
	if a.ExpireTime == nil {
		return nil
	}
	for _, days := range lapseWarnings {
		at := a.ExpireTime.Add(-time.Duration(days) * 24 * time.Hour)
		if !a.ExpireTime.After(now) {
			continue
		}
		if at.Before(now) {
			if days != lapseWarnings[len(lapseWarnings)-1] && a.ExpireTime.Sub(now) < time.Duration(lapseWarnings[len(lapseWarnings)-1])*24*time.Hour {
				continue // the nearer warning covers it
			}
			at = now
		}
		if err := jobs.InsertTx(ctx, tx, lapseArgs{AgreementID: a.ID, Expire: *a.ExpireTime, Days: days},
			&river.InsertOpts{ScheduledAt: at}); err != nil {
			return err
		}
	}
	return nil
}

type lapseArgs struct {
	AgreementID string    `json:"agreement_id"`
	Expire      time.Time `json:"expire"`
	Days        int       `json:"days"`
}

func (lapseArgs) Kind() string { return "agreement_lapse_warning" }
func (lapseArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueLiaison, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// lapseWorker tells both parties' admins and liaison officers that an
// agreement is about to lapse, once per warning and expiry.
type lapseWorker struct {
	river.WorkerDefaults[lapseArgs]
	s *Server
}

func (w *lapseWorker) Work(ctx context.Context, job *river.Job[lapseArgs]) error {
	return postgres.WithTx(ctx, w.s.pool, func(tx pgx.Tx) error {
		a, err := store.GetAgreement(ctx, tx, job.Args.AgreementID)
		if errors.Is(err, postgres.ErrNotFound) {
			return jobs.CompleteTx(ctx, tx, job)
		}
		if err != nil {
			return err
		}
		exp := job.Args.Expire.UTC().Truncate(time.Microsecond)
		if a.ExpireTime != nil && a.ExpireTime.Equal(exp) && exp.After(w.s.timestamp()) {
			roles := []string{"admin", "liaison"}
			aud := []notify.Audience{{AgencyID: a.AgencyID, Roles: roles}}
			if a.PartnerAgencyID != nil {
				aud = append(aud, notify.Audience{AgencyID: *a.PartnerAgencyID, Roles: roles})
			}
			if _, err := notify.Emit(ctx, tx, notify.Event{
				Type: notify.AgreementExpiring, Number: a.Title, Link: "/agreements/" + a.ID, Resource: "agreement:" + a.ID,
				Audiences: aud, Once: fmt.Sprintf("agreement.expiring:%s:%s:%d", a.ID, exp.Format(time.RFC3339Nano), job.Args.Days),
			}); err != nil {
				return err
			}
		}
		return jobs.CompleteTx(ctx, tx, job)
	})
}

// RegisterWorkers adds the service's deadline workers to r.
func (s *Server) RegisterWorkers(r *jobs.Runner) {
	jobs.Add(r, jobs.QueueLiaison, &lapseWorker{s: s})
}
