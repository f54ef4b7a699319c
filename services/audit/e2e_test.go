package audit_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/pkg/audit"
)

const (
	auditor     = "aud.ellis@csp.example"
	supervisor  = "sgt.brooks@csp.example"
	detective   = "det.alvarez@csp.example"
	hartford    = "ofc.evans@hartford.example"
	hartfordSgt = "sgt.fox@hartford.example"
	newhaven    = "det.foster@newhaven.example"
	fbi         = "sa.harris@fbi.example"
)

// start boots the system with the services running as the least-privileged
// database role, as `casebridge dev` does.
func start(t testing.TB, edit ...func(*app.Config)) *apptest.System {
	t.Helper()
	return apptest.Start(t, append([]func(*app.Config){func(c *app.Config) { c.DBRole = "casebridge_app" }}, edit...)...)
}

func createCase(t testing.TB, s *apptest.System, email, title string) string {
	t.Helper()
	r := s.Do(t, email, "POST", "/v1/cases", map[string]any{"title": title})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	return r.Str("id")
}

func verifyAll(t *testing.T, s *apptest.System) []audit.Report {
	t.Helper()
	reps, err := audit.VerifyAll(context.Background(), s.Pool)
	require.NoError(t, err)
	for _, r := range reps {
		require.True(t, r.OK(), r.String())
	}
	return reps
}

func TestCaseDisclosureReport(t *testing.T) {
	t.Parallel()
	s := start(t)
	id := createCase(t, s, detective, "Ransomware at Hartford clinic")
	require.Equal(t, http.StatusOK, s.Do(t, detective, "GET", "/v1/cases/"+id, nil, "X-Purpose", "case work").Status)
	// Hartford tries to read the unit's case: denied (404), and recorded.
	require.Equal(t, http.StatusNotFound, s.Do(t, hartford, "GET", "/v1/cases/"+id, nil).Status)
	// Another case's accesses stay out of this report.
	other := createCase(t, s, detective, "other")
	require.Equal(t, http.StatusOK, s.Do(t, detective, "GET", "/v1/cases/"+other, nil).Status)

	path := "/v1/cases/" + id + "/audit"
	r := s.Do(t, auditor, "GET", path, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	evs := r.List("events")
	require.Len(t, evs, 3, string(r.Raw)) // create, read, Hartford's attempt
	require.Equal(t, "CreateCase", evs[0]["method"])
	require.Equal(t, detective, evs[1]["userEmail"])
	require.Equal(t, "case work", evs[1]["purpose"])
	h := evs[2]
	require.Equal(t, hartford, h["userEmail"])
	require.Equal(t, "CT0006400", h["agencyOri"])
	require.Equal(t, "Hartford Police Department", h["agencyName"])
	require.Equal(t, "DENIED", h["outcome"])
	require.Equal(t, "NotFound", h["statusCode"])
	for _, e := range evs {
		require.Equal(t, id, e["caseId"])
	}

	// The lead agency's supervisor may read it too; the report read by the
	// auditor above is itself in it now.
	r = s.Do(t, supervisor, "GET", path, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	evs = r.List("events")
	require.Len(t, evs, 4)
	require.Equal(t, auditor, evs[3]["userEmail"])
	require.Equal(t, "ListCaseAuditEvents", evs[3]["method"])

	// Paging walks the same rows.
	var paged []string
	token := ""
	for {
		r := s.Do(t, supervisor, "GET", path+"?page_size=2&page_token="+url.QueryEscape(token), nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		for _, e := range r.List("events") {
			paged = append(paged, e["id"].(string))
		}
		if token = r.Str("nextPageToken"); token == "" {
			break
		}
	}
	require.GreaterOrEqual(t, len(paged), 5)
	require.Equal(t, evs[0]["id"], paged[0])
	r = s.Do(t, supervisor, "GET", "/v1/cases/"+other+"/audit?page_token="+url.QueryEscape(s.Do(t, supervisor, "GET", path+"?page_size=1", nil).Str("nextPageToken")), nil)
	require.Equal(t, http.StatusBadRequest, r.Status, "a token of another case")

	// Not for the detective (403: they see the case), nor another agency (404).
	require.Equal(t, http.StatusForbidden, s.Do(t, detective, "GET", path, nil).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, hartfordSgt, "GET", path, nil).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, hartfordSgt, "GET", path+":csv", nil).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, detective, "GET", path, nil, "Accept", "text/csv").Status)

	// CSV, by content negotiation and by its own route.
	for _, req := range []struct{ path, accept string }{{path, "text/csv"}, {path + ":csv", ""}} {
		var hdr []string
		if req.accept != "" {
			hdr = []string{"Accept", req.accept}
		}
		r := s.Do(t, auditor, "GET", req.path, nil, hdr...)
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		require.Equal(t, "text/csv; charset=utf-8", r.Header.Get("Content-Type"))
		recs, err := csv.NewReader(strings.NewReader(string(r.Raw))).ReadAll()
		require.NoError(t, err)
		require.Equal(t, "time", recs[0][0])
		require.Equal(t, "agency_ori", recs[0][1])
		var found bool
		for _, rec := range recs[1:] {
			if rec[3] == hartford {
				found = true
				require.Equal(t, "CT0006400", rec[1])
				require.Equal(t, "Hartford Police Department", rec[2])
				require.Equal(t, "DENIED", rec[7])
			}
		}
		require.True(t, found, string(r.Raw))
		require.GreaterOrEqual(t, len(recs), 5)
	}
	verifyAll(t, s)
}

