package pgtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/pkg/pgserver"
)

// A cluster left behind by a test binary that died is stopped and removed
// by the next one.
func TestReapStaleClusters(t *testing.T) {
	dir, err := os.MkdirTemp("/tmp", "cbpgtest-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o711))
	// Owned by this (live) process while it starts, so that another test
	// binary's reaper running at the same moment leaves it alone…
	require.NoError(t, os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644))
	s, err := pgserver.Start(context.Background(), pgserver.Options{DataDir: filepath.Join(dir, "data"), Fast: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop(context.Background()); _ = os.RemoveAll(dir) })
	// …then handed to a process that has exited.
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	require.NoError(t, os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644))

	reapStale()
	_, err = os.Stat(dir)
	require.True(t, os.IsNotExist(err), "stale cluster directory still there")
	_, err = pgx.Connect(context.Background(), s.URL("postgres"))
	require.Error(t, err, "stale cluster still running")
}
