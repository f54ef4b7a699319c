package reports_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
)

// A state administrator registers a public entity with its first admin; that
// admin adds a reporter, who signs in and reports. The entity's users get
// nothing else.
func TestRegisterOrganisationThenReport(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	body := map[string]any{"ori": "CTEXWA000", "name": "Example Water Authority", "jurisdiction": "Town of Example",
		"sector": "AGENCY_SECTOR_WATER_WASTEWATER", "adminEmail": "admin@examplewater.example"}
	// Only state and regional admins register organisations.
	require.Equal(t, http.StatusForbidden, s.Do(t, "admin@townofexample.example", "POST", "/v1/agencies", body).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, cspSupervisor, "POST", "/v1/agencies", body).Status)
	r := ok(t, s.Do(t, "admin@csp.example", "POST", "/v1/agencies", body))
	agency := r.Str("agency.id")
	require.Equal(t, "AGENCY_KIND_PUBLIC_ENTITY", r.Str("agency.kind"))
	require.Equal(t, "AGENCY_SECTOR_WATER_WASTEWATER", r.Str("agency.sector"))
	require.Equal(t, []any{"admin"}, r.Get("admin.roles"))
	// The same identifier twice names the field.
	again := s.Do(t, "admin@csp.example", "POST", "/v1/agencies", body)
	require.Equal(t, http.StatusBadRequest, again.Status)
	require.Contains(t, string(again.Raw), `"ori"`)
	bad := s.Do(t, "admin@csp.example", "POST", "/v1/agencies", map[string]any{"ori": "x", "name": "", "sector": "AGENCY_SECTOR_UNSPECIFIED"})
	require.Equal(t, http.StatusBadRequest, bad.Status)
	for _, f := range []string{"ori", "name", "sector"} {
		require.Contains(t, string(bad.Raw), `"`+f+`"`)
	}

	// Its admin adds a reporter; the reporter reports.
	ok(t, s.Do(t, "admin@examplewater.example", "POST", "/v1/agencies/"+agency+"/users",
		map[string]any{"email": "manager@examplewater.example", "roles": []string{"reporter"}}))
	id := ok(t, s.Do(t, "manager@examplewater.example", "POST", "/v1/incidentReports", ransomware(time.Now().Add(-time.Hour)))).Str("id")
	sub := ok(t, s.Do(t, "manager@examplewater.example", "POST", "/v1/incidentReports/"+id+":submit", map[string]any{}))
	require.Equal(t, "Example Water Authority", sub.Str("organizationName"))
	require.Equal(t, http.StatusOK, s.Do(t, cticAnalyst, "GET", "/v1/incidentReports/"+id, nil).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, townReporter, "GET", "/v1/incidentReports/"+id, nil).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, "manager@examplewater.example", "GET", "/v1/cases", nil).Status)
}
