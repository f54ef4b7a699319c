package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/pkg/pgtest"
	"github.com/casebridge/casebridge/pkg/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	agencyA = "11111111-1111-4111-8111-111111111111"
	agencyB = "22222222-2222-4222-8222-222222222222"
)

// setup returns a superuser pool on a fresh database holding n records in
// each of two chains, with values chosen to stress the round trip from the
// Go Event to the stored row and back (unsorted roles, NULL uuids, an
// upper-case case id, invalid UTF-8 and a NUL in a header, a change digest).
func setup(t *testing.T, n int) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	for i := range n {
		evs := []*Event{
			{AgencyID: agencyA, Time: time.Now().Add(time.Duration(i) * time.Nanosecond), RequestID: fmt.Sprint(i),
				UserID: uuid.NewString(), UserEmail: "a@a.example", AgencyORI: "CTAAAAAAA", Roles: []string{"supervisor", "auditor"},
				Service: "casebridge.cases.v1.CaseService", Method: "UpdateCase", Action: "UpdateCase",
				CaseID: "AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA", UserAgent: "curl\xff\x00/8",
				Outcome: OutcomeAllowed, StatusCode: "OK", Changes: []Change{{Field: "case.title", Hash: "ab"}}},
			{AgencyID: agencyB, Time: time.Now(), RequestID: fmt.Sprint(i), Service: "s", Method: "GetCase", Action: "GetCase",
				Outcome: OutcomeDenied, StatusCode: "NotFound"},
		}
		require.NoError(t, postgres.WithTx(ctx, pool, func(tx pgx.Tx) error { return appendEvents(ctx, tx, evs) }))
	}
	return pool
}

func verify(t *testing.T, pool *pgxpool.Pool, agency string) Report {
	t.Helper()
	r, err := Verify(context.Background(), pool, agency)
	require.NoError(t, err)
	return r
}

func exec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	_, err := pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err)
}

func TestVerifyIntact(t *testing.T) {
	t.Parallel()
	pool := setup(t, 5)
	reps, err := VerifyAll(context.Background(), pool)
	require.NoError(t, err)
	require.Len(t, reps, 2)
	for _, r := range reps {
		require.True(t, r.OK(), r.String())
		require.EqualValues(t, 5, r.Count)
		require.EqualValues(t, 5, r.HeadSeq)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	const forge = `INSERT INTO audit.events SELECT agency_id, 4, gen_random_uuid(), event_time, request_id, user_id,
		user_email, agency_ori, roles, client_addr, user_agent, service, method, action, resource_type, resource_id,
		case_id, outcome, status_code, purpose, recipient_agency_id, changes, prev_hash, hash
		FROM audit.events WHERE agency_id = $1 AND seq = 3`
	for _, tc := range []struct {
		name   string
		tamper []string
		seq    int64
		reason string
	}{
		{"update", []string{`UPDATE audit.events SET outcome = 'FAILED' WHERE agency_id = $1 AND seq = 3`}, 3, "record edited"},
		{"update roles", []string{`UPDATE audit.events SET roles = '{x}' WHERE agency_id = $1 AND seq = 2`}, 2, "record edited"},
		{"delete", []string{`DELETE FROM audit.events WHERE agency_id = $1 AND seq = 3`}, 3, "record missing"},
		{"delete first", []string{`DELETE FROM audit.events WHERE agency_id = $1 AND seq = 1`}, 1, "record missing"},
		{"swap", []string{
			`UPDATE audit.events SET seq = 1000 WHERE agency_id = $1 AND seq = 2`,
			`UPDATE audit.events SET seq = 2 WHERE agency_id = $1 AND seq = 4`,
			`UPDATE audit.events SET seq = 4 WHERE agency_id = $1 AND seq = 1000`,
		}, 2, "reordered"},
		{"insert", []string{
			`UPDATE audit.events SET seq = seq + 1000 WHERE agency_id = $1 AND seq >= 4`,
			`UPDATE audit.events SET seq = seq - 999 WHERE agency_id = $1 AND seq >= 1000`,
			forge,
		}, 4, "inserted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, agency := range []string{agencyA, agencyB} {
				pool := setup(t, 5)
				require.True(t, verify(t, pool, agency).OK())
				for _, sql := range tc.tamper {
					exec(t, pool, sql, agency)
				}
				r := verify(t, pool, agency)
				require.False(t, r.OK(), "%s not detected on %s", tc.name, agency)
				require.Equal(t, tc.seq, r.Problem.Seq, r.String())
				require.Contains(t, r.Problem.Reason, tc.reason)
				// The other chain is untouched.
				other := agencyB
				if agency == agencyB {
					other = agencyA
				}
				require.True(t, verify(t, pool, other).OK())
			}
		})
	}
}

