package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
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

	// Load throughout: creates with request ids from four clients. Every
	// answer must be 200 or 503; every acknowledged create must survive.
	tok := s.Token(t, det)
	client := &http.Client{Timeout: 10 * time.Second}
	var mu sync.Mutex
	acked := map[string]string{} // request id -> case id
	codes := map[int]int{}
	stopLoad := make(chan struct{})
	var load sync.WaitGroup
	for range 4 {
		load.Go(func() {
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				rid := uuid.NewString()
				req, _ := http.NewRequest("POST", s.URL+"/v1/cases?request_id="+rid, strings.NewReader(`{"title":"under load"}`))
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				var c struct{ ID string }
				_ = json.NewDecoder(resp.Body).Decode(&c)
				resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				if resp.StatusCode == http.StatusOK {
					acked[rid] = c.ID
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	time.Sleep(300 * time.Millisecond)

	require.NoError(t, srv.Stop(ctx))
	r := s.Do(t, det, "GET", "/v1/cases/"+c.Str("id"), nil)
	require.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Raw))
	require.Equal(t, "UNAVAILABLE", r.Str("status"))
	r = s.Do(t, det, "POST", "/v1/cases", map[string]any{"title": "during the outage"})
	require.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Raw))
	require.Eventually(t, func() bool {
		return s.Do(t, "", "GET", "/readyz", nil).Status == http.StatusServiceUnavailable
	}, 30*time.Second, 200*time.Millisecond)
	require.Equal(t, http.StatusOK, s.Do(t, "", "GET", "/healthz", nil).Status, "the process itself stays up")

	srv, err = pgserver.Start(ctx, opts)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return s.Do(t, det, "GET", "/v1/cases/"+c.Str("id"), nil).Status == http.StatusOK
	}, 30*time.Second, 200*time.Millisecond)
	require.Eventually(t, func() bool {
		return s.Do(t, "", "GET", "/readyz", nil).Status == http.StatusOK
	}, 30*time.Second, 200*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	close(stopLoad)
	load.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("answers under load across the outage: %v", codes)
	for code := range codes {
		require.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, code, "only 200 or 503 across an outage")
	}
	require.Positive(t, codes[http.StatusServiceUnavailable])
	for rid, id := range acked {
		var got string
		require.NoError(t, s.Pool.QueryRow(ctx, `SELECT resource_id::text FROM cases.idempotency_keys WHERE request_id = $1`, rid).Scan(&got))
		require.Equal(t, id, got, "acknowledged create %s lost", rid)
	}
	var n int
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM cases.cases`).Scan(&n))
	// A create whose answer was lost may exist; an acknowledged one must.
	require.GreaterOrEqual(t, n, len(acked)+1)
}
