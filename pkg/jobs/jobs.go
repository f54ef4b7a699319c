// Package jobs owns Casebridge's use of River, the job queue in PostgreSQL
// (DESIGN.md §2, issue 18): River's schema and migrations, the insert-only
// client every service uses to insert jobs inside the transaction of the
// change that causes them, and the working client a process runs for the
// services of its --target.
//
// Each service works its own queue (named after the service), so a process
// running --target=referrals never fetches a job whose worker lives in the
// notifications service; a job kind is worked wherever its service runs.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Schema is the PostgreSQL schema of River's tables (created by migration
// 00018, filled by River's own migrations).
const Schema = "river"

// Queues of the services that work jobs.
const (
	QueueNotifications = "notifications"
	QueueReferrals     = "referrals"
	QueueLiaison       = "liaison"
	QueueCases         = "cases"
)

// inserter is a client without a pool and without workers: it only builds
// insert statements that run on the caller's transaction.
var inserter = sync.OnceValues(func() (*river.Client[pgx.Tx], error) {
	return river.NewClient(riverpgxv5.New(nil), &river.Config{Schema: Schema})
})

// InsertTx inserts a job in tx: it is worked only if tx commits, and it is
// never lost once tx has committed.
func InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	c, err := inserter()
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	if _, err := c.InsertTx(ctx, tx, args, opts); err != nil {
		return fmt.Errorf("jobs: insert %s: %w", args.Kind(), err)
	}
	return nil
}

// CompleteTx marks job completed in tx, so the job's effects and its
// completion commit together (a job that emitted its event is never worked
// again, even if the process dies right after).
func CompleteTx[T river.JobArgs](ctx context.Context, tx pgx.Tx, job *river.Job[T]) error {
	_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
	return err
}

// Migrate applies River's migrations to the database at pool's URL.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: Schema, Logger: logger})
	if err != nil {
		return fmt.Errorf("jobs: migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobs: migrate river: %w", err)
	}
	return nil
}

// Version returns River's applied migration version (0 when none).
func Version(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: Schema})
	if err != nil {
		return 0, err
	}
	res, err := m.ExistingVersions(ctx)
	if err != nil {
		return 0, err
	}
	if len(res) == 0 {
		return 0, nil
	}
	return res[len(res)-1].Version, nil
}

// Runner collects the workers of the services a process runs and the
// queues they work, then runs them.
type Runner struct {
	workers *river.Workers
	queues  map[string]river.QueueConfig
	client  *river.Client[pgx.Tx]
}

// NewRunner returns an empty Runner.
func NewRunner() *Runner {
	return &Runner{workers: river.NewWorkers(), queues: map[string]river.QueueConfig{}}
}

// Add registers w on queue (a service's queue).
func Add[T river.JobArgs](r *Runner, queue string, w river.Worker[T]) {
	river.AddWorker(r.workers, w)
	r.queues[queue] = river.QueueConfig{MaxWorkers: 10}
}

// Options tune the working client.
type Options struct {
	Logger *slog.Logger
	// FetchPollInterval is how often idle workers look for jobs besides
	// the LISTEN/NOTIFY wake-up (default 1s).
	FetchPollInterval time.Duration
}

// Start starts working the registered queues on pool. It does nothing when
// no worker was added (a gateway-only process).
func (r *Runner) Start(ctx context.Context, pool *pgxpool.Pool, o Options) error {
	if len(r.queues) == 0 {
		return nil
	}
	poll := o.FetchPollInterval
	if poll <= 0 {
		poll = time.Second
	}
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Schema:            Schema,
		Queues:            r.queues,
		Workers:           r.workers,
		Logger:            o.Logger,
		FetchPollInterval: poll,
		FetchCooldown:     min(poll, 100*time.Millisecond),
		JobTimeout:        time.Minute,
		// A job left running by a process that died is worked again
		// soon, not after River's default hour.
		RescueStuckJobsAfter: 2 * time.Minute,
		MaxAttempts:          12,
	})
	if err != nil {
		return fmt.Errorf("jobs: client: %w", err)
	}
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	r.client = c
	return nil
}

// Stop lets running jobs finish until ctx ends, then cancels them (a
// cancelled job is retried later, by this or another process).
func (r *Runner) Stop(ctx context.Context) error {
	if r == nil || r.client == nil {
		return nil
	}
	c := r.client
	r.client = nil
	err := c.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return c.StopAndCancel(sctx)
	}
	return err
}

// Backoff is a retry schedule: base·2^(attempt-1), at most max.
func Backoff(attempt int, base, limit time.Duration) time.Time {
	d := base
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	return time.Now().Add(min(d, limit))
}
