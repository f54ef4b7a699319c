// Package migrations holds the versioned SQL migrations of every schema and
// applies them with goose. The files are embedded so the binary migrates
// itself; `casebridge migrate up|down|status` and `casebridge dev` use this.
//
// River's tables (the job queue, pkg/jobs) are migrated by River's own
// migrator, not by copied SQL: Up runs goose first (00018 creates the
// schema `river`), then River's migrations into that schema.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/casebridge/casebridge/pkg/jobs"
)

//go:embed *.sql
var files embed.FS

// TableName is where goose records applied versions.
const TableName = "public.casebridge_schema_migrations"

// Open opens a database/sql handle on databaseURL for goose. The caller closes it.
func Open(databaseURL string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("migrations: parse database url: %w", err)
	}
	return stdlib.OpenDB(*cfg), nil
}

// NewProvider returns a goose provider over the embedded migrations.
func NewProvider(db *sql.DB) (*goose.Provider, error) {
	return goose.NewProvider(goose.DialectPostgres, db, files, goose.WithTableName(TableName))
}

// Up applies every pending migration to the database at databaseURL.
func Up(ctx context.Context, databaseURL string) error {
	db, err := Open(databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	p, err := NewProvider(db)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: up: %w", err)
	}
	return UpRiver(ctx, databaseURL)
}

// UpRiver applies River's migrations (after goose has created its schema).
func UpRiver(ctx context.Context, databaseURL string) error {
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer pool.Close()
	return jobs.Migrate(ctx, pool, nil)
}

// RiverVersion answers River's applied migration version.
func RiverVersion(ctx context.Context, databaseURL string) (int, error) {
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	defer pool.Close()
	return jobs.Version(ctx, pool)
}
