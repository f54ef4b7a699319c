package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// IdempotencyKeys is a service's table of request ids for idempotent creates
// (AIP-155): `<schema>.idempotency_keys (user_id, method, request_id,
// resource_id)` with primary key (user_id, method, request_id). Each service
// keeps its own table in its own schema.
type IdempotencyKeys struct{ table string }

// NewIdempotencyKeys names the table of schema. schema is a constant of the
// calling service, never input.
func NewIdempotencyKeys(schema string) IdempotencyKeys {
	return IdempotencyKeys{table: pgx.Identifier{schema, "idempotency_keys"}.Sanitize()}
}

// Claim records (user, method, requestID) inside tx. It returns the id of the
// resource an earlier call with the same key created, or "" if this call is
// the first — the key row is then held by tx until it commits, so a
// concurrent retry waits here and then sees the first result instead of
// creating a second resource.
func (k IdempotencyKeys) Claim(ctx context.Context, tx pgx.Tx, userID, method, requestID string) (string, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO `+k.table+` (user_id, method, request_id)
		VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, userID, method, requestID)
	if err != nil {
		return "", Translate(err)
	}
	if tag.RowsAffected() == 1 {
		return "", nil
	}
	var id *string
	err = tx.QueryRow(ctx, `SELECT resource_id::text FROM `+k.table+`
		WHERE user_id = $1 AND method = $2 AND request_id = $3`, userID, method, requestID).Scan(&id)
	if err != nil {
		return "", Translate(err)
	}
	if id == nil {
		return "", fmt.Errorf("idempotency key without resource: %w", ErrConflict)
	}
	return *id, nil
}

// Complete binds a claimed key to the resource it created, in the same tx.
func (k IdempotencyKeys) Complete(ctx context.Context, tx pgx.Tx, userID, method, requestID, resourceID string) error {
	_, err := tx.Exec(ctx, `UPDATE `+k.table+` SET resource_id = $4
		WHERE user_id = $1 AND method = $2 AND request_id = $3`, userID, method, requestID, resourceID)
	return Translate(err)
}
