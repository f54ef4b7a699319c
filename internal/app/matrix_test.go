package app_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/pkg/authz"
)

type matrixRow struct {
	line                           int
	method, user, relation, expect string
}

func loadMatrix(t *testing.T) []matrixRow {
	t.Helper()
	f, err := os.Open("testdata/authz_matrix.csv")
	require.NoError(t, err)
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	r.TrimLeadingSpace = true
	recs, err := r.ReadAll()
	require.NoError(t, err)
	var rows []matrixRow
	for i, rec := range recs[1:] {
		require.Len(t, rec, 4, "row %d", i+2)
		rows = append(rows, matrixRow{i + 2, rec[0], rec[1], rec[2], rec[3]})
	}
	return rows
}

// fixture is the world one row runs against.
type fixture struct {
	s        *apptest.System
	caseID   string
	actor    string // the user's agency id
	target   string // agency-scoped methods: the agency acted on
	targetID string // a user of target, for user methods
	user     string // the row's user (e-mail), for per-user records
	report   string // incident-report rows: the relation (reports_matrix_test.go)
}

// call is one RPC, spelled for both transports.
type call struct {
	httpMethod, path string
	body             any
	grpc             string // the request message as protojson
}

func agencyOf(email string) string {
	for _, u := range demo.Users {
		if u.Email == email {
			return demo.AgencyID(u.Agency)
		}
	}
	panic("unknown demo user " + email)
}

