package audit_test

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/apptest"
)

// BenchmarkGetCaseAudited measures GET /v1/cases/{case_id} through the
// gateway with parallel clients, on two systems in one run: one auditing
// every read (group commit, each response waiting for its own record), one
// with the audit interceptor off. It reports both throughputs and their
// ratio (audited / unaudited); ns/op covers both halves.
//
//	go test ./services/audit -run '^$' -bench GetCaseAudited -benchtime 3000x
func BenchmarkGetCaseAudited(b *testing.B) {
	on := start(b)
	off := start(b, func(c *app.Config) { c.DisableAudit = true })
	b.SetParallelism(4) // 4 × GOMAXPROCS concurrent clients

	run := func(s *apptest.System) float64 {
		id := createCase(b, s, detective, "bench")
		tok := s.Token(b, detective)
		url := s.URL + "/v1/cases/" + id
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
		var n, failed atomic.Int64
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				n.Add(1)
			}
		})
		el := time.Since(start)
		if failed.Load() > 0 {
			b.Fatalf("%d requests failed", failed.Load())
		}
		return float64(n.Load()) / el.Seconds()
	}
	b.ResetTimer()
	audited := run(on)
	unaudited := run(off)
	b.ReportMetric(audited, "audited-req/s")
	b.ReportMetric(unaudited, "unaudited-req/s")
	b.ReportMetric(audited/unaudited, "ratio")
}
