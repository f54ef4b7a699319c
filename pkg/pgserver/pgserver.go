// Package pgserver owns a private PostgreSQL cluster run from the server
// binaries installed on the machine (initdb, pg_ctl, postgres). `casebridge
// dev` keeps one under the user's data directory and reuses it on the next run;
// pgtest starts a throwaway one per test binary.
//
// The cluster listens on a Unix socket only (never TCP), so it cannot collide
// with a system PostgreSQL on port 5432 or be reached from the network, and it
// trusts every local connection as the "postgres" superuser: the socket
// directory is mode 0700, so only its owner (and root) can connect.
//
// PostgreSQL refuses to run as root. When the caller is root, the binaries run
// as the "postgres" OS user through runuser(1), and the data directory, socket
// directory and log file are chowned to it. The data directory's parents must
// then be traversable by that user: it cannot live under /root (mode 0700).
package pgserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// port is part of the socket file name (.s.PGSQL.5432); with no TCP
	// listener it cannot clash with another server.
	port = 5432
	// osUser runs the binaries when the caller is root.
	osUser = "postgres"
	// superuser is the database role initdb creates.
	superuser = "postgres"
	// maxSocketDir keeps <dir>/.s.PGSQL.5432 well under the 107 bytes of
	// sockaddr_un.sun_path; postgres refuses longer socket paths.
	maxSocketDir = 80
	// tempSocketPrefix names socket directories made under /tmp when the
	// preferred one would be too long.
	tempSocketPrefix = "cbpg-"
)

// Options configures Start.
type Options struct {
	// DataDir holds the cluster; it is created and initialised with initdb
	// when it has no PG_VERSION file. When running as root it must be
	// reachable by the "postgres" OS user (not under /root).
	DataDir string
	// SocketDir is where the server puts its Unix socket. Default:
	// "<DataDir>-run" if that path is short enough, else a new directory
	// /tmp/cbpg-* that Stop removes.
	SocketDir string
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
	// LogFile receives the server's own log. Default: <DataDir>/postgres.log.
	LogFile string
	// Fast turns off fsync, synchronous_commit and full_page_writes: a crash
	// of the machine can then corrupt the cluster, which is fine for tests
	// and not for a dev database. It applies only when Start starts the
	// server, not when it reuses a running one.
	Fast bool
}

// Server is a running cluster. Its methods are safe for concurrent use.
type Server struct {
	run       runner
	dataDir   string
	socketDir string
	port      int
	// ownsSocketDir is set when the socket directory is a temp dir that Stop
	// removes.
	ownsSocketDir bool
	logger        *slog.Logger
	// reused is set when Start adopted an already running server.
	reused bool

	mu      sync.Mutex
	stopped bool
}