// calls builds, per RPC, a request that succeeds when authorization allows
// it. A registered RPC missing here or in the matrix fails the test.
var calls = map[string]func(f *fixture) call{
	"CaseService.CreateCase": func(f *fixture) call {
		return call{"POST", "/v1/cases", map[string]any{"title": "matrix"}, `{"case": {"title": "matrix"}}`}
	},
	"CaseService.GetCase": func(f *fixture) call {
		return call{"GET", "/v1/cases/" + f.caseID, nil, fmt.Sprintf(`{"caseId": %q}`, f.caseID)}
	},
	"CaseService.ListCases": func(f *fixture) call { return call{"GET", "/v1/cases", nil, `{}`} },
	"CaseService.UpdateCase": func(f *fixture) call {
		return call{"PATCH", "/v1/cases/" + f.caseID, map[string]any{"summary": "m"},
			fmt.Sprintf(`{"case": {"id": %q, "summary": "m"}, "updateMask": "summary"}`, f.caseID)}
	},
	"CaseService.CloseCase": func(f *fixture) call {
		return call{"POST", "/v1/cases/" + f.caseID + ":close", map[string]any{"reason": "m"}, fmt.Sprintf(`{"caseId": %q, "reason": "m"}`, f.caseID)}
	},
	"CaseService.ReopenCase": func(f *fixture) call {
		closeCase(f)
		return call{"POST", "/v1/cases/" + f.caseID + ":reopen", map[string]any{}, fmt.Sprintf(`{"caseId": %q}`, f.caseID)}
	},
	"CaseService.CreateNote": func(f *fixture) call {
		return call{"POST", "/v1/cases/" + f.caseID + "/notes", map[string]any{"body": "m"}, fmt.Sprintf(`{"caseId": %q, "note": {"body": "m"}}`, f.caseID)}
	},
	"CaseService.ListNotes": func(f *fixture) call {
		return call{"GET", "/v1/cases/" + f.caseID + "/notes", nil, fmt.Sprintf(`{"caseId": %q}`, f.caseID)}
	},
	"CaseService.AddParticipant": func(f *fixture) call {
		nh := demo.AgencyID("newhaven")
		return call{"POST", "/v1/cases/" + f.caseID + "/participants",
			map[string]any{"agencyId": nh, "relation": "RELATION_VIEWER", "reason": "m"},
			fmt.Sprintf(`{"caseId": %q, "agencyId": %q, "relation": "RELATION_VIEWER", "reason": "m"}`, f.caseID, nh)}
	},
	"CaseService.ListParticipants": func(f *fixture) call {
		return call{"GET", "/v1/cases/" + f.caseID + "/participants", nil, fmt.Sprintf(`{"caseId": %q}`, f.caseID)}
	},
	"CaseService.RemoveParticipant": func(f *fixture) call {
		usss := demo.AgencyID("usss")
		grant(f, usss, authz.RelViewer)
		return call{"DELETE", "/v1/cases/" + f.caseID + "/participants/" + usss, nil,
			fmt.Sprintf(`{"caseId": %q, "agencyId": %q}`, f.caseID, usss)}
	},
	"CaseService.ExplainAccess": func(f *fixture) call {
		return call{"GET", "/v1/cases/" + f.caseID + ":explainAccess?email=det.alvarez@csp.example", nil,
			fmt.Sprintf(`{"caseId": %q, "email": "det.alvarez@csp.example"}`, f.caseID)}
	},
	// ObservableService (issue 21): observables are decided on the case;
	// notices are listed for the caller's agency (relation member).
	"ObservableService.CreateObservable": func(f *fixture) call {
		return call{"POST", "/v1/cases/" + f.caseID + "/observables", map[string]any{"type": "DOMAIN", "value": "matrix.example"},
			fmt.Sprintf(`{"caseId": %q, "observable": {"type": "DOMAIN", "value": "matrix.example"}}`, f.caseID)}
	},
	"ObservableService.BatchCreateObservables": func(f *fixture) call {
		return call{"POST", "/v1/cases/" + f.caseID + "/observables:batchCreate",
			map[string]any{"observables": []map[string]any{{"type": "IPV4", "value": "192.0.2.1"}}},
			fmt.Sprintf(`{"caseId": %q, "observables": [{"type": "IPV4", "value": "192.0.2.1"}]}`, f.caseID)}
	},
	"ObservableService.ListObservables": func(f *fixture) call {
		return call{"GET", "/v1/cases/" + f.caseID + "/observables", nil, fmt.Sprintf(`{"caseId": %q}`, f.caseID)}
	},
	"ObservableService.ExportObservables": func(f *fixture) call {
		return call{"GET", "/v1/cases/" + f.caseID + "/observables:export?format=stix&tlp=GREEN", nil,
			fmt.Sprintf(`{"caseId": %q, "format": "stix", "tlp": "GREEN"}`, f.caseID)}
	},
	"ObservableService.GetDeconflictionSetting": func(f *fixture) call {
		return call{"GET", "/v1/cases/" + f.caseID + "/deconflictionSetting", nil, fmt.Sprintf(`{"caseId": %q}`, f.caseID)}
	},
	"ObservableService.UpdateDeconflictionSetting": func(f *fixture) call {
		return call{"PATCH", "/v1/cases/" + f.caseID + "/deconflictionSetting", map[string]any{"doNotDeconflict": true, "reason": "m"},
			fmt.Sprintf(`{"caseId": %q, "setting": {"doNotDeconflict": true, "reason": "m"}}`, f.caseID)}
	},
	"ObservableService.ListDeconflictionNotices": func(f *fixture) call {
		return call{"GET", "/v1/deconflictionNotices", nil, `{}`}
	},
	"EvidenceService.CreateEvidence": func(f *fixture) call {
		return call{"POST", "/v1/cases/" + f.caseID + "/evidence", map[string]any{"description": "m", "kind": "KIND_DEVICE"},
			fmt.Sprintf(`{"caseId": %q, "evidence": {"description": "m", "kind": "KIND_DEVICE"}}`, f.caseID)}
	},
	"EvidenceService.GetEvidence": func(f *fixture) call {
		id := evidenceItem(f)
		return call{"GET", "/v1/evidence/" + id, nil, fmt.Sprintf(`{"evidenceId": %q}`, id)}
	},
	"EvidenceService.ListEvidence": func(f *fixture) call {
		return call{"GET", "/v1/cases/" + f.caseID + "/evidence", nil, fmt.Sprintf(`{"caseId": %q}`, f.caseID)}
	},
	"EvidenceService.CreateCustodyEvent": func(f *fixture) call {
		id := evidenceItem(f)
		return call{"POST", "/v1/evidence/" + id + "/custody", map[string]any{"action": "CUSTODY_ACTION_ANALYSIS", "purpose": "m"},
			fmt.Sprintf(`{"evidenceId": %q, "event": {"action": "CUSTODY_ACTION_ANALYSIS", "purpose": "m"}}`, id)}
	},
	"EvidenceService.ListCustodyEvents": func(f *fixture) call {
		id := evidenceItem(f)
		return call{"GET", "/v1/evidence/" + id + "/custody", nil, fmt.Sprintf(`{"evidenceId": %q}`, id)}
	},
	"EvidenceService.VerifyCustodyChain": func(f *fixture) call {
		id := evidenceItem(f)
		return call{"GET", "/v1/evidence/" + id + "/custody:verify", nil, fmt.Sprintf(`{"evidenceId": %q}`, id)}
	},
	"EvidenceService.VerifyEvidence": func(f *fixture) call {
		id := evidenceItem(f)
		return call{"POST", "/v1/evidence/" + id + ":verify", map[string]any{"sha256": matrixSHA256},
			fmt.Sprintf(`{"evidenceId": %q, "sha256": %q}`, id, matrixSHA256)}
	},
	// TaskService and LegalProcessService (issue 17): tasks and legal
	// process are decided on the case; the fixture's task is assigned to
	// the user's agency, so contributor rows decide on the policy line.
	"TaskService.CreateTask": func(f *fixture) call {
		return call{"POST", "/v1/cases/" + f.caseID + "/tasks", map[string]any{"title": "m"},
			fmt.Sprintf(`{"caseId": %q, "task": {"title": "m"}}`, f.caseID)}
	},
	"TaskService.GetTask": func(f *fixture) call {
		id := taskItem(f)
		return call{"GET", "/v1/tasks/" + id, nil, fmt.Sprintf(`{"taskId": %q}`, id)}
	},
	"TaskService.ListTasks": func(f *fixture) call {
		return call{"GET", "/v1/cases/" + f.caseID + "/tasks", nil, fmt.Sprintf(`{"caseId": %q}`, f.caseID)}
	},
	"TaskService.SearchTasks": func(f *fixture) call {
		return call{"GET", "/v1/tasks?filter=assignee%20%3D%20me", nil, `{"filter": "assignee = me"}`}
	},
	"TaskService.UpdateTask": func(f *fixture) call {
		id := taskItem(f)
		return call{"PATCH", "/v1/tasks/" + id, map[string]any{"description": "m"},
			fmt.Sprintf(`{"task": {"id": %q, "description": "m"}, "updateMask": "description"}`, id)}
	},
	"TaskService.StartTask":    func(f *fixture) call { return taskAction(f, "start", "") },
	"TaskService.CompleteTask": func(f *fixture) call { return taskAction(f, "complete", "note") },
	"TaskService.CancelTask":   func(f *fixture) call { return taskAction(f, "cancel", "reason") },
	"TaskService.CreateTaskLogEntry": func(f *fixture) call {
		id := taskItem(f)
		return call{"POST", "/v1/tasks/" + id + "/log", map[string]any{"body": "m"}, fmt.Sprintf(`{"taskId": %q, "entry": {"body": "m"}}`, id)}
	},
	"TaskService.ListTaskLogEntries": func(f *fixture) call {
		id := taskItem(f)
		return call{"GET", "/v1/tasks/" + id + "/log", nil, fmt.Sprintf(`{"taskId": %q}`, id)}
	},
	"TaskService.ApplyPlaybook": func(f *fixture) call {
		pb := playbookItem(f, f.actor)
		return call{"POST", "/v1/cases/" + f.caseID + ":applyPlaybook", map[string]any{"playbookId": pb},
			fmt.Sprintf(`{"caseId": %q, "playbookId": %q}`, f.caseID, pb)}
	},
	"TaskService.CreatePlaybook": func(f *fixture) call {
		name := "m " + uuid.NewString()[:8]
		return call{"POST", "/v1/playbooks", map[string]any{"name": name}, fmt.Sprintf(`{"playbook": {"name": %q}}`, name)}
	},
	"TaskService.GetPlaybook": func(f *fixture) call {
		id := playbookItem(f, f.target)
		return call{"GET", "/v1/playbooks/" + id, nil, fmt.Sprintf(`{"playbookId": %q}`, id)}
	},
	"TaskService.ListPlaybooks": func(f *fixture) call { return call{"GET", "/v1/playbooks", nil, `{}`} },
	"TaskService.UpdatePlaybook": func(f *fixture) call {
		id := playbookItem(f, f.target)
		return call{"PATCH", "/v1/playbooks/" + id, map[string]any{"titlePrefix": "m"},
			fmt.Sprintf(`{"playbook": {"id": %q, "titlePrefix": "m"}, "updateMask": "titlePrefix"}`, id)}
	},
	"LegalProcessService.CreateLegalProcess": func(f *fixture) call {
		return call{"POST", "/v1/cases/" + f.caseID + "/legalProcess",
			map[string]any{"kind": "LEGAL_PROCESS_KIND_SUBPOENA", "recipient": "m"},
			fmt.Sprintf(`{"caseId": %q, "legalProcess": {"kind": "LEGAL_PROCESS_KIND_SUBPOENA", "recipient": "m"}}`, f.caseID)}
	},
	"LegalProcessService.GetLegalProcess": func(f *fixture) call {
		id := legalItem(f)
		return call{"GET", "/v1/legalProcess/" + id, nil, fmt.Sprintf(`{"legalProcessId": %q}`, id)}
	},
	"LegalProcessService.ListLegalProcess": func(f *fixture) call {
		return call{"GET", "/v1/cases/" + f.caseID + "/legalProcess", nil, fmt.Sprintf(`{"caseId": %q}`, f.caseID)}
	},
	"LegalProcessService.UpdateLegalProcess": func(f *fixture) call {
		id := legalItem(f)
		return call{"PATCH", "/v1/legalProcess/" + id, map[string]any{"identifier": "m"},
			fmt.Sprintf(`{"legalProcess": {"id": %q, "identifier": "m"}, "updateMask": "identifier"}`, id)}
	},
	"LegalProcessService.ExtendLegalProcess": func(f *fixture) call {
		id := legalItem(f)
		return call{"POST", "/v1/legalProcess/" + id + ":extend", map[string]any{}, fmt.Sprintf(`{"legalProcessId": %q}`, id)}
	},
	"DirectoryService.ListAgencies":   func(f *fixture) call { return call{"GET", "/v1/agencies", nil, `{}`} },
	"DirectoryService.GetCurrentUser": func(f *fixture) call { return call{"GET", "/v1/me", nil, `{}`} },
	"DirectoryService.GetAgency": func(f *fixture) call {
		return call{"GET", "/v1/agencies/" + f.target, nil, fmt.Sprintf(`{"agencyId": %q}`, f.target)}
	},
	"DirectoryService.ListUsers": func(f *fixture) call {
		return call{"GET", "/v1/agencies/" + f.target + "/users", nil, fmt.Sprintf(`{"agencyId": %q}`, f.target)}
	},
	"DirectoryService.CreateUser": func(f *fixture) call {
		email := "m." + uuid.NewString()[:8] + "@matrix.example"
		return call{"POST", "/v1/agencies/" + f.target + "/users", map[string]any{"email": email, "roles": []string{"detective"}},
			fmt.Sprintf(`{"agencyId": %q, "user": {"email": %q, "roles": ["detective"]}}`, f.target, email)}
	},
	"DirectoryService.UpdateUser": func(f *fixture) call {
		return call{"PATCH", "/v1/agencies/" + f.target + "/users/" + f.targetUser(), map[string]any{"displayName": "m"},
			fmt.Sprintf(`{"user": {"id": %q, "agencyId": %q, "displayName": "m"}, "updateMask": "displayName"}`, f.targetID, f.target)}
	},
	"DirectoryService.DeactivateUser": func(f *fixture) call {
		return call{"POST", "/v1/agencies/" + f.target + "/users/" + f.targetUser() + ":deactivate", map[string]any{},
			fmt.Sprintf(`{"agencyId": %q, "userId": %q}`, f.target, f.targetID)}
	},
	"DirectoryService.GetUser": func(f *fixture) call {
		return call{"GET", "/v1/agencies/" + f.target + "/users/" + f.targetUser(), nil,
			fmt.Sprintf(`{"agencyId": %q, "userId": %q}`, f.target, f.targetID)}
	},
	"DirectoryService.CreateRoleGrant": func(f *fixture) call {
		return call{"POST", "/v1/agencies/" + f.target + "/users/" + f.targetUser() + "/roleGrants",
			map[string]any{"roles": []string{"detective", "liaison"}},
			fmt.Sprintf(`{"agencyId": %q, "userId": %q, "roleGrant": {"roles": ["detective", "liaison"]}}`, f.target, f.targetID)}
	},
	"DirectoryService.ListRoleGrants": func(f *fixture) call {
		return call{"GET", "/v1/agencies/" + f.target + "/users/" + f.targetUser() + "/roleGrants", nil,
			fmt.Sprintf(`{"agencyId": %q, "userId": %q}`, f.target, f.targetID)}
	},
	"DirectoryService.ApproveRoleGrant": func(f *fixture) call { return roleGrantAction(f, "approve") },
	"DirectoryService.RejectRoleGrant":  func(f *fixture) call { return roleGrantAction(f, "reject") },
	"DirectoryService.SignOut":          func(f *fixture) call { return call{"POST", "/v1/me:signOut", map[string]any{}, `{}`} },
	"DirectoryService.SignOutEverywhere": func(f *fixture) call {
		// The previous transport's row ended every token of this user issued
		// until then, in whole seconds: mint this row's in the next second.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
		return call{"POST", "/v1/me:signOutEverywhere", map[string]any{}, `{}`}
	},
	// ReferralService rows: relation member = the user's agency sent the
	// referral, recipient = it was sent to the user's agency, other =
	// between two other agencies (see referralItem).
	"ReferralService.CreateReferral": func(f *fixture) call {
		to := demo.AgencyID("csp")
		if f.actor == to {
			to = demo.AgencyID("hartford")
		}
		ref := fmt.Sprintf(`{"kind": "REFERRAL_KIND_ASSISTANCE_REQUEST", "toAgencyId": %q, "summary": "m",
			"assistanceRequest": {"helpWanted": ["HELP_WANTED_TECHNICAL_ADVICE"], "urgency": "URGENCY_ROUTINE",
			"contact": {"name": "m", "email": "m@example.org"}}}`, to)
		var body map[string]any
		if err := json.Unmarshal([]byte(ref), &body); err != nil {
			panic(err)
		}
		return call{"POST", "/v1/referrals", body, `{"referral": ` + ref + `}`}
	},
	"ReferralService.GetReferral": func(f *fixture) call {
		id := referralItem(f, "SUBMITTED", "SUBMITTED")
		return call{"GET", "/v1/referrals/" + id, nil, fmt.Sprintf(`{"referralId": %q}`, id)}
	},
	"ReferralService.ListReferrals": func(f *fixture) call { return call{"GET", "/v1/referrals", nil, `{}`} },
	"ReferralService.GetReferralStats": func(f *fixture) call {
		return call{"GET", "/v1/referrals:stats", nil, `{}`}
	},
	"ReferralService.UpdateReferral": func(f *fixture) call {
		id := referralItem(f, "DRAFT", "SUBMITTED")
		return call{"PATCH", "/v1/referrals/" + id, map[string]any{"summary": "m"},
			fmt.Sprintf(`{"referral": {"id": %q, "summary": "m"}, "updateMask": "summary"}`, id)}
	},
	"ReferralService.SubmitReferral": func(f *fixture) call { return referralAction(f, "DRAFT", "SUBMITTED", "submit", "") },
	"ReferralService.AcknowledgeReferral": func(f *fixture) call {
		return referralAction(f, "SUBMITTED", "SUBMITTED", "acknowledge", "")
	},
	"ReferralService.AcceptReferral": func(f *fixture) call {
		return referralAction(f, "ACKNOWLEDGED", "ACKNOWLEDGED", "accept", "")
	},
	"ReferralService.DeclineReferral": func(f *fixture) call {
		return referralAction(f, "ACKNOWLEDGED", "ACKNOWLEDGED", "decline", "m")
	},
	"ReferralService.ReturnReferral": func(f *fixture) call {
		return referralAction(f, "ACKNOWLEDGED", "ACKNOWLEDGED", "return", "m")
	},
	"ReferralService.WithdrawReferral": func(f *fixture) call {
		return referralAction(f, "SUBMITTED", "SUBMITTED", "withdraw", "")
	},
}