func TestAuditorReadsOwnAgencyOnly(t *testing.T) {
	t.Parallel()
	s := start(t)
	id := createCase(t, s, detective, "c")
	require.Equal(t, http.StatusOK, s.Do(t, detective, "GET", "/v1/cases/"+id, nil).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, hartford, "GET", "/v1/cases/"+id, nil).Status)
	require.Equal(t, http.StatusOK, s.Do(t, fbi, "GET", "/v1/cases", nil).Status)

	list := func(filter string) []map[string]any {
		t.Helper()
		r := s.Do(t, auditor, "GET", "/v1/audit/events?page_size=100&filter="+url.QueryEscape(filter), nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
		return r.List("events")
	}
	all := list("")
	require.NotEmpty(t, all)
	csp := demo.AgencyID("csp")
	for _, e := range all {
		require.Equal(t, csp, e["agencyId"], "an auditor sees only their agency's chain")
	}
	require.Empty(t, list(`user = "`+hartford+`"`))
	det := list(`user = "` + detective + `"`)
	require.Len(t, det, 2)
	require.Equal(t, "GetCase", det[0]["method"], "newest first")
	require.Len(t, list(`user = "`+detective+`" AND action = CreateCase AND outcome = ALLOWED AND case = `+id), 1)
	require.Empty(t, list(`outcome = DENIED AND user = "`+detective+`"`))
	now := time.Now().UTC()
	require.Empty(t, list(`time >= "`+now.Add(time.Hour).Format(time.RFC3339)+`"`))
	require.Len(t, list(`user = "`+detective+`" AND time >= "`+now.Add(-time.Hour).Format(time.RFC3339)+`" AND time < "`+now.Add(time.Hour).Format(time.RFC3339)+`"`), 2)

	// Paging.
	r := s.Do(t, auditor, "GET", "/v1/audit/events?page_size=1&filter="+url.QueryEscape(`user = "`+detective+`"`), nil)
	require.Len(t, r.List("events"), 1)
	tok := r.Str("nextPageToken")
	require.NotEmpty(t, tok)
	r = s.Do(t, auditor, "GET", "/v1/audit/events?page_size=1&page_token="+url.QueryEscape(tok)+"&filter="+url.QueryEscape(`user = "`+detective+`"`), nil)
	require.Equal(t, "CreateCase", r.List("events")[0]["method"])
	require.Equal(t, http.StatusBadRequest, s.Do(t, auditor, "GET", "/v1/audit/events?page_token="+url.QueryEscape(tok), nil).Status)

	// Bad filters and other roles.
	for _, f := range []string{"owner = x", `time >= yesterday`, "user > a", "case = 12", "outcome = MAYBE", "free text"} {
		r := s.Do(t, auditor, "GET", "/v1/audit/events?filter="+url.QueryEscape(f), nil)
		require.Equal(t, http.StatusBadRequest, r.Status, f)
	}
	require.Equal(t, http.StatusForbidden, s.Do(t, detective, "GET", "/v1/audit/events", nil).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, supervisor, "GET", "/v1/audit/events", nil).Status)
}

