package pgtest

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, base, host string }{
		{"socket", "postgres://postgres@/postgres?host=%2Ftmp%2Fcbpg-1%2Fpostgres&port=5432&sslmode=disable", "/tmp/cbpg-1/postgres"},
		{"tcp", "postgres://postgres:pw@127.0.0.1:5432/postgres?sslmode=disable", "127.0.0.1"},
		{"no path", "postgresql://postgres@localhost", "localhost"},
		{"dbname param", "postgres://postgres@localhost/x?dbname=postgres", "localhost"},
		{"keyword/value", "host=/tmp/s dbname=postgres user=postgres", "/tmp/s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := withDatabase(tc.base, "casebridge_test_1")
			require.NoError(t, err)
			cfg, err := pgx.ParseConfig(got)
			require.NoError(t, err)
			require.Equal(t, "casebridge_test_1", cfg.Database)
			require.Equal(t, tc.host, cfg.Host)
			require.Equal(t, "postgres", cfg.User)
		})
	}
}