// targetUser creates a user in the target agency for user methods.
func (f *fixture) targetUser() string {
	if f.targetID == "" {
		f.targetID = uuid.NewString()
		_, err := f.s.Pool.Exec(context.Background(), `INSERT INTO liaison.users (id, agency_id, email, roles) VALUES ($1, $2, $3, '{detective}')`,
			f.targetID, f.target, "t."+f.targetID[:8]+"@matrix.example")
		if err != nil {
			panic(err)
		}
	}
	return f.targetID
}

// roleGrantAction decides a pending supervisor grant for a user of the
// target agency, proposed by someone other than the caller.
func roleGrantAction(f *fixture, verb string) call {
	id := uuid.NewString()
	_, err := f.s.Pool.Exec(context.Background(), `INSERT INTO liaison.role_grants (id, agency_id, user_id, roles, previous_roles,
		state, proposer_id, proposer_email, create_time, update_time)
		VALUES ($1, $2, $3, '{detective,supervisor}', '{detective}', 'PENDING', gen_random_uuid(), 'other.admin@matrix.example', now(), now())`,
		id, f.target, f.targetUser())
	if err != nil {
		panic(err)
	}
	return call{"POST", "/v1/agencies/" + f.target + "/users/" + f.targetID + "/roleGrants/" + id + ":" + verb, map[string]any{},
		fmt.Sprintf(`{"agencyId": %q, "userId": %q, "grantId": %q}`, f.target, f.targetID, id)}
}