func TestUnauthenticatedCallsAreRecorded(t *testing.T) {
	t.Parallel()
	s := start(t)
	r := s.Do(t, "", "GET", "/v1/cases", nil, "User-Agent", "probe/1.0")
	require.Equal(t, http.StatusUnauthorized, r.Status)
	var n int
	require.NoError(t, s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit.events
		WHERE agency_id = $1 AND method = 'ListCases' AND outcome = 'DENIED' AND status_code = 'Unauthenticated'
		AND user_agent = 'probe/1.0' AND request_id = $2`, audit.AnonymousChain, r.Header.Get("X-Request-Id")).Scan(&n))
	require.Equal(t, 1, n)
	rep, err := audit.Verify(context.Background(), s.Pool, audit.AnonymousChain)
	require.NoError(t, err)
	require.True(t, rep.OK(), rep.String())
	require.Equal(t, "anonymous", rep.Name())
}

// TestAuditFailureFailsTheRequest: when the record cannot be written, the
// access does not happen: a write answers 503 and changes nothing, a read
// answers 503.
func TestAuditFailureFailsTheRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := start(t)
	id := createCase(t, s, detective, "before")
	count := func() int {
		var n int
		require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM cases.cases`).Scan(&n))
		return n
	}
	before := count()
	// As the superuser: a trigger that makes every audit insert fail.
	_, err := s.Pool.Exec(ctx, `CREATE FUNCTION audit.fail() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'audit store broken'; END $$;
		CREATE TRIGGER fail BEFORE INSERT ON audit.events FOR EACH ROW EXECUTE FUNCTION audit.fail()`)
	require.NoError(t, err)

	r := s.Do(t, detective, "POST", "/v1/cases", map[string]any{"title": "must not exist"})
	require.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Raw))
	require.Equal(t, before, count(), "no case without its audit record")
	r = s.Do(t, detective, "GET", "/v1/cases/"+id, nil)
	require.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Raw))
	require.NotContains(t, string(r.Raw), "Ransomware")
	require.Equal(t, http.StatusServiceUnavailable, s.Do(t, "", "GET", "/v1/cases", nil).Status)

	_, err = s.Pool.Exec(ctx, `DROP TRIGGER fail ON audit.events`)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, s.Do(t, detective, "GET", "/v1/cases/"+id, nil).Status)
	verifyAll(t, s)
}

// TestEveryRPCIsAudited calls every method of every service the server
// registers (found through server reflection, so a new service is covered
// without editing this test) and finds an audit record for each.
func TestEveryRPCIsAudited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := start(t)
	conn, cctx := s.GRPC(t, auditor)
	names := listServices(t, conn)
	require.Contains(t, names, "casebridge.audit.v1.AuditService")
	require.Contains(t, names, "casebridge.cases.v1.CaseService")
	var methods []protoreflect.MethodDescriptor
	for _, name := range names {
		if strings.HasPrefix(name, "grpc.") {
			continue // health and reflection: infrastructure, no case data
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		require.NoError(t, err, name)
		sd := d.(protoreflect.ServiceDescriptor)
		for i := range sd.Methods().Len() {
			methods = append(methods, sd.Methods().Get(i))
		}
	}
	// Signing out ends the caller's token (and, everywhere, every token
	// issued so far): those go last, each with a token of its own.
	signsOut := func(m protoreflect.MethodDescriptor) bool { return strings.HasPrefix(string(m.Name()), "SignOut") }
	slices.SortStableFunc(methods, func(a, b protoreflect.MethodDescriptor) int {
		switch {
		case signsOut(a) == signsOut(b):
			return 0
		case signsOut(a):
			return 1
		}
		return -1
	})
	calls := 0
	for _, m := range methods {
		name := string(m.Parent().FullName())
		if m.IsStreamingClient() || m.IsStreamingServer() {
			t.Fatalf("%s/%s streams: the audit interceptor covers unary calls only", name, m.Name())
		}
		if signsOut(m) {
			cctx = metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+s.Token(t, auditor))
		}
		full := fmt.Sprintf("/%s/%s", name, m.Name())
		err := conn.Invoke(cctx, full, dynamicpb.NewMessage(m.Input()), dynamicpb.NewMessage(m.Output()))
		t.Logf("%s: %v", full, status.Code(err))
		var n int
		require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM audit.events WHERE service = $1 AND method = $2 AND user_email = $3`,
			name, string(m.Name()), auditor).Scan(&n))
		require.Equal(t, 1, n, "no audit record for %s", full)
		calls++
	}
	require.GreaterOrEqual(t, calls, 10)
	verifyAll(t, s)
}

func listServices(t *testing.T, conn *grpc.ClientConn) []string {
	t.Helper()
	stream, err := rpb.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
	require.NoError(t, err)
	require.NoError(t, stream.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}))
	resp, err := stream.Recv()
	require.NoError(t, err)
	require.NoError(t, stream.CloseSend())
	var out []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		out = append(out, s.GetName())
	}
	return out
}

// TestConcurrentAgenciesChainsVerify: many concurrent requests from several
// agencies (and anonymous callers) interleave in the group commit; every
// chain still verifies and holds every record.
func TestConcurrentAgenciesChainsVerify(t *testing.T) {
	t.Parallel()
	s := start(t)
	id := createCase(t, s, detective, "shared target")
	users := []string{detective, supervisor, hartford, newhaven, fbi, ""}
	const per = 15
	var wg sync.WaitGroup
	for _, u := range users {
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					switch {
					case u == detective && i%5 == 0:
						s.Do(t, u, "POST", "/v1/cases", map[string]any{"title": fmt.Sprintf("c %d %d", w, i)})
					case i%2 == 0:
						s.Do(t, u, "GET", "/v1/cases/"+id, nil)
					default:
						s.Do(t, u, "GET", "/v1/cases?page_size=5", nil)
					}
				}
			}()
		}
	}
	wg.Wait()
	reps := verifyAll(t, s)
	total := int64(0)
	for _, r := range reps {
		total += r.Count
	}
	require.GreaterOrEqual(t, total, int64(len(users)*3*per+1))
	require.Len(t, reps, 5) // csp, hartford, newhaven, fbi, anonymous
}

func TestDeniedRoleIsRecorded(t *testing.T) {
	t.Parallel()
	s := start(t)
	conn, ctx := s.GRPC(t, detective)
	err := conn.Invoke(ctx, "/casebridge.audit.v1.AuditService/ListAuditEvents",
		dynamicpb.NewMessage(mustMsg(t, "casebridge.audit.v1.ListAuditEventsRequest")),
		dynamicpb.NewMessage(mustMsg(t, "casebridge.audit.v1.ListAuditEventsResponse")))
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	var n int
	require.NoError(t, s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit.events WHERE method = 'ListAuditEvents'
		AND user_email = $1 AND outcome = 'DENIED' AND status_code = 'PermissionDenied'`, detective).Scan(&n))
	require.Equal(t, 1, n)
}

