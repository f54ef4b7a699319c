package app_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/pkg/rpc"
)

// FuzzGatewayJSON sends arbitrary bodies through the gateway's JSON decoding
// into CreateCase, UpdateCase and AddParticipant: the answer is 200 or a 4xx,
// never a 5xx, and the process never panics (a recovered panic would be a
// 500). Seeds live in testdata/fuzz/FuzzGatewayJSON.
func FuzzGatewayJSON(f *testing.F) {
	s := apptest.Start(f)
	c := s.Do(f, "det.alvarez@csp.example", "POST", "/v1/cases", map[string]any{"title": "fuzz target"})
	if c.Status != http.StatusOK {
		f.Fatalf("setup: %s", c.Raw)
	}
	id := c.Str("id")
	det, sgt := s.Token(f, "det.alvarez@csp.example"), s.Token(f, "sgt.brooks@csp.example")
	targets := []struct{ method, path, token string }{
		{"POST", "/v1/cases", det},
		{"PATCH", "/v1/cases/" + id, det},
		{"POST", "/v1/cases/" + id + "/participants", sgt},
		{"POST", "/v1/cases/" + id + "/notes", det},
	}
	for _, seed := range []string{
		`{"title":"x"}`, `{"title":""}`, `{}`, `[]`, `null`, `{"title":"x","classification":"CLASSIFICATION_RANSOMWARE"}`,
		`{"title":"x","estimatedLoss":{"currencyCode":"USD","amountMinor":"-1"}}`, `{"title":1e999}`, `{"title":"\u0000"}`,
		`{"etag":"\"x\"","summary":"y"}`, `{"agencyId":"00000000-0000-0000-0000-000000000000","relation":2,"reason":"r"}`,
		`{"body":"` + strings.Repeat("a", 30000) + `"}`, `{"incidentStartTime":"not a time"}`, `{"title":"x"`,
	} {
		f.Add(uint8(0), seed)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	f.Fuzz(func(t *testing.T, target uint8, body string) {
		tg := targets[int(target)%len(targets)]
		req, err := http.NewRequest(tg.method, s.URL+tg.path, strings.NewReader(body))
		if err != nil {
			t.Skip()
		}
		req.Header.Set("Authorization", "Bearer "+tg.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request failed: %v", err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s with %q answered %d: %s", tg.method, tg.path, body, resp.StatusCode, raw)
		}
	})
}

// FuzzGatewayBytes sends arbitrary bytes — invalid UTF-8 included — as a
// path parameter, a query parameter and header values through the gateway:
// the answer is never a 5xx (bad bytes are bad input, refused and audited
// by the service, never an internal marshalling error).
func FuzzGatewayBytes(f *testing.F) {
	s := apptest.Start(f, func(c *app.Config) { c.UserRate, c.AddressRate = &rpc.RateLimit{}, &rpc.RateLimit{} })
	c := s.Do(f, "det.alvarez@csp.example", "POST", "/v1/cases", map[string]any{"title": "fuzz target"})
	if c.Status != http.StatusOK {
		f.Fatalf("setup: %s", c.Raw)
	}
	id := c.Str("id")
	det, sgt := s.Token(f, "det.alvarez@csp.example"), s.Token(f, "sgt.brooks@csp.example")
	// {p} is the fuzzed path segment, {q} the fuzzed query value.
	targets := []struct{ method, path, token string }{
		{"GET", "/v1/cases?filter={q}", det},
		{"GET", "/v1/cases/{p}", det},
		{"GET", "/v1/cases?page_token={q}&page_size=2", det},
		{"GET", "/v1/engagements?view={q}", det},
		{"GET", "/v1/cases/" + id + ":explainAccess?email={q}", sgt},
		{"DELETE", "/v1/cases/" + id + "/participants/{p}?reason={q}", sgt},
		{"GET", "/v1/cases/{p}/audit:csv", sgt},
		{"GET", "/v1/referrals?view={q}&filter={q}", det},
		{"GET", "/v1/audit/events?filter={q}", det},
		{"GET", "/cases/{p}?q={q}", ""},
	}
	for _, seed := range [][3]string{
		{"\xff", "\xff", "\xff"}, {"ok", "%", "Mozilla/5.0"}, {"\xc3\x28", "\xe2\x82", "caf\xc3\xa9"},
		{id, "status = ACTIVE", "x"}, {"\x00", "\x00", "a"}, {strings.Repeat("\xfe", 300), strings.Repeat("\x80", 900), strings.Repeat("\xff", 600)},
	} {
		f.Add(uint8(0), seed[0], seed[1], seed[2])
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	f.Fuzz(func(t *testing.T, target uint8, seg, query, header string) {
		tg := targets[int(target)%len(targets)]
		path := strings.ReplaceAll(tg.path, "{p}", escapeAll(seg))
		path = strings.ReplaceAll(path, "{q}", escapeAll(query))
		req, err := http.NewRequest(tg.method, s.URL+path, nil)
		if err != nil {
			t.Skip()
		}
		if tg.token != "" {
			req.Header.Set("Authorization", "Bearer "+tg.token)
		}
		// HTTP cannot carry control characters in a header; any other byte goes.
		h := strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return -1
			}
			return r
		}, header)
		h = strings.TrimSpace(h)
		if h != "" {
			req.Header.Set("User-Agent", h)
			req.Header.Set("X-Purpose", h)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request failed: %v", err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s (User-Agent %q) answered %d: %s", tg.method, path, h, resp.StatusCode, raw)
		}
	})
}

// escapeAll percent-encodes every byte, so any byte reaches the server.
func escapeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}