// grant gives agency rel on the fixture's case (led by CSP) with a
// supervisor's override, so the row decides on the relation itself where no
// agreement is in force (an agreement in force still caps it: rows name
// agencies whose agreement with CSP allows the relation; caps are the
// invariant and sharing tests' subject).
func grant(f *fixture, agency, rel string) {
	ctx := context.Background()
	lead := uuid.MustParse(demo.AgencyID("csp"))
	g := authz.SeedGrant{ResourceType: "case", ResourceID: uuid.MustParse(f.caseID), AgencyID: uuid.MustParse(agency), Relation: rel,
		LeadAgencyID: &lead}
	if authz.Capped(rel) {
		g.OverrideReason = "authorization matrix"
	}
	if err := pgx.BeginFunc(ctx, f.s.Pool, func(tx pgx.Tx) error { return authz.SeedGrants(ctx, tx, []authz.SeedGrant{g}) }); err != nil {
		panic(err)
	}
}

var matrixSHA256 = strings.Repeat("ab", 32)

// evidenceItem stores a checked-out exhibit on the fixture's case, held by
// CSP (whose custodians may then record its custody).
func evidenceItem(f *fixture) string {
	id := uuid.NewString()
	_, err := f.s.Pool.Exec(context.Background(), `INSERT INTO evidence.items (id, case_id, case_number, exhibit_seq,
		exhibit_number, description, kind, sha256, holding_agency_id, status, custody_count, custody_head,
		create_time, update_time, create_user_id, create_user_email)
		VALUES ($1, $2, 'M', 1, $6, 'matrix', 'DISK_IMAGE', $3, $4, 'CHECKED_OUT', 0, decode(repeat('00', 32), 'hex'),
		now(), now(), $5, 'det.alvarez@csp.example')`,
		id, f.caseID, matrixSHA256, demo.AgencyID("csp"), demo.UserID("det.alvarez@csp.example"), "M-"+id)
	if err != nil {
		panic(err)
	}
	_, err = authz.Grant(context.Background(), f.s.Pool, nil, authz.GrantRequest{Resource: authz.Resource{Type: "evidence", ID: id},
		AgencyID: demo.AgencyID("csp"), Relation: authz.RelHolder})
	if err != nil {
		panic(err)
	}
	return id
}

