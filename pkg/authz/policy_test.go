package authz

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefaultPolicyLoads(t *testing.T) {
	t.Parallel()
	pol, err := ParsePolicy(DefaultPolicyText())
	require.NoError(t, err)
	require.NotEmpty(t, pol.Rules)
	_, err = NewEngine(pol)
	require.NoError(t, err)
}

func TestParsePolicyRefusesUnknownWordsNamingTheLine(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]string{
		"p, detective, *, lead, case, read\np, detectve, *, lead, case, read": `policy line 2: unknown role "detectve"`,
		"p, detective, COUNTY, lead, case, read":                              `policy line 1: unknown agency kind "COUNTY"`,
		"# c\n\np, detective, *, owner, case, read":                           `policy line 3: unknown relation "owner"`,
		"p, detective, *, lead, file, read":                                   `policy line 1: unknown object type "file"`,
		"p, detective, *, lead, case, delete":                                 `policy line 1: unknown action on case "delete"`,
		"p, detective, *, lead, case":                                         "policy line 1: want p, role, kind, relation, object, action",
		"g, supervisor, boss":                                                 `policy line 1: unknown role "boss"`,
		"x, a, b":                                                             `policy line 1: unknown line type "x"`,
	} {
		_, err := ParsePolicy(text)
		require.ErrorContains(t, err, want, text)
	}
}

func TestEngineDecisions(t *testing.T) {
	t.Parallel()
	pol, err := ParsePolicy(`
g, supervisor, detective
p, detective, *, lead, case, read
p, supervisor, *, lead, case, close
p, detective, MUNICIPAL, requester, case, read
`)
	require.NoError(t, err)
	e, err := NewEngine(pol)
	require.NoError(t, err)
	for _, tc := range []struct {
		roles               []string
		kind, rel, obj, act string
		want                bool
	}{
		{[]string{"detective"}, "STATE", "lead", "case", "read", true},
		{[]string{"detective"}, "STATE", "lead", "case", "close", false},
		{[]string{"supervisor"}, "STATE", "lead", "case", "read", true}, // inherited
		{[]string{"supervisor"}, "STATE", "lead", "case", "close", true},
		{[]string{"detective"}, "MUNICIPAL", "requester", "case", "read", true},
		{[]string{"detective"}, "FEDERAL", "requester", "case", "read", false}, // kind matters
		{[]string{"analyst", "detective"}, "STATE", "lead", "case", "read", true},
		{nil, "STATE", "lead", "case", "read", false},
	} {
		got, _ := e.Allowed(tc.roles, tc.kind, tc.rel, tc.obj, tc.act)
		require.Equal(t, tc.want, got, "%v", tc)
	}
	require.Equal(t, []string{"lead", "requester"}, e.Permitting([]string{"detective"}, "MUNICIPAL", "case", "read"))
	require.Equal(t, []string{"lead"}, e.Permitting([]string{"detective"}, "FEDERAL", "case", "read"))

	// Reload swaps atomically; a refused policy keeps the old one.
	_, err = ParsePolicy("p, detective, *, lead, case, nope")
	require.Error(t, err)
	pol2, err := ParsePolicy("p, analyst, *, lead, case, read")
	require.NoError(t, err)
	require.NoError(t, e.Reload(pol2))
	got, _ := e.Allowed([]string{"detective"}, "STATE", "lead", "case", "read")
	require.False(t, got)
	require.True(t, slices.Equal([]string{"lead"}, e.Permitting([]string{"analyst"}, "STATE", "case", "read")))
}

// A public entity's users count only as reporters or admins (issue 19):
// given detective, analyst or liaison by mistake, they still reach no case.
func TestPublicEntityRolesNeverReachCases(t *testing.T) {
	pol, err := ParsePolicy(DefaultPolicyText())
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(pol)
	if err != nil {
		t.Fatal(err)
	}
	all := []string{"detective", "supervisor", "liaison", "analyst", "evidence_custodian", "auditor", "admin", "reporter"}
	for obj, acts := range Objects {
		for _, act := range acts {
			rels := e.Permitting(all, "PUBLIC_ENTITY", obj, act)
			switch obj {
			case "incident_report", "user", "contact", "liaison_assignment", "agreement", "webhook", "playbook":
				continue // the reporter's reports; the admin's own agency records (its webhooks receive its reports' notices)
			}
			if len(rels) > 0 {
				t.Errorf("a PUBLIC_ENTITY user may %s %s under %v", act, obj, rels)
			}
		}
	}
	if ok, _ := e.Allowed([]string{"reporter"}, "STATE", RelLead, "incident_report", "read"); ok {
		t.Error("reporter counts outside a public entity")
	}
	if ok, _ := e.Allowed([]string{"reporter"}, "PUBLIC_ENTITY", RelLead, "incident_report", "read"); !ok {
		t.Error("a public entity's reporter reads its own reports")
	}
}
