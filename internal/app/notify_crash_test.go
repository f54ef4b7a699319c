package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/pkg/auth/devissuer"
	"github.com/casebridge/casebridge/pkg/pgtest"
	"github.com/casebridge/casebridge/pkg/postgres"
)

// flakyMail is an SMTP server that answers 451 (try later) while down.
type flakyMail struct {
	mu       sync.Mutex
	down     bool
	attempts int
	got      []string // message bodies, per recipient
	to       []string
}

func (m *flakyMail) NewSession(*smtp.Conn) (smtp.Session, error) { return &flakySession{m: m}, nil }

type flakySession struct {
	m  *flakyMail
	to []string
}

func (s *flakySession) Reset()        { s.to = nil }
func (s *flakySession) Logout() error { return nil }
func (s *flakySession) Mail(string, *smtp.MailOptions) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.m.attempts++
	if s.m.down {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	}
	return nil
}
func (s *flakySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *flakySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	for _, to := range s.to {
		s.m.to = append(s.m.to, to)
		s.m.got = append(s.m.got, string(b))
	}
	return nil
}

func (m *flakyMail) mailsTo(rcpt string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for i, to := range m.to {
		if to == rcpt {
			out = append(out, m.got[i])
		}
	}
	return out
}

// TestNotificationSurvivesCrash: the assistance request's submission
// commits with its notification job; the mail server is down, so the
// e-mail is not delivered yet; the process is SIGKILLed; after a restart
// the e-mail is delivered, once.
func TestNotificationSurvivesCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	ctx := context.Background()
	mail := &flakyMail{down: true}
	srv := smtp.NewServer(mail)
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	s := &server{httpAddr: freePort(t), grpcAddr: freePort(t), dbURL: pgtest.NewDatabase(t), dir: t.TempDir(),
		extra: []string{"--smtp-url", "smtp://" + ln.Addr().String(), "--smtp-from", "casebridge@csp.example"}}
	pool, err := postgres.Open(ctx, s.dbURL)
	require.NoError(t, err)
	defer pool.Close()
	_, err = demo.Seed(ctx, pool)
	require.NoError(t, err)
	startProcess(t, s)

	iss, err := devissuer.Load(s.dir)
	require.NoError(t, err)
	tok, err := iss.Mint(devissuer.IssuerURL("http://"+s.httpAddr), "ofc.evans@hartford.example", "ofc.evans@hartford.example", time.Hour)
	require.NoError(t, err)
	post := func(path, body string) map[string]any {
		req, _ := http.NewRequest("POST", "http://"+s.httpAddr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
		var out map[string]any
		require.NoError(t, json.Unmarshal(raw, &out))
		return out
	}
	ref := post("/v1/referrals", `{"kind": "REFERRAL_KIND_ASSISTANCE_REQUEST", "toAgencyId": "`+demo.AgencyID("csp")+`",
		"summary": "Crash test request", "assistanceRequest": {"helpWanted": ["HELP_WANTED_TECHNICAL_ADVICE"],
		"urgency": "URGENCY_ROUTINE", "contact": {"name": "Ofc. Evans", "email": "ofc.evans@hartford.example"}}}`)
	id := ref["id"].(string)
	number := post("/v1/referrals/"+id+":submit", `{}`)["referralNumber"].(string)

	// Committed, not delivered: the mail server refused the first try and
	// the job waits for its retry. (A job killed while running is rescued
	// too, after RescueStuckJobsAfter: pkg/jobs.)
	require.Eventually(t, func() bool {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM river.river_job WHERE kind = 'notify_email' AND state = 'retryable'`).Scan(&n)
		return n > 0
	}, 60*time.Second, 20*time.Millisecond)
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGKILL))
	_ = s.cmd.Wait()
	require.Empty(t, mail.mailsTo("sgt.brooks@csp.example"))
	var pending int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM river.river_job WHERE kind = 'notify_email' AND state <> 'completed'`).Scan(&pending))
	require.NotZero(t, pending, "the e-mail job outlives the process")

	mail.mu.Lock()
	mail.down = false
	mail.mu.Unlock()
	startProcess(t, s)
	require.Eventually(t, func() bool { return len(mail.mailsTo("sgt.brooks@csp.example")) == 1 }, 90*time.Second, 50*time.Millisecond,
		"delivered after the restart")
	body := mail.mailsTo("sgt.brooks@csp.example")[0]
	require.Contains(t, body, number)
	require.NotContains(t, body, "Crash test request")
	time.Sleep(time.Second)
	require.Len(t, mail.mailsTo("sgt.brooks@csp.example"), 1, "once")
	var inbox int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM notify.notifications n JOIN liaison.users u ON u.id = n.user_id
		WHERE u.email = 'sgt.brooks@csp.example' AND n.subject_number = $1`, number).Scan(&inbox))
	require.Equal(t, 1, inbox)
}
