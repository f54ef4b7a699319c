// Package pgtest gives each test a brand-new, fully migrated PostgreSQL
// database, so tests can run in parallel without sharing state.
//
// Migrating once per test would be slow, so the first NewDatabase in a test
// binary makes a template database named after a hash of the migration
// files, and every test database is a cheap CREATE DATABASE … TEMPLATE copy
// of it. The server is the one TEST_DATABASE_URL points at, or else a private
// cluster (see pgserver) that this test binary starts in /tmp and that Main
// stops.
package pgtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/casebridge/casebridge/migrations"
	"github.com/casebridge/casebridge/pkg/pgserver"
)

const (
	// EnvURL names the variable that selects an existing server: a URL of
	// any database on it, used to issue CREATE and DROP DATABASE.
	EnvURL = "TEST_DATABASE_URL"

	modulePath = "github.com/casebridge/casebridge"
	// templateLockKey serialises template creation across the test
	// binaries that `go test ./...` runs at the same time.
	templateLockKey int64 = 0x63625f746d706c // "cb_tmpl"
	setupTimeout          = 3 * time.Minute
)

var (
	mainCalled bool

	// serverMu guards srv and srvDir, which Main reads after the tests.
	serverMu sync.Mutex
	srv      *pgserver.Server
	srvDir   string

	adminURL   = sync.OnceValues(startServer)
	templateDB = sync.OnceValues(func() (string, error) {
		base, err := adminURL()
		if err != nil {
			return "", err
		}
		return ensureTemplate(base)
	})
)

// Main runs the tests of a package that uses NewDatabase, then stops the
// private server if NewDatabase started one, and exits with the tests'
// code. Call it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Without it, NewDatabase would leave a postgres running after the tests,
// so it fails unless TEST_DATABASE_URL is set. A binary killed mid-run (a
// -timeout panic, SIGKILL, a fuzzing worker) leaves its cluster in
// /tmp/cbpgtest-* until the next test binary reaps it (reapStale).
func Main(m *testing.M) {
	mainCalled = true
	code := m.Run()
	if err := stopServer(); err != nil {
		log.Printf("pgtest: %v", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// NewDatabase creates a database with every migration applied and returns
// its URL. The database is dropped, closing any connection left open, when
// the test and its subtests finish.
func NewDatabase(t testing.TB) string {
	t.Helper()
	base, err := adminURL()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	tmpl, err := templateDB()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}

	name := "casebridge_test_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := execAdmin(ctx, base, "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(tmpl)); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := execAdmin(ctx, base, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database: %v", err)
		}
	})
	u, err := withDatabase(base, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return u
}

// startServer returns the URL NewDatabase connects to for CREATE DATABASE:
// TEST_DATABASE_URL, or the private cluster's postgres database.
func startServer() (string, error) {
	if u := os.Getenv(EnvURL); u != "" {
		if _, err := pgx.ParseConfig(u); err != nil {
			return "", fmt.Errorf("%s: %w", EnvURL, err)
		}
		return u, nil
	}
	if !mainCalled {
		return "", fmt.Errorf("set %s, or call pgtest.Main(m) from TestMain so the private server it would start is stopped", EnvURL)
	}
	reapStale()
	dir, err := os.MkdirTemp("/tmp", "cbpgtest-")
	if err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("temp dir: %w", err)
	}
	// When the tests run as root, postgres runs as the postgres user, which
	// must be able to enter the directory (MkdirTemp makes it 0700).
	if err := os.Chmod(dir, 0o711); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("temp dir: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	keepInheritedFilesFromServer()
	s, err := pgserver.Start(ctx, pgserver.Options{DataDir: filepath.Join(dir, "data"), Fast: true})
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	serverMu.Lock()
	srv, srvDir = s, dir
	serverMu.Unlock()
	return s.URL("postgres"), nil
}

// ownerFile names, in a private cluster's directory, the pid of the test
// binary that started it.
const ownerFile = "owner.pid"

// reapStale stops and removes private clusters whose test binary is gone: a
// binary killed by -timeout, by a signal, or a fuzzing worker ended by its
// coordinator never reaches Main's cleanup. The next test binary cleans up
// after it, so clusters do not pile up on a machine. A directory without an
// owner file is left alone for a minute (its owner may be writing it).
func reapStale() {
	dirs, _ := filepath.Glob("/tmp/cbpgtest-*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			if fi, err := os.Stat(d); err != nil || time.Since(fi.ModTime()) < time.Minute {
				continue
			}
		} else if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && alive(pid) {
			continue
		}
		data := filepath.Join(d, "data")
		if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if s, err := pgserver.Start(ctx, pgserver.Options{DataDir: data}); err == nil {
				_ = s.Stop(ctx)
			}
			cancel()
		}
		_ = os.RemoveAll(d)
	}
}

