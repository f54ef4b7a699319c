package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/pkg/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func countCases(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT count(*) FROM cases.cases").Scan(&n))
	return n
}

func TestNewDatabaseIsolated(t *testing.T) {
	t.Parallel()
	urlA, urlB := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	require.NotEqual(t, urlA, urlB)
	a, b := connect(t, urlA), connect(t, urlB)

	var nameA, nameB string
	require.NoError(t, a.QueryRow(t.Context(), "SELECT current_database()").Scan(&nameA))
	require.NoError(t, b.QueryRow(t.Context(), "SELECT current_database()").Scan(&nameB))
	require.NotEqual(t, nameA, nameB)

	_, err := a.Exec(t.Context(), `INSERT INTO cases.cases (id, case_number, lead_agency_id, lead_agency_ori,
		title, status, priority, create_time, update_time, create_user_id, create_user_email, update_user_email)
		VALUES (gen_random_uuid(), 'C-1', gen_random_uuid(), 'CA0000000', 't', 'OPEN', 'P2', now(), now(),
		gen_random_uuid(), 'a@example.org', 'a@example.org')`)
	require.NoError(t, err)
	require.Equal(t, 1, countCases(t, a))
	require.Equal(t, 0, countCases(t, b))
}

func TestNewDatabaseDroppedAfterTest(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("uses", func(t *testing.T) {
		conn := connect(t, pgtest.NewDatabase(t))
		require.NoError(t, conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name))
		require.Equal(t, 0, countCases(t, conn)) // migrated; left open on purpose
	})
	other := connect(t, pgtest.NewDatabase(t))
	var exists bool
	require.NoError(t, other.QueryRow(t.Context(),
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists))
	require.False(t, exists, "database %s outlived its test", name)
}

func TestNewDatabaseManyInParallel(t *testing.T) {
	t.Parallel()
	for range 8 {
		t.Run("db", func(t *testing.T) {
			t.Parallel()
			require.Equal(t, 0, countCases(t, connect(t, pgtest.NewDatabase(t))))
		})
	}
}
