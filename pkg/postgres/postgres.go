// Package postgres owns how services talk to PostgreSQL: opening the pgx pool,
// running transactions through one helper, and translating database errors
// (by SQLSTATE, never by message text) into the sentinels services map to
// gRPC codes.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Sentinels returned (wrapped) by Translate. Services map these, and only
// these, to status codes.
var (
	// ErrNotFound: the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a unique constraint refused the write (23505).
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the transaction lost a serialization race or a deadlock
	// (40001, 40P01); retrying may succeed.
	ErrConflict = errors.New("concurrent transaction conflict")
	// ErrInvalid: the database refused a value (check, not-null, foreign key,
	// bad text representation). Input validation should catch these first.
	ErrInvalid = errors.New("invalid value")
	// ErrUnavailable: the database cannot be reached or is shutting down.
	ErrUnavailable = errors.New("database unavailable")
)

// Open creates a pool on databaseURL and waits up to a few seconds for a first
// connection, so a mistyped URL fails at start. A database that is merely down
// does not prevent start: the pool reconnects when it returns.
func Open(ctx context.Context, databaseURL string, opts ...Option) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database url: %w", err)
	}
	for _, o := range opts {
		o(cfg)
	}
	if cfg.MaxConns < 16 {
		cfg.MaxConns = 16
	}
	cfg.HealthCheckPeriod = 5 * time.Second
	// A dead server must not hang requests: fail connects fast so callers
	// answer 503 and the pool retries on the next request.
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > 5*time.Second {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return pool, nil
}

// Option adjusts the pool configuration of Open.
type Option func(*pgxpool.Config)

// WithRole makes every connection of the pool `SET ROLE role` as soon as it
// connects, so the process runs with that role's (least) privileges even
// when the URL's login may do more (DESIGN.md §4: the runtime role may only
// INSERT and SELECT the audit trail). "" leaves the login's role.
func WithRole(role string) Option {
	return func(cfg *pgxpool.Config) {
		if role == "" {
			return
		}
		prev := cfg.AfterConnect
		cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			if prev != nil {
				if err := prev(ctx, c); err != nil {
					return err
				}
			}
			_, err := c.Exec(ctx, "SET ROLE "+pgx.Identifier{role}.Sanitize())
			return err
		}
	}
}

// Querier is what both a pool and a transaction offer; stores take it so the
// same query runs inside or outside a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// TxBeginner starts transactions; *pgxpool.Pool satisfies it.
type TxBeginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// WithTx runs fn in a transaction and commits when fn returns nil. The
// rollback runs under context.WithoutCancel so a cancelled request still
// releases its locks at once instead of when the connection is reaped.
// Errors are passed through Translate.
func WithTx(ctx context.Context, db TxBeginner, fn func(tx pgx.Tx) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return Translate(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		return Translate(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Translate(err)
	}
	return nil
}

// Translate maps a pgx error onto the package sentinels, wrapping so the
// original stays available to logs through errors.As. Errors that are already
// translated, or are not database errors, pass through unchanged.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{ErrNotFound, ErrAlreadyExists, ErrConflict, ErrInvalid, ErrUnavailable} {
		if errors.Is(err, s) {
			return err
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505":
			return fmt.Errorf("%w: %w", ErrAlreadyExists, err)
		case pgErr.Code == "40001", pgErr.Code == "40P01":
			return fmt.Errorf("%w: %w", ErrConflict, err)
		case pgErr.Code == "23502", pgErr.Code == "23503", pgErr.Code == "23514",
			pgErr.Code == "22P02", pgErr.Code == "22001", pgErr.Code == "22007", pgErr.Code == "22008",
			pgErr.Code == "22021": // character not in repertoire (e.g. NUL in text)
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutdown, crash, cannot connect now
			pgErr.Code == "53300": // too many connections
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return err
	}
	// Below the SQL layer: refused or dropped connections, timeouts while
	// connecting, a server that vanished mid-query.
	var connErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) ||
		pgconn.Timeout(err) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}