func mustMsg(t *testing.T, name string) protoreflect.MessageDescriptor {
	t.Helper()
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
	require.NoError(t, err)
	return d.(protoreflect.MessageDescriptor)
}

// A list that showed a case is an access to it: the case's disclosure
// report includes it, and the record still verifies.
func TestListedCasesAppearInDisclosureReport(t *testing.T) {
	t.Parallel()
	s := start(t)
	id := createCase(t, s, detective, "Listed, not opened")
	other := createCase(t, s, detective, "Another case")
	r := s.Do(t, "sgt.brooks@csp.example", "POST", "/v1/cases/"+id+"/participants", map[string]any{
		"agencyId": demo.AgencyID("hartford"), "relation": "RELATION_VIEWER", "reason": "joint review",
		"overrideReason": "agreement renewal pending"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	require.Len(t, s.Do(t, hartford, "GET", "/v1/cases", nil).List("cases"), 1)

	rep := s.Do(t, auditor, "GET", "/v1/cases/"+id+"/audit?page_size=100", nil)
	require.Equal(t, http.StatusOK, rep.Status, string(rep.Raw))
	found := false
	for _, e := range rep.List("events") {
		if e["method"] == "ListCases" && e["userEmail"] == hartford {
			found = true
			require.Equal(t, "CT0006400", e["agencyOri"])
		}
	}
	require.True(t, found, "Hartford's list is missing from the report: %s", rep.Raw)
	// The other case was not on Hartford's page: not in its report.
	for _, e := range s.Do(t, auditor, "GET", "/v1/cases/"+other+"/audit?page_size=100", nil).List("events") {
		require.False(t, e["method"] == "ListCases" && e["userEmail"] == hartford)
	}
	verifyAll(t, s)
}

// A client cannot choose the address the trail records: X-Forwarded-For and
// Grpc-Metadata-* headers are not passed on by a gateway that trusts no
// proxy.
func TestClientCannotSpoofRecordedAddress(t *testing.T) {
	t.Parallel()
	s := start(t)
	r := s.Do(t, detective, "GET", "/v1/cases", nil,
		"X-Forwarded-For", "203.0.113.7", "Grpc-Metadata-X-Forwarded-For", "198.51.100.9", "X-Request-Id", "spoof-check-1")
	require.Equal(t, http.StatusOK, r.Status)
	var addr string
	require.NoError(t, s.Pool.QueryRow(context.Background(),
		`SELECT client_addr FROM audit.events WHERE request_id = 'spoof-check-1'`).Scan(&addr))
	require.Equal(t, "127.0.0.1", addr)
}
