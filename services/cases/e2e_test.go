package cases_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
)

const (
	detective  = "det.alvarez@csp.example"
	supervisor = "sgt.brooks@csp.example"
	hartford   = "ofc.evans@hartford.example"
	fbi        = "sa.harris@fbi.example"
)

func createCase(t *testing.T, s *apptest.System, email string, body map[string]any) *apptest.Response {
	t.Helper()
	r := s.Do(t, email, "POST", "/v1/cases", body)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	return r
}

func countCases(t *testing.T, s *apptest.System) int {
	t.Helper()
	var n int
	require.NoError(t, s.Pool.QueryRow(context.Background(), "SELECT count(*) FROM cases.cases").Scan(&n))
	return n
}

func TestUnauthenticated(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	r := s.Do(t, "", "GET", "/v1/cases", nil)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	require.Contains(t, r.Header.Get("WWW-Authenticate"), "Bearer")
	require.Equal(t, "UNAUTHENTICATED", r.Str("status"))
	require.NotEmpty(t, r.Header.Get("X-Request-Id"))

	r = s.Do(t, "", "GET", "/v1/cases", nil, "Authorization", "Bearer not.a.token")
	require.Equal(t, http.StatusUnauthorized, r.Status)
	require.Contains(t, r.Header.Get("WWW-Authenticate"), `error="invalid_token"`)

	// A well-signed token for a user the directory does not know.
	r = s.Do(t, "nobody@nowhere.example", "GET", "/v1/cases", nil)
	require.Equal(t, http.StatusUnauthorized, r.Status)

	// The same over gRPC.
	conn, ctx := s.GRPC(t, "")
	_, err := casesv1.NewCaseServiceClient(conn).ListCases(ctx, &casesv1.ListCasesRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err))
}

func TestCreateGetAndNumbering(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	r := createCase(t, s, detective, map[string]any{
		"title":          "Ransomware at Hartford clinic",
		"summary":        "LockBit variant encrypted the EHR server.",
		"classification": "CLASSIFICATION_RANSOMWARE",
		"estimatedLoss":  map[string]any{"currencyCode": "USD", "amountMinor": "1250000"},
		// Server-owned fields in the input are ignored.
		"caseNumber":   "FAKE-1",
		"leadAgencyId": uuid.NewString(),
		"status":       "STATUS_CLOSED",
		"etag":         "x",
	})
	id := r.Str("id")
	require.NoError(t, uuid.Validate(id))
	require.Regexp(t, `^CTCSP0000-\d{4}-000001$`, r.Str("caseNumber"))
	require.Equal(t, "STATUS_OPEN", r.Str("status"))
	require.Equal(t, "CTCSP0000", r.Str("leadAgencyOri"))
	require.Equal(t, "210", r.Str("nibrsCode"))
	require.Equal(t, detective, r.Str("createUser"))
	require.Equal(t, "PRIORITY_MEDIUM", r.Str("priority"))
	require.NotEmpty(t, r.Str("etag"))

	g := s.Do(t, detective, "GET", "/v1/cases/"+id, nil)
	require.Equal(t, http.StatusOK, g.Status)
	require.Equal(t, r.Str("caseNumber"), g.Str("caseNumber"))
	require.Equal(t, "1250000", g.Str("estimatedLoss.amountMinor"))

	// Another agency cannot see it: 404, not 403, and it is not listed.
	require.Equal(t, http.StatusNotFound, s.Do(t, hartford, "GET", "/v1/cases/"+id, nil).Status)
	require.Empty(t, s.Do(t, hartford, "GET", "/v1/cases", nil).List("cases"))
	// A case that does not exist answers the same.
	require.Equal(t, http.StatusNotFound, s.Do(t, detective, "GET", "/v1/cases/"+uuid.NewString(), nil).Status)

	// Hartford's own numbering is separate.
	h := createCase(t, s, hartford, map[string]any{"title": "Phished payroll"})
	require.Regexp(t, `^CT0006400-\d{4}-000001$`, h.Str("caseNumber"))
	require.Equal(t, http.StatusNotFound, s.Do(t, detective, "GET", "/v1/cases/"+h.Str("id"), nil).Status)
}