// Start starts the cluster in opts.DataDir, creating it first if needed, and
// waits until it accepts connections.
//
// If a server is already running on the data directory (a previous process
// was killed before it could stop it, or is still using it), Start reuses it:
// it reads the socket directory and port from postmaster.pid rather than
// starting a second postmaster. This fails only if opts.SocketDir is set and
// differs from the running server's, or the server has no Unix socket. The
// returned Server then owns that cluster: its Stop stops it. A stale
// postmaster.pid left by a crash does not block Start; postgres removes it.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("pgserver: Options.DataDir is required")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	binDir, err := Find()
	if err != nil {
		return nil, err
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgserver: data dir: %w", err)
	}
	r, err := newRunner(binDir)
	if err != nil {
		return nil, err
	}
	s := &Server{run: r, dataDir: dataDir, port: port, logger: logger}

	initialised, err := s.prepareDataDir(ctx)
	if err != nil {
		return nil, err
	}
	if initialised {
		running, err := s.running(ctx)
		if err != nil {
			return nil, err
		}
		if running {
			s.reused = true
			return s, s.reuse(ctx, opts.SocketDir)
		}
	} else {
		logger.Info("initialising postgres cluster", "data_dir", dataDir)
		if _, err := r.pg(ctx, "initdb", "-D", dataDir, "-U", superuser,
			"--auth=trust", "--encoding=UTF8", "--no-locale"); err != nil {
			return nil, fmt.Errorf("pgserver: initdb: %w", err)
		}
	}

	if err := s.prepareSocketDir(ctx, opts.SocketDir); err != nil {
		return nil, err
	}
	logFile, err := s.prepareLogFile(opts.LogFile)
	if err != nil {
		s.removeTempSocketDir()
		return nil, err
	}
	pgOpts := fmt.Sprintf("-c listen_addresses='' -k %s -p %d", shellQuote(s.socketDir), s.port)
	if opts.Fast {
		pgOpts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	logger.Info("starting postgres", "data_dir", dataDir, "socket_dir", s.socketDir, "log_file", logFile)
	if _, err := r.pg(ctx, "pg_ctl", "start", "-D", dataDir, "-w", "-t", "120",
		"-l", logFile, "-o", pgOpts); err != nil {
		s.removeTempSocketDir()
		return nil, fmt.Errorf("pgserver: pg_ctl start: %w; end of %s:\n%s", err, logFile, tail(logFile, 2048))
	}
	return s, nil
}

// URL returns a pgx-compatible URL for database dbname as the superuser,
// through the Unix socket.
// Reused reports whether Start adopted a server that was already running
// (for example the cluster of a `casebridge dev` in another terminal) rather
// than starting it. Callers that merely visit such a cluster should not Stop
// it.
func (s *Server) Reused() bool { return s.reused }

func (s *Server) URL(dbname string) string {
	u := url.URL{
		Scheme: "postgres",
		User:   url.User(superuser),
		Path:   "/" + dbname,
		RawQuery: url.Values{
			"host":    {s.socketDir},
			"port":    {strconv.Itoa(s.port)},
			"sslmode": {"disable"},
		}.Encode(),
	}
	return u.String()
}

// Stop shuts the server down (pg_ctl stop -m fast: open sessions are
// terminated) and removes a temp socket directory Start created. Calling it
// again after it succeeded, or on a server somebody else stopped, returns nil;
// after a failure it tries again.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	running, err := s.running(ctx)
	if err != nil {
		return err
	}
	if running {
		s.logger.Info("stopping postgres", "data_dir", s.dataDir)
		if _, err := s.run.pg(ctx, "pg_ctl", "stop", "-D", s.dataDir, "-m", "fast", "-w", "-t", "120"); err != nil {
			return fmt.Errorf("pgserver: pg_ctl stop: %w", err)
		}
	}
	s.stopped = true
	s.removeTempSocketDir()
	return nil
}

// prepareDataDir creates the data directory if needed and, as root, hands an
// uninitialised one to the postgres user and checks that user can reach it.
// It reports whether the directory already holds a cluster.
func (s *Server) prepareDataDir(ctx context.Context) (initialised bool, err error) {
	_, err = os.Stat(filepath.Join(s.dataDir, "PG_VERSION"))
	switch {
	case err == nil:
		initialised = true
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(s.dataDir, 0o700); err != nil {
			return false, fmt.Errorf("pgserver: create data dir: %w", err)
		}
		// Only an empty, fresh directory is chowned: an existing cluster
		// already belongs to whoever initialised it.
		if err := s.run.chown(s.dataDir); err != nil {
			return false, err
		}
	default:
		return false, fmt.Errorf("pgserver: data dir: %w", err)
	}
	if err := s.run.checkAccess(ctx, s.dataDir); err != nil {
		return false, err
	}
	return initialised, nil
}

