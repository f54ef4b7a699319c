package evidence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/postgres"
)

func TestToStatus(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.DiscardHandler)
	for name, tc := range map[string]struct {
		err  error
		want codes.Code
	}{
		"status passes":   {status.Error(codes.FailedPrecondition, "x"), codes.FailedPrecondition},
		"invisible":       {authz.ErrNotFound, codes.NotFound},
		"no rows":         {postgres.Translate(pgx.ErrNoRows), codes.NotFound},
		"denied":          {fmt.Errorf("%w: nope", authz.ErrDenied), codes.PermissionDenied},
		"serialization":   {postgres.Translate(&pgconn.PgError{Code: "40001"}), codes.Aborted},
		"duplicate":       {postgres.Translate(&pgconn.PgError{Code: "23505"}), codes.Aborted},
		"deadlock":        {postgres.Translate(&pgconn.PgError{Code: "40P01"}), codes.Aborted},
		"db down":         {postgres.Translate(&pgconn.PgError{Code: "57P01"}), codes.Unavailable},
		"check violation": {postgres.Translate(&pgconn.PgError{Code: "23514"}), codes.InvalidArgument},
		"unknown":         {errors.New("boom"), codes.Internal},
		"cancelled":       {context.Canceled, codes.Canceled},
	} {
		require.Equal(t, tc.want, status.Code(toStatus(context.Background(), logger, tc.err)), name)
	}
	require.Equal(t, "internal error", status.Convert(toStatus(context.Background(), logger, errors.New("secret detail"))).Message())
}