func TestListPagesAndFilters(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	var made []string
	for i := range 7 {
		class := "CLASSIFICATION_INTRUSION"
		if i%2 == 0 {
			class = "CLASSIFICATION_WIRE_FRAUD"
		}
		r := createCase(t, s, detective, map[string]any{"title": fmt.Sprintf("case %d", i), "classification": class,
			"summary": map[bool]string{true: "cryptocurrency mixer", false: "invoice fraud"}[i == 3]})
		made = append(made, r.Str("id"))
	}
	// Three pages of 3, 3, 1, newest first, no repeats.
	var seen []string
	token := ""
	for page := 0; ; page++ {
		r := s.Do(t, detective, "GET", "/v1/cases?page_size=3&page_token="+token, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		for _, c := range r.List("cases") {
			seen = append(seen, c["id"].(string))
		}
		token = r.Str("nextPageToken")
		if token == "" {
			require.Equal(t, 2, page)
			break
		}
	}
	require.Len(t, seen, 7)
	for i := range made {
		require.Equal(t, made[len(made)-1-i], seen[i])
	}

	// Filters.
	r := s.Do(t, detective, "GET", "/v1/cases?filter="+urlq(`classification = WIRE_FRAUD`), nil)
	require.Len(t, r.List("cases"), 4)
	r = s.Do(t, detective, "GET", "/v1/cases?filter="+urlq(`status = OPEN AND "cryptocurrency"`), nil)
	require.Len(t, r.List("cases"), 1)
	require.Equal(t, made[3], r.List("cases")[0]["id"])
	r = s.Do(t, detective, "GET", "/v1/cases?filter="+urlq(`lead_agency = CT0006400`), nil)
	require.Empty(t, r.List("cases"))

	// Cases assigned to me.
	mine := createCase(t, s, supervisor, map[string]any{"title": "assigned", "assignedInvestigatorIds": []string{demo.UserID(detective)}})
	r = s.Do(t, detective, "GET", "/v1/cases?filter="+urlq(`assignee = me`), nil)
	require.Len(t, r.List("cases"), 1)
	require.Equal(t, mine.Str("id"), r.List("cases")[0]["id"])
	require.Empty(t, s.Do(t, supervisor, "GET", "/v1/cases?filter="+urlq(`assignee = me`), nil).List("cases"))
	require.Len(t, s.Do(t, supervisor, "GET", "/v1/cases?filter="+urlq(`assignee = `+demo.UserID(detective)), nil).List("cases"), 1)
	require.Equal(t, http.StatusBadRequest, s.Do(t, detective, "GET", "/v1/cases?filter="+urlq(`assignee = bob`), nil).Status)

	// Full text reaches notes.
	n := s.Do(t, detective, "POST", "/v1/cases/"+made[5]+"/notes", map[string]any{"body": "Subpoena served on the exchange Kraken"})
	require.Equal(t, http.StatusOK, n.Status, string(n.Raw))
	r = s.Do(t, detective, "GET", "/v1/cases?filter="+urlq(`"kraken"`), nil)
	require.Len(t, r.List("cases"), 1)
	require.Equal(t, made[5], r.List("cases")[0]["id"])

	// A token from another filter, or garbage, is refused naming the field.
	first := s.Do(t, detective, "GET", "/v1/cases?page_size=2", nil)
	tok := first.Str("nextPageToken")
	require.NotEmpty(t, tok)
	bad := s.Do(t, detective, "GET", "/v1/cases?page_size=2&filter="+urlq("status = OPEN")+"&page_token="+tok, nil)
	require.Equal(t, http.StatusBadRequest, bad.Status)
	require.Equal(t, "pageToken", bad.Get("details").([]any)[0].(map[string]any)["field"])
	bad = s.Do(t, detective, "GET", "/v1/cases?page_token=garbage!", nil)
	require.Equal(t, http.StatusBadRequest, bad.Status)
	bad = s.Do(t, detective, "GET", "/v1/cases?filter="+urlq("owner = me"), nil)
	require.Equal(t, http.StatusBadRequest, bad.Status)
	require.Contains(t, bad.Str("message"), "owner")
	bad = s.Do(t, detective, "GET", "/v1/cases?filter="+urlq("status = DONE"), nil)
	require.Equal(t, http.StatusBadRequest, bad.Status)
}

func urlq(s string) string {
	return strings.NewReplacer(" ", "%20", `"`, "%22", "=", "%3D").Replace(s)
}

func TestUpdateEtagCloseReopenTimeline(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := createCase(t, s, detective, map[string]any{"title": "BEC at town hall"})
	id, etag := c.Str("id"), c.Str("etag")

	u := s.Do(t, detective, "PATCH", "/v1/cases/"+id, map[string]any{"summary": "Vendor invoice redirected", "etag": etag, "status": "STATUS_ACTIVE"})
	require.Equal(t, http.StatusOK, u.Status, string(u.Raw))
	require.Equal(t, "Vendor invoice redirected", u.Str("summary"))
	require.Equal(t, "STATUS_ACTIVE", u.Str("status"))
	require.Equal(t, "BEC at town hall", u.Str("title"), "fields outside the mask are kept")
	require.NotEqual(t, etag, u.Str("etag"))

	// The stale etag loses, and changes nothing.
	stale := s.Do(t, detective, "PATCH", "/v1/cases/"+id, map[string]any{"title": "overwritten", "etag": etag})
	require.Equal(t, http.StatusConflict, stale.Status)
	require.Equal(t, "ABORTED", stale.Str("status"))
	require.Equal(t, "BEC at town hall", s.Do(t, detective, "GET", "/v1/cases/"+id, nil).Str("title"))

	// Explicit update_mask over gRPC-gateway query parameter.
	m := s.Do(t, detective, "PATCH", "/v1/cases/"+id+"?update_mask=priority", map[string]any{"priority": "PRIORITY_HIGH", "title": "ignored"})
	require.Equal(t, http.StatusOK, m.Status, string(m.Raw))
	require.Equal(t, "PRIORITY_HIGH", m.Str("priority"))
	require.Equal(t, "BEC at town hall", m.Str("title"))

	// Closing is a supervisor's call.
	require.Equal(t, http.StatusForbidden, s.Do(t, detective, "POST", "/v1/cases/"+id+":close", map[string]any{"reason": "done"}).Status)
	noReason := s.Do(t, supervisor, "POST", "/v1/cases/"+id+":close", map[string]any{})
	require.Equal(t, http.StatusBadRequest, noReason.Status)
	require.Equal(t, "reason", noReason.Get("details").([]any)[0].(map[string]any)["field"])
	cl := s.Do(t, supervisor, "POST", "/v1/cases/"+id+":close", map[string]any{"reason": "Funds recovered", "disposition": "DISPOSITION_EXCEPTIONALLY_CLEARED"})
	require.Equal(t, http.StatusOK, cl.Status, string(cl.Raw))
	require.Equal(t, "STATUS_CLOSED", cl.Str("status"))
	require.Equal(t, "Funds recovered", cl.Str("closeReason"))

	// Forbidden transitions answer 400 FAILED_PRECONDITION.
	again := s.Do(t, supervisor, "POST", "/v1/cases/"+id+":close", map[string]any{"reason": "again"})
	require.Equal(t, http.StatusBadRequest, again.Status)
	require.Equal(t, "FAILED_PRECONDITION", again.Str("status"))
	viaPatch := s.Do(t, detective, "PATCH", "/v1/cases/"+id, map[string]any{"status": "STATUS_SUSPENDED"})
	require.Equal(t, "FAILED_PRECONDITION", viaPatch.Str("status"))

	re := s.Do(t, supervisor, "POST", "/v1/cases/"+id+":reopen", map[string]any{"reason": "New victim came forward"})
	require.Equal(t, http.StatusOK, re.Status, string(re.Raw))
	require.Equal(t, "STATUS_ACTIVE", re.Str("status"))
	require.Equal(t, "FAILED_PRECONDITION", s.Do(t, supervisor, "POST", "/v1/cases/"+id+":reopen", map[string]any{}).Str("status"))

	// Notes: author and agency come from the token, not the body.
	n := s.Do(t, detective, "POST", "/v1/cases/"+id+"/notes", map[string]any{"body": "Called the bank's fraud desk"})
	require.Equal(t, http.StatusOK, n.Status, string(n.Raw))
	require.Equal(t, detective, n.Str("authorEmail"))
	require.Equal(t, "CTCSP0000", n.Str("agencyOri"))
	spoof := s.Do(t, detective, "POST", "/v1/cases/"+id+"/notes", map[string]any{"body": "x", "authorEmail": "sa.harris@fbi.example"})
	require.Equal(t, detective, spoof.Str("authorEmail"))

	tl := s.Do(t, detective, "GET", "/v1/cases/"+id+"/notes", nil)
	require.Equal(t, http.StatusOK, tl.Status)
	var kinds, bodies []string
	for _, e := range tl.List("notes") {
		kinds = append(kinds, e["kind"].(string))
		bodies = append(bodies, e["body"].(string))
	}
	require.Equal(t, []string{"NOTE_KIND_STATUS_CHANGE", "NOTE_KIND_STATUS_CHANGE", "NOTE_KIND_STATUS_CHANGE",
		"NOTE_KIND_STATUS_CHANGE", "NOTE_KIND_NOTE", "NOTE_KIND_NOTE"}, kinds)
	require.Contains(t, bodies[2], "Funds recovered")
	require.Contains(t, bodies[3], "New victim came forward")

	// Notes are append-only, even in SQL.
	_, err := s.Pool.Exec(context.Background(), "UPDATE cases.notes SET body = 'edited'")
	require.Error(t, err)
	// Other agencies see no notes.
	require.Equal(t, http.StatusNotFound, s.Do(t, fbi, "GET", "/v1/cases/"+id+"/notes", nil).Status)
	// A liaison can never write notes: refused before the case is looked at,
	// with the same answer for any case id, so nothing leaks.
	require.Equal(t, http.StatusForbidden, s.Do(t, fbi, "POST", "/v1/cases/"+id+"/notes", map[string]any{"body": "hi"}).Status)
}

func TestIdempotentRetry(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	rid := uuid.NewString()
	a := s.Do(t, detective, "POST", "/v1/cases?request_id="+rid, map[string]any{"title": "Sextortion of a minor"})
	require.Equal(t, http.StatusOK, a.Status, string(a.Raw))
	// Concurrent and sequential retries all get the first case.
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			r := s.Do(t, detective, "POST", "/v1/cases?request_id="+rid, map[string]any{"title": "Sextortion of a minor"})
			ids[i] = r.Str("id")
		})
	}
	wg.Wait()
	for _, id := range ids {
		require.Equal(t, a.Str("id"), id)
	}
	require.Equal(t, 1, countCases(t, s))

	// The same key from another user is that user's own key.
	b := s.Do(t, supervisor, "POST", "/v1/cases?request_id="+rid, map[string]any{"title": "Other"})
	require.NotEqual(t, a.Str("id"), b.Str("id"))

	// Notes too.
	nid := uuid.NewString()
	n1 := s.Do(t, detective, "POST", "/v1/cases/"+a.Str("id")+"/notes?request_id="+nid, map[string]any{"body": "once"})
	n2 := s.Do(t, detective, "POST", "/v1/cases/"+a.Str("id")+"/notes?request_id="+nid, map[string]any{"body": "once"})
	require.Equal(t, n1.Str("id"), n2.Str("id"))

	bad := s.Do(t, detective, "POST", "/v1/cases?request_id=not-a-uuid", map[string]any{"title": "x"})
	require.Equal(t, http.StatusBadRequest, bad.Status)
	require.Equal(t, "requestId", bad.Get("details").([]any)[0].(map[string]any)["field"])
}

