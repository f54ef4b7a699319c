package notifications_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
)

// mailbox is a real SMTP server in the test process that keeps every
// message it receives.
type mailbox struct {
	addr string
	mu   sync.Mutex
	msgs []mail
}

type mail struct {
	From string
	To   []string
	Data string
}

func newMailbox(t testing.TB) *mailbox {
	t.Helper()
	mb := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{mb: mb}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	mb.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return mb
}

// to returns the messages received for rcpt.
func (mb *mailbox) to(rcpt string) []mail {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	var out []mail
	for _, m := range mb.msgs {
		for _, r := range m.To {
			if strings.EqualFold(r, rcpt) {
				out = append(out, m)
			}
		}
	}
	return out
}

func (mb *mailbox) all() []mail {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]mail(nil), mb.msgs...)
}

type session struct {
	mb   *mailbox
	from string
	to   []string
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, mail{From: s.from, To: s.to, Data: string(b)})
	s.mb.mu.Unlock()
	return nil
}

// receiver is an agency's webhook endpoint: it verifies every delivery's
// signature with the secret, answers 500 to the first failFirst requests,
// and keeps the events it accepted.
type receiver struct {
	URL       string
	secret    string
	failFirst int
	mu        sync.Mutex
	requests  int
	badSig    int
	events    []map[string]any
}

func newReceiver(t *testing.T, secret string, failFirst int) *receiver {
	t.Helper()
	rc := &receiver{secret: secret, failFirst: failFirst}
	srv := httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL + "/hooks/casebridge"
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if !verify(rc.secret, r.Header.Get("Casebridge-Signature"), body) {
		rc.badSig++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if rc.requests <= rc.failFirst {
		http.Error(w, "try later", http.StatusInternalServerError)
		return
	}
	var ev map[string]any
	_ = json.Unmarshal(body, &ev)
	rc.events = append(rc.events, ev)
	w.WriteHeader(http.StatusNoContent)
}

// verify checks "t=<unix>,v1=<hex>" as a receiver would: recompute the
// HMAC-SHA256 of "<t>.<body>" and refuse timestamps older than 5 minutes.
func verify(secret, header string, body []byte) bool {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)) > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(sig))
}

func (rc *receiver) got() []map[string]any {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]map[string]any(nil), rc.events...)
}

func (rc *receiver) stats() (requests, badSig int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests, rc.badSig
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// addAdminHook registers a webhook for an agency without a demo admin
// straight in its table (fixture only: the API path is tested with CSP's
// admin).
func addAdminHook(t *testing.T, s *apptest.System, agency, url string, events []string) string {
	t.Helper()
	id := uuid.NewString()
	if events == nil {
		events = []string{}
	}
	_, err := s.Pool.Exec(t.Context(), `INSERT INTO notify.webhooks (id, agency_id, url, events, secret, active, description,
		create_time, update_time, create_user_email) VALUES ($1, $2, $3, $4, $5, true, 'fixture', now(), now(), 'fixture@example')`,
		id, demo.AgencyID(agency), url, events, secret)
	require.NoError(t, err)
	return id
}
