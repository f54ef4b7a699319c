package reports_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
)

// List ≡ Authorize: for every demo user, the reports listed (across pages)
// are exactly those GetIncidentReport lets them read — drafts, submitted,
// shared and closed reports of both public entities.
func TestListMatchesGet(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	var ids []string
	for i, reporter := range []string{townReporter, schoolReporter, townReporter, schoolReporter, townReporter} {
		body := ransomware(time.Now().Add(-time.Hour))
		body["details"].(map[string]any)["reporter"].(map[string]any)["email"] = reporter
		id := ok(t, s.Do(t, reporter, "POST", "/v1/incidentReports", body)).Str("id")
		ids = append(ids, id)
		if i == 0 {
			continue // stays a draft
		}
		ok(t, s.Do(t, reporter, "POST", "/v1/incidentReports/"+id+":submit", map[string]any{}))
		switch i {
		case 2:
			ok(t, s.Do(t, cticAnalyst, "POST", "/v1/incidentReports/"+id+":share", map[string]any{"agencyId": demo.AgencyID("fbi"), "reason": "wallet"}))
		case 3:
			ok(t, s.Do(t, cticAnalyst, "POST", "/v1/incidentReports/"+id+":close", map[string]any{"reason": "informational"}))
		}
	}
	for _, u := range demo.Users {
		var listed []string
		token := ""
		forbidden := false
		for {
			r := s.Do(t, u.Email, "GET", "/v1/incidentReports?page_size=2&page_token="+token, nil)
			if r.Status == http.StatusForbidden {
				forbidden = true
				break
			}
			require.Equal(t, http.StatusOK, r.Status, "%s: %s", u.Email, r.Raw)
			for _, rep := range r.List("reports") {
				listed = append(listed, rep["id"].(string))
			}
			if token = r.Str("nextPageToken"); token == "" {
				break
			}
		}
		var readable []string
		for _, id := range ids {
			switch st := s.Do(t, u.Email, "GET", "/v1/incidentReports/"+id, nil).Status; st {
			case http.StatusOK:
				readable = append(readable, id)
			case http.StatusNotFound:
			case http.StatusForbidden:
				require.True(t, forbidden, "%s: a list-less user is refused reading too", u.Email)
			default:
				t.Fatalf("%s: status %d", u.Email, st)
			}
		}
		slices.Sort(listed)
		slices.Sort(readable)
		require.Equal(t, readable, listed, "user %s (%v)", u.Email, u.Roles)
	}
	// Spot checks of who reads what.
	count := func(email string) int {
		return len(ok(t, s.Do(t, email, "GET", "/v1/incidentReports?page_size=100", nil)).List("reports"))
	}
	require.Equal(t, 3, count(townReporter))   // its draft and two submitted
	require.Equal(t, 2, count(schoolReporter)) // its two submitted
	require.Equal(t, 4, count(cticAnalyst))    // every submitted report
	require.Equal(t, 4, count(cspSupervisor))
	require.Equal(t, 1, count(fbiLiaison)) // the shared one
	require.Equal(t, 0, count(newHaven))
}
