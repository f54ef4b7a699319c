package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth/devissuer"
	"github.com/casebridge/casebridge/pkg/pgtest"
	"github.com/casebridge/casebridge/pkg/postgres"
)

// buildBinary compiles cmd/casebridge once per test binary.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "cbbin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "casebridge")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/casebridge/casebridge/cmd/casebridge").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, out)
	}
	return bin, nil
})

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// server is a casebridge process under test.
type server struct {
	cmd             *exec.Cmd
	httpAddr, dbURL string
	grpcAddr, dir   string
	log             *bytes.Buffer
	extra           []string // more flags
}

func startProcess(t *testing.T, s *server) {
	t.Helper()
	bin, err := buildBinary()
	require.NoError(t, err)
	s.log = &bytes.Buffer{}
	s.cmd = exec.Command(bin, append([]string{"serve", "--target=all", "--addr", s.httpAddr, "--grpc-addr", s.grpcAddr,
		"--database-url", s.dbURL, "--dev-issuer", "--data-dir", s.dir, "--log-level", "warn"}, s.extra...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	require.NoError(t, s.cmd.Start())
	t.Cleanup(func() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() })
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + s.httpAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 50*time.Millisecond, "server did not become ready: %s", s.log)
}

// TestCrashDuringCreates SIGKILLs the server in the middle of a burst of
// creates sent with request ids, restarts it, and lets the clients retry
// everything: every acknowledged case exists exactly once, with the id first
// acknowledged, nothing is duplicated, and the audit chains verify.
func TestCrashDuringCreates(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	ctx := context.Background()
	s := &server{httpAddr: freePort(t), grpcAddr: freePort(t), dbURL: pgtest.NewDatabase(t), dir: t.TempDir()}
	pool, err := postgres.Open(ctx, s.dbURL)
	require.NoError(t, err)
	defer pool.Close()
	_, err = demo.Seed(ctx, pool)
	require.NoError(t, err)
	startProcess(t, s)

	iss, err := devissuer.Load(s.dir)
	require.NoError(t, err)
	tok, err := iss.Mint(devissuer.IssuerURL("http://"+s.httpAddr), "det.alvarez@csp.example", "det.alvarez@csp.example", time.Hour)
	require.NoError(t, err)
	client := &http.Client{Timeout: 10 * time.Second}
	create := func(rid string) (string, bool) {
		body := strings.NewReader(`{"title":"burst ` + rid + `"}`)
		req, _ := http.NewRequest("POST", "http://"+s.httpAddr+"/v1/cases?request_id="+rid, body)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			return "", false
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "", false
		}
		var c struct{ ID string }
		if json.NewDecoder(resp.Body).Decode(&c) != nil {
			return "", false
		}
		return c.ID, true
	}

	const total = 300
	rids := make([]string, total)
	for i := range rids {
		rids[i] = uuid.NewString()
	}
	acked := make([]string, total)
	var nAcked atomic.Int32
	var next atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				if id, ok := create(rids[i]); ok {
					acked[i] = id
					nAcked.Add(1)
				}
			}
		})
	}
	require.Eventually(t, func() bool { return nAcked.Load() >= 60 }, 60*time.Second, time.Millisecond)
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGKILL))
	wg.Wait()
	_ = s.cmd.Wait()
	killedAt := nAcked.Load()
	t.Logf("killed after %d acknowledged creates", killedAt)

	startProcess(t, s)
	for i, rid := range rids {
		id, ok := create(rid)
		require.True(t, ok, "retry of %s failed", rid)
		if acked[i] != "" {
			require.Equal(t, acked[i], id, "an acknowledged create came back as another case")
		}
	}
	var cases, keys int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM cases.cases`).Scan(&cases))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM cases.idempotency_keys`).Scan(&keys))
	require.Equal(t, total, cases, "every request id made exactly one case")
	require.Equal(t, total, keys)
	var dupNumbers int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) - count(DISTINCT case_number) FROM cases.cases`).Scan(&dupNumbers))
	require.Zero(t, dupNumbers)

	reports, err := audit.VerifyAll(ctx, pool)
	require.NoError(t, err)
	for _, r := range reports {
		require.True(t, r.OK(), "audit chain broken after crash: %s", r)
	}
}
