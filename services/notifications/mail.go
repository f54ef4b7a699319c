package notifications

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"text/template"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/google/uuid"

	"github.com/casebridge/casebridge/pkg/notify"
)

// Mailer sends e-mail over SMTP (--smtp-url):
//
//	smtps://user:pass@host:465             implicit TLS
//	smtp+starttls://user:pass@host:587     STARTTLS, required
//	smtp://host:25                         plain: only for a relay on the same host or network
//
// Credentials, when given, are sent with AUTH PLAIN, and only over TLS
// (or to a loopback relay). --smtp-from is the sender address.
type Mailer struct {
	addr, host, mode, user, pass, from string
	tls                                *tls.Config
}

// NewMailer parses rawURL. from is the From address.
func NewMailer(rawURL, from string, tlsConfig *tls.Config) (*Mailer, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("--smtp-url: %w", err)
	}
	m := &Mailer{host: u.Hostname(), mode: u.Scheme, from: from, tls: tlsConfig}
	port := u.Port()
	switch u.Scheme {
	case "smtps":
		port = cmpOr(port, "465")
	case "smtp+starttls":
		port = cmpOr(port, "587")
	case "smtp":
		port = cmpOr(port, "25")
	default:
		return nil, fmt.Errorf("--smtp-url: scheme must be smtp, smtp+starttls or smtps, not %q", u.Scheme)
	}
	if m.host == "" {
		return nil, errors.New("--smtp-url: no host")
	}
	if from == "" {
		return nil, errors.New("--smtp-from is required with --smtp-url")
	}
	m.addr = net.JoinHostPort(m.host, port)
	if u.User != nil {
		m.user = u.User.Username()
		m.pass, _ = u.User.Password()
	}
	if m.tls == nil {
		m.tls = &tls.Config{ServerName: m.host, MinVersion: tls.VersionTLS12}
	}
	return m, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (m *Mailer) dial() (*smtp.Client, error) {
	switch m.mode {
	case "smtps":
		return smtp.DialTLS(m.addr, m.tls)
	case "smtp+starttls":
		return smtp.DialStartTLS(m.addr, m.tls)
	}
	return smtp.Dial(m.addr)
}

// send delivers msg to one recipient.
func (m *Mailer) send(ctx context.Context, to string, msg []byte) error {
	type result struct{ err error }
	done := make(chan result, 1)
	go func() {
		c, err := m.dial()
		if err != nil {
			done <- result{fmt.Errorf("smtp dial %s: %w", m.addr, err)}
			return
		}
		defer c.Close()
		if m.user != "" {
			_, isTLS := c.TLSConnectionState()
			if !isTLS && !isLoopbackHost(m.host) {
				done <- result{errors.New("smtp: refusing to send credentials without TLS")}
				return
			}
			if err := c.Auth(sasl.NewPlainClient("", m.user, m.pass)); err != nil {
				done <- result{fmt.Errorf("smtp auth: %w", err)}
				return
			}
		}
		if err := c.SendMail(m.from, []string{to}, bytes.NewReader(msg)); err != nil {
			done <- result{fmt.Errorf("smtp send: %w", err)}
			return
		}
		done <- result{c.Quit()}
	}()
	select {
	case r := <-done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// mailTemplate is the body of every notification e-mail; only the event's
// line, the number and the link vary (per event through notify.Types).
// Content is minimal and safe for an unclassified mail system: no case
// content, notes or names — sign in to see the rest.
var mailTemplate = template.Must(template.New("mail").Parse(`{{.Title}}

{{.Kind}}: {{.Number}}
Open it in Casebridge (sign-in required): {{.Link}}

This message carries no case information by design. You receive it because
of your role in your agency; choose which events reach you by e-mail at
{{.Prefs}}.
`))

// compose builds the RFC 5322 message for a.
func (m *Mailer) compose(a emailArgs, publicURL string) ([]byte, error) {
	spec, ok := notify.Lookup(a.Type)
	if !ok {
		return nil, fmt.Errorf("unknown event type %q", a.Type)
	}
	title := fmt.Sprintf(spec.Title, a.Number)
	kind := "Reference"
	switch {
	case strings.HasPrefix(string(a.Type), "referral."):
		kind = "Referral"
	case strings.HasPrefix(string(a.Type), "case."):
		kind = "Case"
	case strings.HasPrefix(string(a.Type), "evidence."):
		kind = "Exhibit"
	case strings.HasPrefix(string(a.Type), "agreement."):
		kind = "Agreement"
	}
	var body bytes.Buffer
	if err := mailTemplate.Execute(&body, map[string]string{"Title": title, "Kind": kind, "Number": a.Number,
		"Link": publicURL + a.Link, "Prefs": publicURL + "/notifications/preferences"}); err != nil {
		return nil, err
	}
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "From: %s\r\nTo: %s\r\nSubject: [Casebridge] %s\r\nDate: %s\r\nMessage-ID: <%s@casebridge>\r\n",
		m.from, a.To, oneLine(title), time.Now().UTC().Format(time.RFC1123Z), uuid.NewSHA1(uuid.NameSpaceOID, []byte(a.EventID+a.To)))
	fmt.Fprintf(&msg, "X-Casebridge-Event: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", a.Type)
	msg.WriteString(strings.ReplaceAll(body.String(), "\n", "\r\n"))
	return msg.Bytes(), nil
}

func oneLine(s string) string { return strings.NewReplacer("\r", " ", "\n", " ").Replace(s) }