// prepareSocketDir picks, creates and (as root) chowns the socket directory.
func (s *Server) prepareSocketDir(ctx context.Context, want string) error {
	dir := want
	if dir == "" {
		dir = s.dataDir + "-run"
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("pgserver: socket dir: %w", err)
	}
	switch {
	case len(dir) <= maxSocketDir:
		err = os.MkdirAll(dir, 0o700)
		if err == nil {
			err = s.run.chown(dir)
		}
		if err == nil {
			err = s.run.checkAccess(ctx, dir)
		}
		if err == nil {
			s.socketDir = dir
			return nil
		}
		if want != "" {
			return fmt.Errorf("pgserver: socket dir: %w", err)
		}
		// The default location is only a preference; fall back to /tmp.
	case want != "":
		return fmt.Errorf("pgserver: socket dir %q is longer than %d bytes; postgres cannot bind a socket there", dir, maxSocketDir)
	}
	dir, err = os.MkdirTemp("/tmp", tempSocketPrefix)
	if err != nil {
		return fmt.Errorf("pgserver: socket dir: %w", err)
	}
	s.socketDir, s.ownsSocketDir = dir, true
	if err := s.run.chown(dir); err != nil {
		s.removeTempSocketDir()
		return err
	}
	return nil
}

// prepareLogFile returns the server log's path; a file outside the data
// directory is created first so the postgres user can append to it.
func (s *Server) prepareLogFile(path string) (string, error) {
	if path == "" {
		return filepath.Join(s.dataDir, "postgres.log"), nil
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("pgserver: log file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("pgserver: log file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("pgserver: log file: %w", err)
	}
	return path, s.run.chown(path)
}

func (s *Server) removeTempSocketDir() {
	if s.ownsSocketDir {
		if err := os.RemoveAll(s.socketDir); err != nil {
			s.logger.Warn("remove socket dir", "dir", s.socketDir, "error", err)
		}
	}
}

// running asks pg_ctl whether a postmaster is alive on the data directory.
func (s *Server) running(ctx context.Context) (bool, error) {
	out, err := s.run.pg(ctx, "pg_ctl", "status", "-D", s.dataDir)
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == 3: // no server running
		return false, nil
	default:
		return false, fmt.Errorf("pgserver: pg_ctl status: %w: %s", err, out)
	}
}