func TestCheckpointDetectsCutTail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := setup(t, 5)
	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	cp, err := MakeCheckpoint(ctx, pool, key, time.Now())
	require.NoError(t, err)
	require.NoError(t, cp.CheckSignature(key.Public().(ed25519.PublicKey)))
	reps, err := cp.VerifyAgainst(ctx, pool, "")
	require.NoError(t, err)
	for _, r := range reps {
		require.True(t, r.OK(), r.String())
	}

	// More records later are fine.
	setupMore := func() {
		require.NoError(t, postgres.WithTx(ctx, pool, func(tx pgx.Tx) error {
			return appendEvents(ctx, tx, []*Event{{AgencyID: agencyA, Time: time.Now(), Service: "s", Method: "m", Action: "m", Outcome: OutcomeAllowed, StatusCode: "OK"}})
		}))
	}
	setupMore()
	reps, err = cp.VerifyAgainst(ctx, pool, agencyA)
	require.NoError(t, err)
	require.Len(t, reps, 1)
	require.True(t, reps[0].OK(), reps[0].String())

	// Cut the tail (the last three records of A): the chain still verifies
	// on its own, the checkpoint does not.
	exec(t, pool, `DELETE FROM audit.events WHERE agency_id = $1 AND seq >= 4`, agencyA)
	require.True(t, verify(t, pool, agencyA).OK())
	reps, err = cp.VerifyAgainst(ctx, pool, "")
	require.NoError(t, err)
	var broken []string
	for _, r := range reps {
		if !r.OK() {
			broken = append(broken, r.AgencyID)
			require.EqualValues(t, 5, r.Problem.Seq)
			require.Contains(t, r.Problem.Reason, "tail cut")
		}
	}
	require.Equal(t, []string{agencyA}, broken)

	// A tampered checkpoint or another key is refused.
	cp2 := *cp
	cp2.Chains = append([]CheckpointHead(nil), cp.Chains...)
	cp2.Chains[0].Seq = 1
	require.ErrorContains(t, cp2.CheckSignature(nil), "bad signature")
	other, _, _ := ed25519.GenerateKey(nil)
	require.ErrorContains(t, cp.CheckSignature(other), "other than the pinned")

	// A broken chain is never checkpointed.
	exec(t, pool, `UPDATE audit.events SET user_email = 'x' WHERE agency_id = $1 AND seq = 2`, agencyB)
	_, err = MakeCheckpoint(ctx, pool, key, time.Now())
	require.ErrorIs(t, err, ErrChainBroken)
}

func TestKeyFiles(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/k.pem"
	pub, err := GenerateKey(path)
	require.NoError(t, err)
	key, err := LoadKey(path)
	require.NoError(t, err)
	require.Equal(t, pub, key.Public())
	_, err = GenerateKey(path)
	require.Error(t, err, "must not overwrite")
}

// TestRuntimeRoleCannotEditTrail: the application's role appends and reads
// the trail but may neither update nor delete it; the migrating superuser can.
func TestRuntimeRoleCannotEditTrail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	app, err := postgres.Open(ctx, url, postgres.WithRole("casebridge_app"))
	require.NoError(t, err)
	defer app.Close()
	var role string
	require.NoError(t, app.QueryRow(ctx, `SELECT current_user`).Scan(&role))
	require.Equal(t, "casebridge_app", role)

	w := NewWriter(app, nil)
	defer w.Close()
	require.NoError(t, w.Append(ctx, &Event{AgencyID: agencyA, Time: time.Now(), Service: "s", Method: "m", Action: "m", Outcome: OutcomeAllowed, StatusCode: "OK"}))
	var n int
	require.NoError(t, app.QueryRow(ctx, `SELECT count(*) FROM audit.events`).Scan(&n))
	require.Equal(t, 1, n)

	for _, sql := range []string{
		`UPDATE audit.events SET outcome = 'DENIED'`,
		`DELETE FROM audit.events`,
		`TRUNCATE audit.events`,
	} {
		_, err := app.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		require.True(t, errors.As(err, &pgErr), "%s: %v", sql, err)
		require.Equal(t, "42501", pgErr.Code, sql) // insufficient_privilege
	}
	// The app role keeps its normal rights elsewhere.
	_, err = app.Exec(ctx, `SELECT count(*) FROM cases.cases`)
	require.NoError(t, err)

	su, err := postgres.Open(ctx, url)
	require.NoError(t, err)
	defer su.Close()
	_, err = su.Exec(ctx, `UPDATE audit.events SET outcome = 'DENIED'`)
	require.NoError(t, err)
}
