// Package authz owns authorization (DESIGN.md §3): the casbin policy that says
// which role, in which kind of agency, holding which relation, may do which
// action on which object type; and the relations themselves (schema authz),
// facts like "agency A is contributor on case C until T". Authorize combines
// the two for one resource; Permitting gives the relation set a List puts
// into its SQL, so nothing is filtered after a query.
package authz

import (
	"bufio"
	_ "embed"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
)

//go:embed model.conf
var modelText string

//go:embed policy.csv
var defaultPolicy string

// The vocabulary a policy may use. A line naming anything else is refused at
// load, so a typo cannot silently deny (or a rename silently allow).
var (
	Roles     = []string{"detective", "supervisor", "liaison", "analyst", "evidence_custodian", "auditor", "admin", "reporter"}
	Kinds     = []string{"STATE", "MUNICIPAL", "REGIONAL", "FEDERAL", "PUBLIC_ENTITY", "*"}
	Relations = []string{RelLead, RelContributor, RelViewer, RelRequester, RelRecipient, RelMember, RelHolder, RelTriage, RelPartner}
	// Objects maps each object type to its actions.
	Objects = map[string][]string{
		"case":        {"create", "read", "update", "close", "reopen", "share", "unshare", "explain_access", "read_audit", "export"},
		"audit":       {"read"}, // the own agency's audit trail (member relation)
		"note":        {"read", "create"},
		"participant": {"read"},
		"user":        {"read", "create", "update"},
		"evidence":    {"create", "read", "verify"}, // exhibits (issue 4)
		"custody":     {"create", "read"},           // an exhibit's chain of custody (issue 4)
		// Observables and deconfliction (issue 21), decided on the case.
		"observable":    {"read", "create", "export"},
		"deconfliction": {"read", "update"},
		// Referrals (issue 5): resource type "referral" for both kinds; the
		// object names the kind so the policy can differ per kind. read is
		// on "referral" only (it decides visibility).
		"referral":           {"create", "read", "update", "submit", "withdraw", "acknowledge", "accept", "decline", "return"},
		"assistance_request": {"create", "update", "submit", "withdraw", "acknowledge", "accept", "decline", "return"},
		// Liaison (issue 6), all decided on the member relation of the
		// agency that owns the record; reading contacts, assignments, task
		// forces and agreements needs no policy (every authenticated user).
		"contact":            {"create", "update", "delete"},
		"liaison_assignment": {"create", "delete"},
		"taskforce":          {"create", "update"},
		"agreement":          {"create", "update"},
		"engagement":         {"read", "create", "update"},
		// Tasks, playbooks and legal process (issue 17). task and
		// legal_process are decided on the CASE's relation; playbook on
		// the member relation of the agency that keeps it. work is
		// start/complete/cancel/log; a non-lead agency works only the
		// tasks assigned to it or its users (services/cases/tasks.go).
		"task":          {"read", "create", "update", "work"},
		"playbook":      {"read", "manage"},
		"legal_process": {"read", "create", "update"},
		// Notifications (issue 18): an agency's webhook receivers, managed
		// by its admins on the member relation. A user's own inbox and
		// preferences need no policy (every authenticated user).
		"webhook": {"read", "create", "update", "delete"},
		// Registering a public entity in the directory (issue 19).
		"agency": {"create"},
		// Incident reports (issue 19), resource type "incident_report": the
		// reporting organisation holds lead, the state's triage agencies
		// triage, partners it was shared with partner. read decides
		// visibility; read_triage shows what only law enforcement sees (the
		// case opened from it, sharing steps).
		"incident_report": {"create", "read", "update", "submit", "supplement", "read_triage", "acknowledge",
			"prioritize", "request_information", "share", "open_case", "close"},
	}
)

// kindRoles limits the roles that count in an agency of a kind (issue 19).
// A public entity's users report incidents and never see cases: whatever
// roles an administrator or an identity provider gives them, only reporter
// and admin count, so no `*`-kind line for detectives, analysts or
// liaisons ever applies to them. Kinds not listed allow every role.
var kindRoles = map[string][]string{"PUBLIC_ENTITY": {"reporter", "admin"}}

