package audit_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/pkg/rpc"
	auditsvc "github.com/casebridge/casebridge/services/audit"
)

func noRateLimits(c *app.Config) {
	c.UserRate, c.AddressRate = &rpc.RateLimit{}, &rpc.RateLimit{}
}

// A user with no access fills the case's disclosure report with 5,000
// denied reads carrying long headers; the CSV report still downloads in
// full (it was one gRPC message, and answered 429 past 4 MiB), and the
// header-derived fields keep their documented lengths (user agent 300
// bytes, purpose 500).
func TestCSVReportAfterManyDeniedReadsWithLongHeaders(t *testing.T) {
	t.Parallel()
	s := start(t, noRateLimits)
	id := createCase(t, s, detective, "flooded")
	const denied = 5000
	ua := "Flood/1.0 " + strings.Repeat("u", 2000)
	purpose := strings.Repeat("p", 4000)
	tok := "Bearer " + s.Token(t, hartford)
	var wg sync.WaitGroup
	errs := make(chan error, denied)
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				req, _ := http.NewRequest("GET", s.URL+"/v1/cases/"+id, nil)
				req.Header.Set("Authorization", tok)
				req.Header.Set("User-Agent", ua)
				req.Header.Set("X-Purpose", purpose)
				resp, err := s.HTTPClient().Do(req)
				if err != nil {
					errs <- err
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound {
					errs <- &statusErr{resp.StatusCode}
				}
			}
		}()
	}
	for i := range denied {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	for _, path := range []string{"/v1/cases/" + id + "/audit:csv", "/v1/cases/" + id + "/audit"} {
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+s.Token(t, auditor))
		req.Header.Set("Accept", "text/csv")
		resp, err := s.HTTPClient().Do(req)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
		recs, err := csv.NewReader(resp.Body).ReadAll()
		resp.Body.Close()
		require.NoError(t, err, "a complete CSV document")
		require.Equal(t, "time", recs[0][0])
		var hart int
		for _, rec := range recs[1:] {
			if rec[3] == hartford {
				hart++
				require.Equal(t, "DENIED", rec[7])
				require.Len(t, rec[14], 300, "user agent truncated to 300 bytes")
				require.Len(t, rec[11], 500, "purpose truncated to 500 bytes")
			}
		}
		require.Equal(t, denied, hart, path)
		require.Equal(t, "CreateCase", recs[1][6], "oldest first")
	}
}

// The 100,000-row cap is real: a report of exactly the cap downloads
// whole, one row more answers 400 FAILED_PRECONDITION before any byte of
// CSV. Rows are inserted straight into the table (a chain of its own, not
// hash-valid: this test is about the report, not the chain).
func TestCSVReportCap(t *testing.T) {
	t.Parallel()
	s := start(t)
	id := createCase(t, s, detective, "capped")
	fill(t, s, id, auditsvc.MaxExportRows-1) // + the CreateCase record = the cap
	body, status := download(t, s, id)
	require.Equal(t, http.StatusOK, status, body[:min(len(body), 300)])
	require.Equal(t, auditsvc.MaxExportRows+1, strings.Count(body, "\n"), "header and every row")

	fill(t, s, id, 1)
	body, status = download(t, s, id)
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Contains(t, body, "FAILED_PRECONDITION")
}

