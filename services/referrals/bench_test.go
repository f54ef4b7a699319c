package referrals_test

import (
	"net/http"
	"testing"

	"github.com/casebridge/casebridge/internal/apptest"
)

// BenchmarkFileAndSubmit measures an assistance request's way in over HTTP:
// create, then submit (the recipient relation, history and audit record in
// one transaction each).
func BenchmarkFileAndSubmit(b *testing.B) {
	s := apptest.Start(b)
	for b.Loop() {
		r := s.Do(b, hartfordOfficer, "POST", "/v1/referrals", assistanceBody())
		if r.Status != http.StatusOK {
			b.Fatal(string(r.Raw))
		}
		if r := s.Do(b, hartfordOfficer, "POST", "/v1/referrals/"+r.Str("id")+":submit", map[string]any{}); r.Status != http.StatusOK {
			b.Fatal(string(r.Raw))
		}
	}
}

// BenchmarkInbox measures the supervisor's work queue (first page of 25)
// and the stats call over 300 submitted requests.
func BenchmarkInbox(b *testing.B) {
	s := apptest.Start(b)
	for range 300 {
		r := s.Do(b, hartfordOfficer, "POST", "/v1/referrals", assistanceBody())
		s.Do(b, hartfordOfficer, "POST", "/v1/referrals/"+r.Str("id")+":submit", map[string]any{})
	}
	b.Run("list", func(b *testing.B) {
		for b.Loop() {
			if r := s.Do(b, cspSupervisor, "GET", "/v1/referrals?view=inbox", nil); len(r.List("referrals")) != 25 {
				b.Fatal(string(r.Raw))
			}
		}
	})
	b.Run("stats", func(b *testing.B) {
		for b.Loop() {
			if r := s.Do(b, cspSupervisor, "GET", "/v1/referrals:stats?view=inbox", nil); r.Status != http.StatusOK {
				b.Fatal(string(r.Raw))
			}
		}
	})
	b.Run("get", func(b *testing.B) {
		id := s.Do(b, cspSupervisor, "GET", "/v1/referrals?view=inbox&page_size=1", nil).List("referrals")[0]["id"].(string)
		for b.Loop() {
			if r := s.Do(b, cspSupervisor, "GET", "/v1/referrals/"+id, nil); r.Status != http.StatusOK {
				b.Fatal(string(r.Raw))
			}
		}
	})
}