// taskItem stores a waiting task on the fixture's case, assigned to the
// user's agency.
func taskItem(f *fixture) string {
	id := uuid.NewString()
	_, err := f.s.Pool.Exec(context.Background(), `INSERT INTO cases.tasks (id, case_id, title, status, assigned_agency_id,
		create_time, update_time, create_user_email, update_user_email)
		VALUES ($1, $2, 'matrix', 'WAITING', $3, now(), now(), 'matrix@example.org', 'matrix@example.org')`, id, f.caseID, f.actor)
	if err != nil {
		panic(err)
	}
	return id
}

// taskAction is a POST /v1/tasks/{id}:verb call on a fresh taskItem; arg
// names the verb's text field, if any.
func taskAction(f *fixture, verb, arg string) call {
	id := taskItem(f)
	body := map[string]any{}
	g := fmt.Sprintf(`{"taskId": %q}`, id)
	if arg != "" {
		body[arg] = "m"
		g = fmt.Sprintf(`{"taskId": %q, %q: "m"}`, id, arg)
	}
	return call{"POST", "/v1/tasks/" + id + ":" + verb, body, g}
}

// playbookItem stores a one-task playbook of agency.
func playbookItem(f *fixture, agency string) string {
	id := uuid.NewString()
	_, err := f.s.Pool.Exec(context.Background(), `INSERT INTO cases.playbooks (id, agency_id, name, tasks, create_time, update_time)
		VALUES ($1, $2, $3, '[{"key": "m", "title": "m"}]', now(), now())`, id, agency, "matrix "+id)
	if err != nil {
		panic(err)
	}
	return id
}

