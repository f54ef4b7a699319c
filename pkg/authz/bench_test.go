package authz

import "testing"

// BenchmarkAllowed is one policy decision (no database): what every
// Authorize costs on top of its relation lookup.
func BenchmarkAllowed(b *testing.B) {
	pol, err := ParsePolicy(DefaultPolicyText())
	if err != nil {
		b.Fatal(err)
	}
	e, err := NewEngine(pol)
	if err != nil {
		b.Fatal(err)
	}
	roles := []string{"supervisor"}
	for b.Loop() {
		e.Allowed(roles, "MUNICIPAL", RelContributor, "note", "create")
	}
}

// BenchmarkPermitting is the relation set a List puts into its SQL (memoized
// per roles, kind, object and action).
func BenchmarkPermitting(b *testing.B) {
	pol, _ := ParsePolicy(DefaultPolicyText())
	e, _ := NewEngine(pol)
	roles := []string{"detective"}
	for b.Loop() {
		e.Permitting(roles, "STATE", "case", "read")
	}
}
