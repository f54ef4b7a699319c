package app_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/internal/apptest"
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