// alive reports whether process pid exists (EPERM: it does, owned by
// someone else).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func stopServer() error {
	serverMu.Lock()
	defer serverMu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.Stop(ctx); err != nil {
		return err // leave the directory to a server that may still use it
	}
	srv = nil
	if err := os.RemoveAll(srvDir); err != nil {
		return fmt.Errorf("remove %s: %w", srvDir, err)
	}
	return nil
}

// ensureTemplate returns the name of the template database for the current
// migrations, creating it if no test binary has yet.
func ensureTemplate(base string) (string, error) {
	hash, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := "casebridge_tmpl_" + hash
	building := name + "_new"

	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	// Closing the session also releases the advisory lock.
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return "", fmt.Errorf("lock template: %w", err)
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look up template: %w", err)
	}
	if exists {
		return name, nil
	}

	// Build under another name and rename at the end, so a binary that
	// died mid-migration never leaves a template that looks complete. The
	// lock makes the leftover safe to drop.
	buildURL, err := withDatabase(base, building)
	if err != nil {
		return "", err
	}
	steps := []func() error{
		func() error { return execConn(ctx, conn, "DROP DATABASE IF EXISTS "+ident(building)+" WITH (FORCE)") },
		func() error { return execConn(ctx, conn, "CREATE DATABASE "+ident(building)) },
		func() error { return migrations.Up(ctx, buildURL) },
		// No one may connect to a template while it is copied (55006), so
		// forbid connections outright; CREATE DATABASE … TEMPLATE still works.
		func() error {
			return execConn(ctx, conn, "ALTER DATABASE "+ident(building)+" WITH ALLOW_CONNECTIONS false IS_TEMPLATE true")
		},
		func() error { return execConn(ctx, conn, "ALTER DATABASE "+ident(building)+" RENAME TO "+ident(name)) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return "", fmt.Errorf("create template %s: %w", name, err)
		}
	}
	return name, nil
}

// migrationsHash returns the first 12 hex digits of a SHA-256 over the
// names and contents of migrations/*.sql, so a changed migration gets a new
// template rather than a stale one.
func migrationsHash() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "migrations")
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return "", fmt.Errorf("migrations: %w", err)
	}
	h := sha256.New()
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".sql" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", fmt.Errorf("migrations: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", e.Name(), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// moduleRoot walks up from the working directory (a test binary runs in
// its package's directory) to the directory whose go.mod declares this
// module, skipping nested modules such as tools/.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for {
		if declaresModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("module root: no go.mod for %s above the working directory", modulePath)
		}
		dir = parent
	}
}

func declaresModule(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == modulePath
		}
	}
	return false
}

// withDatabase returns base with its database replaced by name. net/url
// edits URLs so a socket host in the query (?host=/tmp/…) is left alone;
// keyword/value strings get a trailing dbname, which wins. pgx then checks
// the result names that database on the same server.
func withDatabase(base, name string) (string, error) {
	want, err := pgx.ParseConfig(base)
	if err != nil {
		return "", fmt.Errorf("parse database url: %w", err)
	}
	var out string
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			return "", fmt.Errorf("parse database url: %w", err)
		}
		u.Path, u.RawPath = "/"+name, ""
		q := u.Query()
		if q.Has("dbname") { // a query dbname would override the path
			q.Del("dbname")
			u.RawQuery = q.Encode()
		}
		out = u.String()
	} else {
		out = base + " dbname=" + name
	}
	got, err := pgx.ParseConfig(out)
	if err != nil {
		return "", fmt.Errorf("parse database url: %w", err)
	}
	if got.Database != name || got.Host != want.Host || got.Port != want.Port || got.User != want.User {
		return "", fmt.Errorf("could not point %q at database %s", base, name)
	}
	return out, nil
}

// execAdmin runs one statement on a short-lived connection to base,
// retrying while a database is busy (SQLSTATE 55006, "… is being accessed by
// other users"). Nothing can connect to a finished template, but the
// sessions goose used while migrating it may still be exiting when it is
// renamed, and postgres itself waits only a few seconds for them.
func execAdmin(ctx context.Context, base, sql string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	return execConn(ctx, conn, sql)
}

func execConn(ctx context.Context, conn *pgx.Conn, sql string) error {
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		_, err := conn.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" || attempt == 6 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// keepInheritedFilesFromServer marks the descriptors this process inherited
// beyond stdin, stdout and stderr close-on-exec, so the PostgreSQL server it
// starts does not hold them. A fuzzing worker inherits its pipes to the
// fuzzing coordinator that way; a postmaster holding them keeps the
// coordinator waiting for their end long after the worker is gone, and the
// fuzz run never finishes. Go opens its own files close-on-exec already, so
// marking them again changes nothing.
func keepInheritedFilesFromServer() {
	for fd := 3; fd < 16; fd++ {
		syscall.CloseOnExec(fd)
	}
}
