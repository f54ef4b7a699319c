package web

import "testing"

// After sign-in the user returns only to a path on this site.
func TestLocalPathStaysOnSite(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"/", "/cases?status=OPEN", "/cases/123#notes"} {
		if got := localPath(p); got != p {
			t.Errorf("localPath(%q) = %q, want it kept", p, got)
		}
	}
	for _, p := range []string{"//evil.example", "/\\evil.example", "/%09/evil.example", "/\t/evil.example",
		"https://evil.example/", "/%5Cevil.example", "evil.example", "/signin?next=/x", "", "/\n/evil.example",
		"http:/evil.example", "/%2F/evil.example"} {
		if got := localPath(p); got != "" {
			t.Errorf("localPath(%q) = %q, want it refused", p, got)
		}
	}
}