// reuse adopts the server already running on the data directory, waiting
// for it to finish starting up if needed.
func (s *Server) reuse(ctx context.Context, wantSocketDir string) error {
	const wait = 2 * time.Minute
	deadline := time.Now().Add(wait)
	for {
		pid, err := readPIDFile(filepath.Join(s.dataDir, "postmaster.pid"))
		if err != nil {
			return err
		}
		if pid.socketDir == "" {
			return fmt.Errorf("pgserver: the server running on %s has no Unix socket; stop it with pg_ctl", s.dataDir)
		}
		if wantSocketDir != "" {
			want, err := filepath.Abs(wantSocketDir)
			if err != nil {
				return fmt.Errorf("pgserver: socket dir: %w", err)
			}
			if filepath.Clean(pid.socketDir) != want {
				return fmt.Errorf("pgserver: the server running on %s uses socket dir %s, not %s; stop it with pg_ctl", s.dataDir, pid.socketDir, want)
			}
		}
		if pid.status == "ready" {
			s.socketDir, s.port = pid.socketDir, pid.port
			s.ownsSocketDir = filepath.Dir(pid.socketDir) == "/tmp" && strings.HasPrefix(filepath.Base(pid.socketDir), tempSocketPrefix)
			s.logger.Info("reusing running postgres", "data_dir", s.dataDir, "socket_dir", s.socketDir)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgserver: the server running on %s is still %q after %s", s.dataDir, pid.status, wait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgserver: waiting for running server: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// pidFile is what reuse needs from postmaster.pid, whose lines are: pid,
// data dir, start time, port, first socket dir, listen address, shared
// memory key, status.
type pidFile struct {
	port      int
	socketDir string
	status    string
}

func readPIDFile(path string) (pidFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return pidFile{}, fmt.Errorf("pgserver: read postmaster.pid: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 5 {
		return pidFile{}, fmt.Errorf("pgserver: %s is incomplete", path)
	}
	p, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil {
		return pidFile{}, fmt.Errorf("pgserver: %s: port: %w", path, err)
	}
	f := pidFile{port: p, socketDir: strings.TrimSpace(lines[4])}
	if len(lines) > 7 {
		f.status = strings.TrimSpace(lines[7])
	}
	return f, nil
}

// Find returns the directory holding initdb, pg_ctl and postgres: the one
// on PATH, else `pg_config --bindir`, else the newest
// /usr/lib/postgresql/<version>/bin (Debian puts the server binaries there,
// off PATH).
func Find() (binDir string, err error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if dir, err := filepath.Abs(filepath.Dir(p)); err == nil && hasServerBinaries(dir) {
			return dir, nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); hasServerBinaries(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		return versionLess(filepath.Base(filepath.Dir(dirs[j])), filepath.Base(filepath.Dir(dirs[i])))
	})
	for _, dir := range dirs {
		if hasServerBinaries(dir) {
			return dir, nil
		}
	}
	return "", errors.New("pgserver: initdb, pg_ctl and postgres not found together on PATH, " +
		"in `pg_config --bindir` or in /usr/lib/postgresql/*/bin; install the PostgreSQL server package")
}

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// versionLess compares dotted versions ("9.6" < "15") numerically.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

// runner runs the server binaries, as the postgres OS user when the caller
// is root (initdb and postgres refuse to run as root).
type runner struct {
	binDir string
	// asUser is set only when running as root.
	asUser   string
	uid, gid int
}

func newRunner(binDir string) (runner, error) {
	r := runner{binDir: binDir}
	if os.Geteuid() != 0 {
		return r, nil
	}
	u, err := user.Lookup(osUser)
	if err != nil {
		return r, fmt.Errorf("pgserver: running as root needs the %q OS user to run postgres: %w", osUser, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return r, fmt.Errorf("pgserver: uid of %s: %w", osUser, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return r, fmt.Errorf("pgserver: gid of %s: %w", osUser, err)
	}
	r.asUser, r.uid, r.gid = osUser, uid, gid
	return r, nil
}

func (r runner) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	if r.asUser != "" {
		args = append([]string{"-u", r.asUser, "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	// The postgres user may not be able to enter the caller's working
	// directory; every path we pass is absolute.
	cmd.Dir = "/"
	// pg_ctl starts postgres in its own session with output redirected to
	// the log file, so nothing should hold our pipes; this is a backstop.
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// pg runs one of the server binaries and returns its combined output; the
// error carries that output, since it is where initdb and pg_ctl explain.
func (r runner) pg(ctx context.Context, bin string, args ...string) (string, error) {
	out, err := r.command(ctx, filepath.Join(r.binDir, bin), args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", bin, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// chown gives path to the postgres user when running as root.
func (r runner) chown(path string) error {
	if r.asUser == "" {
		return nil
	}
	if err := os.Chown(path, r.uid, r.gid); err != nil {
		return fmt.Errorf("pgserver: chown %s to %s: %w", path, r.asUser, err)
	}
	return nil
}

// checkAccess fails if the postgres user cannot write to dir, typically
// because a parent directory (such as /root) is not traversable by it.
func (r runner) checkAccess(ctx context.Context, dir string) error {
	if r.asUser == "" {
		return nil
	}
	if out, err := r.command(ctx, "test", "-w", dir, "-a", "-x", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("pgserver: the %q OS user cannot access %s; every parent directory must be traversable by it "+
			"(e.g. not under /root): %w %s", r.asUser, dir, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// shellQuote quotes s for the /bin/sh command line pg_ctl builds from -o.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// tail returns up to the last n bytes of the file at path, for error
// messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		if _, err := f.Seek(-n, io.SeekEnd); err != nil {
			return "(" + err.Error() + ")"
		}
	}
	b, _ := io.ReadAll(io.LimitReader(f, n))
	return strings.TrimSpace(string(b))
}
