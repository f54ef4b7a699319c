package rpc

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

	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/postgres"
)

var errOwn = errors.New("service sentinel")

func TestToStatus(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.DiscardHandler)
	own := Mapping{Err: errOwn, Code: codes.Aborted, Message: "own"}
	for name, tc := range map[string]struct {
		err  error
		want codes.Code
	}{
		"status passes":     {status.Error(codes.FailedPrecondition, "x"), codes.FailedPrecondition},
		"service's own":     {fmt.Errorf("wrapped: %w", errOwn), codes.Aborted},
		"invisible":         {authz.ErrNotFound, codes.NotFound},
		"no rows":           {postgres.Translate(pgx.ErrNoRows), codes.NotFound},
		"denied":            {fmt.Errorf("%w: nope", authz.ErrDenied), codes.PermissionDenied},
		"duplicate":         {postgres.Translate(&pgconn.PgError{Code: "23505"}), codes.AlreadyExists},
		"serialization":     {postgres.Translate(&pgconn.PgError{Code: "40001"}), codes.Aborted},
		"deadlock":          {postgres.Translate(&pgconn.PgError{Code: "40P01"}), codes.Aborted},
		"db down":           {postgres.Translate(&pgconn.PgError{Code: "57P01"}), codes.Unavailable},
		"audit unavailable": {fmt.Errorf("%w: insert failed", audit.ErrUnavailable), codes.Unavailable},
		"check violation":   {postgres.Translate(&pgconn.PgError{Code: "23514"}), codes.InvalidArgument},
		"unknown":           {errors.New("boom"), codes.Internal},
		"cancelled":         {context.Canceled, codes.Canceled},
		"deadline":          {context.DeadlineExceeded, codes.DeadlineExceeded},
	} {
		require.Equal(t, tc.want, status.Code(ToStatus(context.Background(), logger, tc.err, "thing not found", own)), name)
	}
	require.NoError(t, ToStatus(context.Background(), logger, nil, "x"))
	// Internal errors never leak their text; NOT_FOUND says what the service
	// says, nothing about why.
	require.Equal(t, "internal error", status.Convert(ToStatus(context.Background(), logger, errors.New("secret detail"), "x")).Message())
	require.Equal(t, "thing not found", status.Convert(ToStatus(context.Background(), logger, authz.ErrNotFound, "thing not found")).Message())
}
