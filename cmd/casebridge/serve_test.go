package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// The flags reach the configuration: --issuers is read and validated with
// the one-issuer flags, which must say whom their issuer vouches for.
func TestIssuerFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "issuers.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`issuers:
  - name: hartford-entra
    url: https://login.example/hartford/v2.0
    audience: api://casebridge
    agencies: [CT0006400]
    claims: {roles: groups}
    roles: {HPD-Detectives: [detective]}
    requireMfa: true
`), 0o600))
	parse := func(args ...string) error {
		f := &serveFlags{}
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		f.register(fs, true)
		require.NoError(t, fs.Parse(append([]string{"--database-url", "postgres://x", "--grpc-plaintext"}, args...)))
		cfg := f.config()
		if err := cfg.Validate(); err != nil {
			return err
		}
		require.NotEmpty(t, cfg.Issuers)
		return nil
	}
	require.NoError(t, parse("--issuers", file))
	require.NoError(t, parse("--issuers", file, "--oidc-issuer", "https://idp.ct.gov/realms/cjis", "--oidc-audience", "casebridge",
		"--oidc-agencies", "*", "--oidc-state-wide", "--oidc-role-map", "cb-detective=detective", "--oidc-require-mfa"))
	require.Error(t, parse("--oidc-issuer", "https://idp.ct.gov/realms/cjis", "--oidc-audience", "casebridge"), "no agencies")
	require.Error(t, parse("--oidc-issuer", "https://idp.ct.gov/realms/cjis", "--oidc-audience", "casebridge", "--oidc-agencies", "*"),
		"* without --oidc-state-wide")
	require.Error(t, parse("--oidc-issuer", "https://idp.ct.gov/realms/cjis", "--oidc-audience", "casebridge",
		"--oidc-agencies", "CT0006400", "--oidc-role-map", "cb-admin=root"), "unknown role")
	require.Error(t, parse("--oidc-issuer", "https://idp.ct.gov/realms/cjis", "--oidc-audience", "casebridge",
		"--oidc-agencies", "CT0006400", "--oidc-role-map", "cb-admin"), "no role")
	require.Error(t, parse("--issuers", filepath.Join(t.TempDir(), "missing.yaml")))
}
