package reports_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/casebridge/casebridge/internal/apptest"
)

// BenchmarkReportAndSubmit measures a report's way in over HTTP: create the
// draft, then submit it (number, clocks, two triage relations, history and
// audit record in one transaction).
func BenchmarkReportAndSubmit(b *testing.B) {
	s := apptest.Start(b)
	body := ransomware(time.Now().Add(-time.Hour))
	for b.Loop() {
		r := s.Do(b, townReporter, "POST", "/v1/incidentReports", body)
		if r.Status != http.StatusOK {
			b.Fatal(string(r.Raw))
		}
		if r := s.Do(b, townReporter, "POST", "/v1/incidentReports/"+r.Str("id")+":submit", map[string]any{}); r.Status != http.StatusOK {
			b.Fatal(string(r.Raw))
		}
	}
}

// BenchmarkTriageList measures the triage desk's first page (25) over 300
// submitted reports of two organisations, and one report's page.
func BenchmarkTriageList(b *testing.B) {
	s := apptest.Start(b)
	body := ransomware(time.Now().Add(-time.Hour))
	for i := range 300 {
		who := townReporter
		if i%2 == 1 {
			who = schoolReporter
		}
		r := s.Do(b, who, "POST", "/v1/incidentReports", body)
		s.Do(b, who, "POST", "/v1/incidentReports/"+r.Str("id")+":submit", map[string]any{})
	}
	b.Run("list", func(b *testing.B) {
		for b.Loop() {
			if r := s.Do(b, cticAnalyst, "GET", "/v1/incidentReports", nil); len(r.List("reports")) != 25 {
				b.Fatal(string(r.Raw))
			}
		}
	})
	b.Run("list_reporter", func(b *testing.B) {
		for b.Loop() {
			if r := s.Do(b, townReporter, "GET", "/v1/incidentReports", nil); len(r.List("reports")) != 25 {
				b.Fatal(string(r.Raw))
			}
		}
	})
	b.Run("get", func(b *testing.B) {
		id := s.Do(b, cticAnalyst, "GET", "/v1/incidentReports?page_size=1", nil).List("reports")[0]["id"].(string)
		for b.Loop() {
			if r := s.Do(b, cticAnalyst, "GET", "/v1/incidentReports/"+id, nil); r.Status != http.StatusOK {
				b.Fatal(string(r.Raw))
			}
		}
	})
}
