// Package migrations holds the versioned SQL migrations of every schema and
// applies them with goose. The files are embedded so the binary migrates
// itself; `casebridge migrate up|down|status` and `casebridge dev` use this.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
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
	return nil
}
