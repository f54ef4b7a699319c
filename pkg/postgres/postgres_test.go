package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

func TestTranslate(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		in   error
		want error
	}{
		"no rows":          {pgx.ErrNoRows, ErrNotFound},
		"unique":           {&pgconn.PgError{Code: "23505"}, ErrAlreadyExists},
		"serialization":    {&pgconn.PgError{Code: "40001"}, ErrConflict},
		"deadlock":         {&pgconn.PgError{Code: "40P01"}, ErrConflict},
		"check":            {&pgconn.PgError{Code: "23514"}, ErrInvalid},
		"nul in text":      {&pgconn.PgError{Code: "22021"}, ErrInvalid},
		"admin shutdown":   {&pgconn.PgError{Code: "57P01"}, ErrUnavailable},
		"connection class": {&pgconn.PgError{Code: "08006"}, ErrUnavailable},
		"eof mid-query":    {fmt.Errorf("read: %w", io.ErrUnexpectedEOF), ErrUnavailable},
		"wrapped no rows":  {fmt.Errorf("get: %w", pgx.ErrNoRows), ErrNotFound},
	} {
		require.ErrorIs(t, Translate(tc.in), tc.want, name)
	}
	// Already translated errors and foreign errors pass through unchanged.
	once := Translate(pgx.ErrNoRows)
	require.Equal(t, once, Translate(once))
	other := errors.New("boom")
	require.Equal(t, other, Translate(other))
	require.NoError(t, Translate(nil))
	// The caller's own cancellation is not an outage.
	require.NotErrorIs(t, Translate(context.Canceled), ErrUnavailable)
	// Unknown SQLSTATEs are not guessed at.
	unknown := &pgconn.PgError{Code: "XX000"}
	require.Equal(t, error(unknown), Translate(unknown))
}