// legalItem stores a preservation request served now on the fixture's case.
func legalItem(f *fixture) string {
	id := uuid.NewString()
	_, err := f.s.Pool.Exec(context.Background(), `INSERT INTO cases.legal_process (id, case_id, kind, recipient, state,
		serve_time, create_time, update_time, create_user_email, update_user_email)
		VALUES ($1, $2, 'PRESERVATION_REQUEST', 'm', 'SERVED', now(), now(), now(), 'matrix@example.org', 'matrix@example.org')`, id, f.caseID)
	if err != nil {
		panic(err)
	}
	return id
}

func closeCase(f *fixture) {
	if _, err := f.s.Pool.Exec(context.Background(), `UPDATE cases.cases SET status = 'CLOSED', version = version + 1 WHERE id = $1`, f.caseID); err != nil {
		panic(err)
	}
}

// referralItem inserts an assistance request for a ReferralService row, in
// senderState when the user's agency sent it (relation member), else in
// state: relation other → between Hartford and CSP (or New Haven and the
// FBI), anything else → sent to the user's agency.
func referralItem(f *fixture, senderState, state string) string {
	hartford, csp := demo.AgencyID("hartford"), demo.AgencyID("csp")
	var from, to string
	switch {
	case f.target == f.actor:
		from, to, state = f.actor, csp, senderState
		if from == csp {
			to = hartford
		}
	case f.target != "":
		from, to = hartford, csp
		if f.actor == hartford || f.actor == csp {
			from, to = demo.AgencyID("newhaven"), demo.AgencyID("fbi")
		}
	default:
		from, to = hartford, f.actor
		if to == hartford {
			from = demo.AgencyID("newhaven")
		}
	}
	id := uuid.NewString()
	ctx := context.Background()
	_, err := f.s.Pool.Exec(ctx, `INSERT INTO referrals.referrals (id, kind, state, from_agency_id, from_agency_ori,
		to_agency_id, to_agency_ori, summary, details, submit_time, ack_due_time, create_time, update_time,
		create_user_id, create_user_email, update_user_email, number)
		VALUES ($1, 'ASSISTANCE_REQUEST', $2, $3, 'M', $4, 'M', 'matrix', '{}',
		CASE WHEN $2 = 'DRAFT' THEN NULL ELSE now() END, CASE WHEN $2 = 'DRAFT' THEN NULL ELSE now() + interval '72 hours' END,
		now(), now(), $5, 'matrix@example.org', 'matrix@example.org', $6)`, id, state, from, to, uuid.NewString(), "M-"+id)
	if err != nil {
		panic(err)
	}
	res := authz.Resource{Type: "referral", ID: id}
	if _, err := authz.Grant(ctx, f.s.Pool, nil, authz.GrantRequest{Resource: res, AgencyID: from, Relation: authz.RelLead}); err != nil {
		panic(err)
	}
	if state != "DRAFT" {
		if _, err := authz.Grant(ctx, f.s.Pool, nil, authz.GrantRequest{Resource: res, AgencyID: to, Relation: authz.RelRecipient}); err != nil {
			panic(err)
		}
	}
	return id
}