func TestConcurrentCreatesGetDistinctNumbers(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	const n = 24
	numbers := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := s.Do(t, detective, "POST", "/v1/cases", map[string]any{"title": fmt.Sprintf("burst %d", i)})
			numbers[i] = r.Str("caseNumber")
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, num := range numbers {
		require.NotEmpty(t, num)
		require.False(t, seen[num], "duplicate case number %s", num)
		seen[num] = true
	}
	for i := 1; i <= n; i++ {
		found := false
		for num := range seen {
			if strings.HasSuffix(num, fmt.Sprintf("-%06d", i)) {
				found = true
			}
		}
		require.True(t, found, "number %d missing: numbers are dense", i)
	}
}

func TestConcurrentPatchSameEtagOneWins(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := createCase(t, s, detective, map[string]any{"title": "race"})
	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			codes[i] = s.Do(t, detective, "PATCH", "/v1/cases/"+c.Str("id"),
				map[string]any{"summary": fmt.Sprintf("writer %d", i), "etag": c.Str("etag")}).Status
		})
	}
	wg.Wait()
	won := 0
	for _, code := range codes {
		if code == http.StatusOK {
			won++
		} else {
			require.Equal(t, http.StatusConflict, code)
		}
	}
	require.Equal(t, 1, won)
}

