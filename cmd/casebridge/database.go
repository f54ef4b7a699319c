package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casebridge/casebridge/pkg/pgserver"
)

// devDatabase is the database name inside the private cluster.
const devDatabase = "casebridge"

// openDatabase returns the URL to use: databaseURL when set, otherwise the
// private cluster under dataDir/pg, started (and created) on demand. stop
// stops a cluster it started; it is a no-op otherwise — a `casebridge
// migrate` or `bench` run beside a running `casebridge dev` leaves its
// database up.
func openDatabase(ctx context.Context, databaseURL, dataDir string, logger *slog.Logger) (string, func(context.Context) error, error) {
	return openDatabaseOwned(ctx, databaseURL, dataDir, logger, false)
}

// openDatabaseOwned is openDatabase for the owner of the data dir (`dev`):
// with own set, stop also stops a cluster that was already running (left by
// a killed `dev`).
func openDatabaseOwned(ctx context.Context, databaseURL, dataDir string, logger *slog.Logger, own bool) (string, func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	if databaseURL != "" {
		return databaseURL, noop, nil
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", noop, fmt.Errorf("--data-dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", noop, fmt.Errorf("--data-dir: %w", err)
	}
	logger.Info("starting private PostgreSQL", "data_dir", filepath.Join(abs, "pg"))
	srv, err := pgserver.Start(ctx, pgserver.Options{DataDir: filepath.Join(abs, "pg"), Logger: logger})
	if err != nil {
		return "", noop, err
	}
	if err := ensureDatabase(ctx, srv.URL("postgres"), devDatabase); err != nil {
		_ = srv.Stop(context.WithoutCancel(ctx))
		return "", noop, err
	}
	if srv.Reused() && !own {
		logger.Info("using the PostgreSQL already running on the data dir")
		return srv.URL(devDatabase), noop, nil
	}
	return srv.URL(devDatabase), srv.Stop, nil
}

// ensureDatabase creates database name on the server at adminURL if absent.
func ensureDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to private PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database
		return nil
	}
	return err
}

// pgxpoolCloser is a pool plus the private cluster it may have started.
type pgxpoolCloser struct {
	*pgxpool.Pool
	stop func(context.Context) error
}

// Close closes the pool and stops a cluster openDatabase started.
func (p *pgxpoolCloser) Close() {
	p.Pool.Close()
	_ = p.stop(context.Background())
}