// A download that lasts longer than the HTTP read and write timeouts is not
// cut: the export moves the write deadline on chunk by chunk (net/http
// itself lifts the read deadline once the request is read). The client
// reads slowly on purpose.
func TestCSVReportOutlastsHTTPTimeouts(t *testing.T) {
	t.Parallel()
	setup := start(t)
	id := createCase(t, setup, detective, "slow reader")
	fill(t, setup, id, 20_000)
	// The same database behind a gateway with tight timeouts.
	const timeout = 200 * time.Millisecond
	s := apptest.StartOn(t, setup.DatabaseURL, func(c *app.Config) {
		c.DBRole = "casebridge_app"
		c.HTTP.ReadTimeout, c.HTTP.WriteTimeout = timeout, timeout
	})
	tok := "Bearer " + s.Token(t, auditor)
	get := func(path string) (*http.Response, error) {
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		req.Header.Set("Authorization", tok)
		return s.HTTPClient().Do(req)
	}
	// Warm up (the first call discovers the token issuer).
	require.Eventually(t, func() bool {
		resp, err := get("/v1/cases/" + id + "/audit?page_size=1")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond)

	resp, err := get("/v1/cases/" + id + "/audit:csv")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	begin := time.Now()
	var got strings.Builder
	buf := make([]byte, 256<<10)
	for {
		n, err := resp.Body.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "cut after %v", time.Since(begin))
		time.Sleep(20 * time.Millisecond)
	}
	require.Greater(t, time.Since(begin), 2*timeout, "the download outlasted the timeouts")
	recs, err := csv.NewReader(strings.NewReader(got.String())).ReadAll()
	require.NoError(t, err)
	filler := 0
	for _, r := range recs {
		if r[3] == "filler@example.org" {
			filler++
		}
	}
	require.Equal(t, 20_000, filler, "every row")
}

// fill inserts n records about caseID into a chain of their own.
func fill(t testing.TB, s *apptest.System, caseID string, n int) {
	t.Helper()
	chain := uuid.NewString()
	_, err := s.Pool.Exec(context.Background(), `
		INSERT INTO audit.events (agency_id, seq, id, event_time, request_id, user_email, agency_ori, client_addr,
			user_agent, service, method, action, resource_type, resource_id, case_id, outcome, status_code, purpose,
			prev_hash, hash)
		SELECT $1::uuid, g, gen_random_uuid(), now() - interval '1 second' + g * interval '1 microsecond', gen_random_uuid()::text,
			'filler@example.org', 'CT0000000', '192.0.2.1', repeat('a', 300), 'casebridge.cases.v1.CaseService',
			'GetCase', 'GetCase', 'case', $2::text, $2::uuid, 'DENIED', 'NotFound', repeat('p', 200), '\x00', '\x00'
		FROM generate_series(1, $3) g`, chain, caseID, n)
	require.NoError(t, err)
}

func download(t testing.TB, s *apptest.System, caseID string) (string, int) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/v1/cases/"+caseID+"/audit:csv", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token(t, auditor))
	resp, err := s.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(raw), resp.StatusCode
}

// BenchmarkExportCSV downloads disclosure reports of 10,000 and 100,000
// rows (about 7.5 and 75 MB of CSV) through the gateway, reading each as a
// stream, and reports the process's peak heap growth during a download
// (services, gateway and client share the process): the same for both
// sizes, since the gateway forwards chunk by chunk and the service builds
// one chunk (≤ 3 MiB) at a time.
//
//	go test ./services/audit -run '^$' -bench ExportCSV -benchtime 3x
func BenchmarkExportCSV(b *testing.B) {
	s := start(b, noRateLimits)
	tok := "Bearer " + s.Token(b, auditor)
	for _, rows := range []int{10_000, auditsvc.MaxExportRows} {
		id := createCase(b, s, detective, "big")
		fill(b, s, id, rows-1000) // room for the downloads' own records
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			var peak uint64
			for range b.N {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				base := ms.HeapInuse
				done := make(chan struct{})
				sampled := make(chan struct{})
				go func() {
					defer close(sampled)
					// ReadMemStats stops the world: sample, do not spin.
					tick := time.NewTicker(20 * time.Millisecond)
					defer tick.Stop()
					var m runtime.MemStats
					for {
						select {
						case <-done:
							return
						case <-tick.C:
						}
						runtime.ReadMemStats(&m)
						if m.HeapInuse > base && m.HeapInuse-base > peak {
							peak = m.HeapInuse - base
						}
					}
				}()
				req, _ := http.NewRequest("GET", s.URL+"/v1/cases/"+id+"/audit:csv", nil)
				req.Header.Set("Authorization", tok)
				resp, err := s.HTTPClient().Do(req)
				require.NoError(b, err)
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				close(done)
				<-sampled
				require.NoError(b, err)
				require.Equal(b, http.StatusOK, resp.StatusCode)
				b.SetBytes(n)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}

type statusErr struct{ code int }

func (e *statusErr) Error() string { return http.StatusText(e.code) }
