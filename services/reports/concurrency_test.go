package reports_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
)

// Report numbers are dense and unique when many organisations submit at
// once; two supervisors opening a case from one report at once make one
// case.
func TestConcurrentSubmitAndOpenCase(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	var ids []string
	for i := range 8 {
		who := townReporter
		if i%2 == 1 {
			who = schoolReporter
		}
		ids = append(ids, ok(t, s.Do(t, who, "POST", "/v1/incidentReports", ransomware(time.Now().Add(-time.Hour)))).Str("id"))
	}
	numbers := make([]string, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := townReporter
			if i%2 == 1 {
				who = schoolReporter
			}
			r := s.Do(t, who, "POST", "/v1/incidentReports/"+id+":submit", map[string]any{})
			if r.Status == http.StatusOK {
				numbers[i] = r.Str("reportNumber")
			}
		}()
	}
	wg.Wait()
	slices.Sort(numbers)
	year := time.Now().UTC().Format("2006")
	for i, n := range numbers {
		require.Equal(t, "CTCTIC000-IR-"+year+"-0000"+string(rune('1'+i)), n)
	}

	results := make([]int, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.Do(t, cspSupervisor, "POST", "/v1/incidentReports/"+ids[0]+":openCase", map[string]any{}).Status
		}()
	}
	wg.Wait()
	slices.Sort(results)
	require.Equal(t, []int{http.StatusOK, http.StatusBadRequest}, results)
	var cases int
	require.NoError(t, s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM cases.cases WHERE summary LIKE '%' || $1 || '%'`, ids[0]).Scan(&cases))
	require.Equal(t, 1, cases)
}