// RoleAllowed reports whether role counts in an agency of kind; the
// directory refuses to give a user a role that would not count.
func RoleAllowed(kind, role string) bool {
	allowed, ok := kindRoles[kind]
	if role == "reporter" {
		return kind == "PUBLIC_ENTITY"
	}
	return !ok || slices.Contains(allowed, role)
}

// Relation names.
const (
	RelLead        = "lead"
	RelContributor = "contributor"
	RelViewer      = "viewer"
	RelRequester   = "requester"
	RelRecipient   = "recipient"
	// RelMember is the relation every agency holds to itself (its users).
	RelMember = "member"
	// RelHolder is the relation of the agency holding an evidence item (on
	// resource type "evidence"): its custodians record custody and checks.
	RelHolder = "holder"
	// RelTriage is the relation of the state's triage agencies (CTIC, the
	// CSP unit) to a submitted incident report (issue 19).
	RelTriage = "triage"
	// RelPartner is the relation of a partner agency an incident report
	// was shared with (issue 19): it reads the report. Not viewer: viewer
	// and contributor are a case's disseminations, capped by the lead's
	// agreements; a report is not a case and has no lead.
	RelPartner = "partner"
)

// Rule is one policy line.
type Rule struct {
	Line                           int
	Role, Kind, Relation, Obj, Act string
}

func (r Rule) String() string {
	return fmt.Sprintf("p, %s, %s, %s, %s, %s", r.Role, r.Kind, r.Relation, r.Obj, r.Act)
}

// Policy is a parsed, validated policy.
type Policy struct {
	Rules    []Rule
	Inherits [][2]string // role, inherited role
}

// DefaultPolicyText returns the embedded default policy.
func DefaultPolicyText() string { return defaultPolicy }

