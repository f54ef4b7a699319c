package notifications

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// SignatureHeader carries a delivery's signature.
const SignatureHeader = "Casebridge-Signature"

// Sign returns the Casebridge-Signature value for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 over "<t>.<body>">". Receivers
// recompute it with their secret and reject old timestamps (replays).
func Sign(secret string, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// errForbiddenTarget: the webhook URL resolves to an address outside the
// allowed ones (loopback, private, link-local, ...).
var errForbiddenTarget = errors.New("webhook target address not allowed")

type permanentError struct{ error }

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// hookClient posts deliveries. Unless allowPrivate, it refuses to connect
// to loopback, private, link-local, multicast or unspecified addresses —
// checked on the address actually dialled, so DNS cannot point a public
// name at an internal service (no SSRF).
type hookClient struct {
	http         *http.Client
	allowPrivate bool
}

func newHookClient(allowPrivate bool) *hookClient {
	h := &hookClient{allowPrivate: allowPrivate}
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return err
		}
		if !publicAddr(ap.Addr()) {
			return fmt.Errorf("%w: %s", errForbiddenTarget, ap.Addr())
		}
		return nil
	}}
	h.http = &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{DialContext: dialer.DialContext, ForceAttemptHTTP2: true,
			TLSHandshakeTimeout: 10 * time.Second, MaxIdleConnsPerHost: 2},
		// Redirects are not followed: a receiver answers where it was registered.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return h
}

func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && !a.IsLoopback() && !a.IsPrivate() && !a.IsLinkLocalUnicast() && !a.IsLinkLocalMulticast() &&
		!a.IsMulticast() && !a.IsUnspecified() && !a.IsInterfaceLocalMulticast() &&
		!netip.MustParsePrefix("100.64.0.0/10").Contains(a) // carrier-grade NAT
}

// validateURL checks a webhook URL when it is registered: http(s), a host,
// and, for literal addresses, an allowed one (names are checked when
// dialled).
func (h *hookClient) validateURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("must be an http or https URL")
	}
	if u.User != nil {
		return errors.New("must not carry credentials (use the secret)")
	}
	if h.allowPrivate {
		return nil
	}
	host := u.Hostname()
	if host == "localhost" {
		return errors.New("must not point at a loopback address (the server runs without --webhook-allow-private)")
	}
	if a, err := netip.ParseAddr(host); err == nil && !publicAddr(a) {
		return errors.New("must not point at a loopback, private or link-local address (the server runs without --webhook-allow-private)")
	}
	return nil
}

// post sends body signed with secret; it returns the HTTP status (0 when
// no answer came) and an error unless the receiver answered 2xx.
func (h *hookClient) post(ctx context.Context, target, secret string, body []byte, now time.Time) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, permanentError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Casebridge-Webhook/1")
	req.Header.Set(SignatureHeader, Sign(secret, body, now))
	resp, err := h.http.Do(req)
	if err != nil {
		if errors.Is(err, errForbiddenTarget) {
			return 0, permanentError{err}
		}
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("receiver answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}