// referralAction is a POST /v1/referrals/{id}:verb call on a fresh
// referralItem.
func referralAction(f *fixture, senderState, state, verb, reason string) call {
	id := referralItem(f, senderState, state)
	body := map[string]any{}
	g := fmt.Sprintf(`{"referralId": %q}`, id)
	if reason != "" {
		body["reason"] = reason
		g = fmt.Sprintf(`{"referralId": %q, "reason": %q}`, id, reason)
	}
	return call{"POST", "/v1/referrals/" + id + ":" + verb, body, g}
}

func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	rows := loadMatrix(t)

	for _, r := range rows {
		mk, ok := calls[r.method]
		require.True(t, ok, "line %d: unknown method %s", r.line, r.method)
		for _, transport := range []string{"http", "grpc"} {
			t.Run(fmt.Sprintf("%d_%s_%s_%s_%s", r.line, r.method, r.user, r.relation, transport), func(t *testing.T) {
				f := setupRow(t, s, r)
				c := mk(f)
				var got string
				if transport == "http" {
					resp := s.Do(t, r.user, c.httpMethod, c.path, c.body)
					got = map[int]string{200: "allow", 403: "deny", 404: "hidden"}[resp.Status]
					if got == "" {
						got = fmt.Sprintf("status %d: %s", resp.Status, resp.Raw)
					}
				} else {
					got = invokeGRPC(t, s, r.user, c, r.method)
				}
				require.Equal(t, r.expect, got, "matrix line %d", r.line)
			})
		}
	}

	// Every RPC has a call and at least one matrix row: a new RPC cannot
	// ship without an authorization decision written down here.
	covered := map[string]bool{}
	for _, r := range rows {
		covered[r.method] = true
	}
	for _, full := range s.App.Methods() {
		name := shortName(full)
		_, ok := calls[name]
		assert.True(t, ok, "RPC %s has no call in matrix_test.go", full)
		assert.True(t, covered[name], "RPC %s has no row in testdata/authz_matrix.csv", full)
	}
}