// ParsePolicy parses and validates policy text. Errors name the line.
func ParsePolicy(text string) (*Policy, error) {
	pol := &Policy{}
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		f := strings.Split(line, ",")
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		switch f[0] {
		case "p":
			if len(f) != 6 {
				return nil, fmt.Errorf("policy line %d: want p, role, kind, relation, object, action; got %d fields", n, len(f))
			}
			r := Rule{Line: n, Role: f[1], Kind: f[2], Relation: f[3], Obj: f[4], Act: f[5]}
			if err := checkWord(n, "role", r.Role, Roles); err != nil {
				return nil, err
			}
			if err := checkWord(n, "agency kind", r.Kind, Kinds); err != nil {
				return nil, err
			}
			if err := checkWord(n, "relation", r.Relation, Relations); err != nil {
				return nil, err
			}
			acts, ok := Objects[r.Obj]
			if !ok {
				return nil, fmt.Errorf("policy line %d: unknown object type %q", n, r.Obj)
			}
			if err := checkWord(n, "action on "+r.Obj, r.Act, acts); err != nil {
				return nil, err
			}
			pol.Rules = append(pol.Rules, r)
		case "g":
			if len(f) != 3 {
				return nil, fmt.Errorf("policy line %d: want g, role, inherited role", n)
			}
			if err := checkWord(n, "role", f[1], Roles); err != nil {
				return nil, err
			}
			if err := checkWord(n, "role", f[2], Roles); err != nil {
				return nil, err
			}
			pol.Inherits = append(pol.Inherits, [2]string{f[1], f[2]})
		default:
			return nil, fmt.Errorf("policy line %d: unknown line type %q (want p or g)", n, f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return pol, nil
}

// LoadPolicyFile reads and validates a policy file ("" means the default).
func LoadPolicyFile(path string) (*Policy, error) {
	if path == "" {
		return ParsePolicy(defaultPolicy)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	pol, err := ParsePolicy(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pol, nil
}

func checkWord(line int, what, got string, allowed []string) error {
	if !slices.Contains(allowed, got) {
		return fmt.Errorf("policy line %d: unknown %s %q (known: %s)", line, what, got, strings.Join(allowed, ", "))
	}
	return nil
}

// engine is one loaded policy: a casbin enforcer plus a memo of Permitting
// answers. It is never mutated after build; a reload swaps in a new one.
type engine struct {
	policy  *Policy
	e       *casbin.Enforcer
	memo    sync.Map // permitKey -> []string
	allowed sync.Map // decisionKey -> decision
}

type permitKey struct{ roles, kind, obj, act string }

type decisionKey struct{ role, kind, rel, obj, act string }

type decision struct {
	ok   bool
	line string
}

// decide asks casbin once per distinct question and remembers the answer.
// casbin evaluates its matcher against every policy line (tens of
// microseconds for the default policy); the engine's policy never changes
// (a reload builds a new engine), so the memo is exact and bounded by
// roles × kinds × relations × permissions.
func (en *engine) decide(role, kind, rel, obj, act string) decision {
	k := decisionKey{role, kind, rel, obj, act}
	if v, ok := en.allowed.Load(k); ok {
		return v.(decision)
	}
	var d decision
	ok, expl, err := en.e.EnforceEx(role, kind, rel, obj, act)
	if err == nil && ok {
		d = decision{ok: true, line: "p, " + strings.Join(expl, ", ")}
	}
	en.allowed.Store(k, d)
	return d
}

func newEngine(pol *Policy) (*engine, error) {
	m, err := model.NewModelFromString(modelText)
	if err != nil {
		return nil, fmt.Errorf("authz: model: %w", err)
	}
	e, err := casbin.NewEnforcer(m)
	if err != nil {
		return nil, fmt.Errorf("authz: enforcer: %w", err)
	}
	e.EnableAutoSave(false)
	var ps [][]string
	for _, r := range pol.Rules {
		ps = append(ps, []string{r.Role, r.Kind, r.Relation, r.Obj, r.Act})
	}
	var gs [][]string
	for _, g := range pol.Inherits {
		gs = append(gs, []string{g[0], g[1]})
	}
	if len(ps) > 0 {
		if _, err := e.AddPolicies(ps); err != nil {
			return nil, fmt.Errorf("authz: load policy: %w", err)
		}
	}
	if len(gs) > 0 {
		if _, err := e.AddGroupingPolicies(gs); err != nil {
			return nil, fmt.Errorf("authz: load roles: %w", err)
		}
	}
	return &engine{policy: pol, e: e}, nil
}

// Engine decides with the current policy and can swap it atomically (SIGHUP
// reload): requests in flight finish on the policy they started with.
type Engine struct{ cur atomic.Pointer[engine] }

// NewEngine builds an Engine from a validated policy.
func NewEngine(pol *Policy) (*Engine, error) {
	en, err := newEngine(pol)
	if err != nil {
		return nil, err
	}
	e := &Engine{}
	e.cur.Store(en)
	return e, nil
}

// Reload swaps in a new policy; on error the old one stays.
func (e *Engine) Reload(pol *Policy) error {
	en, err := newEngine(pol)
	if err != nil {
		return err
	}
	e.cur.Store(en)
	return nil
}

// Allowed reports whether any of roles, in an agency of kind, holding
// relation, may do act on obj. It returns the policy lines that matched.
func (e *Engine) Allowed(roles []string, kind, relation, obj, act string) (bool, []string) {
	en := e.cur.Load()
	var matched []string
	for _, role := range roles {
		if !RoleAllowed(kind, role) {
			continue
		}
		if d := en.decide(role, kind, relation, obj, act); d.ok {
			matched = append(matched, d.line+" (as "+role+")")
		}
	}
	return len(matched) > 0, matched
}

// Permitting returns the relations that let roles (in an agency of kind) do
// act on obj. Lists put this set into their SQL.
func (e *Engine) Permitting(roles []string, kind, obj, act string) []string {
	en := e.cur.Load()
	sorted := slices.Clone(roles)
	slices.Sort(sorted)
	key := permitKey{strings.Join(sorted, ","), kind, obj, act}
	if v, ok := en.memo.Load(key); ok {
		return v.([]string)
	}
	var rels []string
	for _, rel := range Relations {
		for _, role := range sorted {
			if RoleAllowed(kind, role) && en.decide(role, kind, rel, obj, act).ok {
				rels = append(rels, rel)
				break
			}
		}
	}
	en.memo.Store(key, rels)
	return rels
}
