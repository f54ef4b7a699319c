package audit

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casebridge/casebridge/pkg/postgres"
)

// Writer appends records that are not part of a business transaction (reads,
// denials, failures) with group commit: records arriving while a batch
// commits wait and go together in the next transaction, so auditing many
// concurrent reads costs few commits. Each caller still waits until its own
// record is durable.
type Writer struct {
	pool     *pgxpool.Pool
	logger   *slog.Logger
	maxBatch int

	mu      sync.Mutex
	pending []*pendingEvent
	wake    chan struct{}
	done    chan struct{}
	once    sync.Once
}

type pendingEvent struct {
	ev  *Event
	err chan error
}

// NewWriter starts a writer on pool; Close stops it.
func NewWriter(pool *pgxpool.Pool, logger *slog.Logger) *Writer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Writer{pool: pool, logger: logger, maxBatch: 512, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go w.loop()
	return w
}

// Append writes e and returns once it is committed, or with an error
// wrapping ErrUnavailable.
func (w *Writer) Append(ctx context.Context, e *Event) error {
	p := &pendingEvent{ev: e, err: make(chan error, 1)}
	w.mu.Lock()
	w.pending = append(w.pending, p)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	select {
	case err := <-p.err:
		return err
	case <-ctx.Done():
		// The record may still be written; the caller's request fails.
		return errors.Join(ErrUnavailable, ctx.Err())
	case <-w.done:
		return ErrUnavailable
	}
}

// Close stops the writer after failing anything still queued.
func (w *Writer) Close() {
	w.once.Do(func() { close(w.done) })
}

func (w *Writer) loop() {
	for {
		select {
		case <-w.done:
			w.failAll()
			return
		case <-w.wake:
		}
		for {
			w.mu.Lock()
			n := min(len(w.pending), w.maxBatch)
			batch := w.pending[:n:n]
			w.pending = w.pending[n:]
			w.mu.Unlock()
			if n == 0 {
				break
			}
			w.commit(batch)
		}
	}
}

func (w *Writer) commit(batch []*pendingEvent) {
	evs := make([]*Event, len(batch))
	for i, p := range batch {
		evs[i] = p.ev
	}
	ctx := context.Background()
	err := postgres.WithTx(ctx, w.pool, func(tx pgx.Tx) error { return appendEvents(ctx, tx, evs) })
	if err != nil {
		w.logger.Error("audit batch failed", "records", len(batch), "err", err)
		err = errors.Join(ErrUnavailable, err)
	}
	for _, p := range batch {
		p.err <- err
	}
}

func (w *Writer) failAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.pending {
		p.err <- ErrUnavailable
	}
	w.pending = nil
}