func shortName(full string) string {
	svc, m, _ := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	return svc[strings.LastIndex(svc, ".")+1:] + "." + m
}

func setupRow(t *testing.T, s *apptest.System, r matrixRow) *fixture {
	t.Helper()
	f := &fixture{s: s, actor: agencyOf(r.user), user: r.user}
	switch r.relation {
	case "member":
		f.target = f.actor
	case "report_org", "report_triage", "report_partner", "report_none":
		f.report = r.relation
	case "other":
		f.target = demo.AgencyID("hartford")
		if f.actor == f.target {
			f.target = demo.AgencyID("csp")
		}
	default:
		c := s.Do(t, "det.alvarez@csp.example", "POST", "/v1/cases", map[string]any{"title": "matrix fixture"})
		require.Equal(t, http.StatusOK, c.Status)
		f.caseID = c.Str("id")
		switch r.relation {
		case "lead":
			require.Equal(t, demo.AgencyID("csp"), f.actor, "line %d: lead rows need a CSP user", r.line)
		case "none":
		default:
			grant(f, f.actor, r.relation)
		}
	}
	return f
}

func invokeGRPC(t *testing.T, s *apptest.System, email string, c call, method string) string {
	t.Helper()
	conn, ctx := s.GRPC(t, email)
	full := fullMethod(t, method)
	md := findMethod(t, full)
	in, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
	require.NoError(t, err)
	out, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
	require.NoError(t, err)
	req := in.New().Interface()
	require.NoError(t, protojson.Unmarshal([]byte(c.grpc), req))
	resp := out.New().Interface()
	err = conn.Invoke(ctx, full, req, resp)
	switch status.Code(err) {
	case codes.OK:
		return "allow"
	case codes.PermissionDenied:
		return "deny"
	case codes.NotFound:
		return "hidden"
	}
	return fmt.Sprintf("code %s: %v", status.Code(err), err)
}

func fullMethod(t *testing.T, short string) string {
	t.Helper()
	svc, m, _ := strings.Cut(short, ".")
	var found string
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			if string(sd.Name()) == svc && strings.HasPrefix(string(sd.FullName()), "casebridge.") {
				found = "/" + string(sd.FullName()) + "/" + m
				return false
			}
		}
		return true
	})
	require.NotEmpty(t, found, "no service %s", svc)
	return found
}

func findMethod(t *testing.T, full string) protoreflect.MethodDescriptor {
	t.Helper()
	svc, m, _ := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	require.NoError(t, err)
	md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(m))
	require.NotNil(t, md)
	return md
}