func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := createCase(t, s, detective, map[string]any{"title": "keep me"})
	before := countCases(t, s)
	for name, tc := range map[string]struct {
		method, path string
		body         any
		field        string // expected field in details ("" = just 400)
	}{
		"malformed json":   {"POST", "/v1/cases", `{"title": `, ""},
		"unknown field":    {"POST", "/v1/cases", `{"title":"x","colour":"red"}`, "colour"},
		"wrong enum":       {"POST", "/v1/cases", `{"title":"x","classification":"CLASSIFICATION_JAYWALKING"}`, "classification"},
		"over-long title":  {"POST", "/v1/cases", map[string]any{"title": strings.Repeat("x", 201)}, "case.title"},
		"missing title":    {"POST", "/v1/cases", map[string]any{"summary": "no title"}, "case.title"},
		"bad currency":     {"POST", "/v1/cases", map[string]any{"title": "x", "estimatedLoss": map[string]any{"currencyCode": "dollars", "amountMinor": "1"}}, "case.estimatedLoss.currencyCode"},
		"negative loss":    {"POST", "/v1/cases", map[string]any{"title": "x", "estimatedLoss": map[string]any{"currencyCode": "USD", "amountMinor": "-5"}}, "case.estimatedLoss.amountMinor"},
		"bad investigator": {"POST", "/v1/cases", map[string]any{"title": "x", "assignedInvestigatorIds": []string{"bob"}}, "case.assignedInvestigatorIds[0]"},
		"bad uuid":         {"GET", "/v1/cases/123", nil, "caseId"},
		"bad page size":    {"GET", "/v1/cases?page_size=-1", nil, "pageSize"},
		"bad patch field":  {"PATCH", "/v1/cases/" + c.Str("id") + "?update_mask=lead_agency_id,caseNumber,bogus", map[string]any{"title": "y"}, "updateMask"},
		"empty title":      {"PATCH", "/v1/cases/" + c.Str("id"), map[string]any{"title": " "}, "case.title"},
		"not json at all":  {"POST", "/v1/cases", "title=x", ""},
		"number as title":  {"POST", "/v1/cases", `{"title": 5}`, "title"},
	} {
		r := s.Do(t, detective, tc.method, tc.path, tc.body)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", name, r.Raw)
		require.Equal(t, "INVALID_ARGUMENT", r.Str("status"), name)
		if tc.field != "" {
			details, _ := r.Get("details").([]any)
			require.NotEmpty(t, details, "%s: %s", name, r.Raw)
			require.Equal(t, tc.field, details[0].(map[string]any)["field"], "%s: %s", name, r.Raw)
		}
	}
	require.Equal(t, before, countCases(t, s))
	require.Equal(t, "keep me", s.Do(t, detective, "GET", "/v1/cases/"+c.Str("id"), nil).Str("title"))
}

func TestGRPCPathRunsTheSameChecks(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := createCase(t, s, detective, map[string]any{"title": "over grpc"})
	conn, ctx := s.GRPC(t, detective)
	cl := casesv1.NewCaseServiceClient(conn)
	got, err := cl.GetCase(ctx, &casesv1.GetCaseRequest{CaseId: c.Str("id")})
	require.NoError(t, err)
	require.Equal(t, c.Str("caseNumber"), got.GetCase().GetCaseNumber())

	_, err = cl.GetCase(ctx, &casesv1.GetCaseRequest{CaseId: "nope"})
	require.Equal(t, codes.InvalidArgument, status.Code(err))

	conn2, ctx2 := s.GRPC(t, hartford)
	_, err = casesv1.NewCaseServiceClient(conn2).GetCase(ctx2, &casesv1.GetCaseRequest{CaseId: c.Str("id")})
	require.Equal(t, codes.NotFound, status.Code(err))
}
