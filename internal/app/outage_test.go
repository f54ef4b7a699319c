package app_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/migrations"
	"github.com/casebridge/casebridge/pkg/pgserver"
)

// TestDatabaseOutage stops PostgreSQL under a running system: requests answer
// 503 (never 500, never a crash), /readyz fails, and once PostgreSQL is back
// the process serves again by itself with nothing lost.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, err := os.MkdirTemp("/tmp", "cbout-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	opts := pgserver.Options{DataDir: filepath.Join(dir, "pg"), SocketDir: filepath.Join(dir, "run"), Fast: true}
	srv, err := pgserver.Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })

	conn, err := pgx.Connect(ctx, srv.URL("postgres"))
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE DATABASE casebridge")
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
	url := srv.URL("casebridge")
	require.NoError(t, migrations.Up(ctx, url))

	s := apptest.StartOn(t, url)
	const det = "det.alvarez@csp.example"
	c := s.Do(t, det, "POST", "/v1/cases", map[string]any{"title": "before the outage"})
	require.Equal(t, http.StatusOK, c.Status, string(c.Raw))
	// Mint now: tokens are verified without the database, but the user is
	// resolved through it.
	require.Equal(t, http.StatusOK, s.Do(t, "", "GET", "/readyz", nil).Status)

	require.NoError(t, srv.Stop(ctx))
	r := s.Do(t, det, "GET", "/v1/cases/"+c.Str("id"), nil)
	require.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Raw))
	require.Equal(t, "UNAVAILABLE", r.Str("status"))
	r = s.Do(t, det, "POST", "/v1/cases", map[string]any{"title": "during the outage"})
	require.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Raw))
	require.Eventually(t, func() bool {
		return s.Do(t, "", "GET", "/readyz", nil).Status == http.StatusServiceUnavailable
	}, 10*time.Second, 200*time.Millisecond)
	require.Equal(t, http.StatusOK, s.Do(t, "", "GET", "/healthz", nil).Status, "the process itself stays up")

	srv, err = pgserver.Start(ctx, opts)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return s.Do(t, det, "GET", "/v1/cases/"+c.Str("id"), nil).Status == http.StatusOK
	}, 20*time.Second, 200*time.Millisecond)
	require.Eventually(t, func() bool {
		return s.Do(t, "", "GET", "/readyz", nil).Status == http.StatusOK
	}, 10*time.Second, 200*time.Millisecond)
	list := s.Do(t, det, "GET", "/v1/cases", nil)
	require.Len(t, list.List("cases"), 1, "the refused create left nothing behind")
}
