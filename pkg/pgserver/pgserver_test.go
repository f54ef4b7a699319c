package pgserver_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/pkg/pgserver"
)

// tempDir returns a short directory under /tmp that the postgres OS user can
// traverse when the tests run as root (t.TempDir is mode 0700 and its path
// can be too long for a socket).
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "cbpgserver-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o711))
	t.Cleanup(func() { require.NoError(t, os.RemoveAll(dir)) })
	return dir
}

// start starts a cluster and stops it when the test ends, whatever happens.
func start(t *testing.T, opts pgserver.Options) *pgserver.Server {
	t.Helper()
	srv, err := pgserver.Start(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Stop(context.Background())) })
	return srv
}

func queryInt(t *testing.T, url, sql string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), sql).Scan(&n))
	return n
}

func execSQL(t *testing.T, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(t.Context(), sql)
	require.NoError(t, err)
}

func TestFind(t *testing.T) {
	t.Parallel()
	dir, err := pgserver.Find()
	require.NoError(t, err)
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		require.FileExists(t, filepath.Join(dir, name))
	}
}

func TestStartStopKeepsData(t *testing.T) {
	t.Parallel()
	opts := pgserver.Options{DataDir: filepath.Join(tempDir(t), "data"), Fast: true}

	srv, err := pgserver.Start(t.Context(), opts)
	require.NoError(t, err)
	url := srv.URL("postgres")
	require.Equal(t, 1, queryInt(t, url, "SELECT 1"))
	execSQL(t, url, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
	require.NoError(t, srv.Stop(t.Context()))
	require.NoError(t, srv.Stop(t.Context()), "second Stop")

	_, err = pgx.Connect(t.Context(), url)
	require.Error(t, err, "server still accepts connections after Stop")

	srv = start(t, opts)
	require.Equal(t, 42, queryInt(t, srv.URL("postgres"), "SELECT n FROM kept"))
}

func TestStartReusesRunningServer(t *testing.T) {
	t.Parallel()
	opts := pgserver.Options{DataDir: filepath.Join(tempDir(t), "data"), Fast: true}
	first := start(t, opts)

	// A second Start, as from a new process after the first was killed.
	second, err := pgserver.Start(t.Context(), opts)
	require.NoError(t, err)
	require.Equal(t, first.URL("postgres"), second.URL("postgres"))
	require.Equal(t, 1, queryInt(t, second.URL("postgres"), "SELECT 1"))
	require.NoError(t, second.Stop(t.Context()))
	// The first handle sees the server gone and has nothing to do.
	require.NoError(t, first.Stop(t.Context()))
}

func TestStartReusesServerWithLongDataDir(t *testing.T) {
	t.Parallel()
	// Too long for <DataDir>-run, so the socket goes to a temp dir that a
	// reusing Start must find through postmaster.pid.
	dataDir := filepath.Join(tempDir(t), strings.Repeat("d", 90))
	opts := pgserver.Options{DataDir: dataDir, Fast: true}
	first := start(t, opts)
	url := first.URL("postgres")
	require.Contains(t, url, "cbpg-")

	second, err := pgserver.Start(t.Context(), opts)
	require.NoError(t, err)
	require.Equal(t, url, second.URL("postgres"))

	_, err = pgserver.Start(t.Context(), pgserver.Options{DataDir: dataDir, SocketDir: "/tmp/elsewhere"})
	require.ErrorContains(t, err, "uses socket dir", "a running server's socket cannot move")
	require.NoError(t, second.Stop(t.Context()))
}

func TestStartAfterCrash(t *testing.T) {
	t.Parallel()
	// Not Fast: with synchronous_commit off, a crash may lose the last commit.
	opts := pgserver.Options{DataDir: filepath.Join(tempDir(t), "data")}
	srv, err := pgserver.Start(t.Context(), opts)
	require.NoError(t, err)
	execSQL(t, srv.URL("postgres"), "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")

	pidFile := filepath.Join(opts.DataDir, "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool { return syscall.Kill(pid, 0) != nil }, 10*time.Second, 20*time.Millisecond)
	require.FileExists(t, pidFile, "the crash leaves a stale postmaster.pid")

	srv = start(t, opts)
	require.Equal(t, 7, queryInt(t, srv.URL("postgres"), "SELECT n FROM kept"))
}

func TestURL(t *testing.T) {
	t.Parallel()
	srv := start(t, pgserver.Options{DataDir: filepath.Join(tempDir(t), "data"), Fast: true})
	cfg, err := pgx.ParseConfig(srv.URL("some_db"))
	require.NoError(t, err)
	require.Equal(t, "some_db", cfg.Database)
	require.Equal(t, "postgres", cfg.User)
	require.Equal(t, uint16(5432), cfg.Port)
	require.True(t, strings.HasPrefix(cfg.Host, "/tmp/cbpgserver-test-"), cfg.Host)
}

func TestStartRejectsMissingDataDir(t *testing.T) {
	t.Parallel()
	_, err := pgserver.Start(t.Context(), pgserver.Options{})
	require.Error(t, err)
}

func TestStartAsRootNeedsTraversableDataDir(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only root hands the data dir to the postgres user")
	}
	closed, err := os.MkdirTemp("/tmp", "cbpgserver-test-") // mode 0700, like /root
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, os.RemoveAll(closed)) })
	_, err = pgserver.Start(t.Context(), pgserver.Options{DataDir: filepath.Join(closed, "data")})
	require.ErrorContains(t, err, "cannot access")
}
