package cases_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/services/cases"
)

// BenchmarkCreateObservableDeconflicted measures recording one observable
// over HTTP (validation, authorization, lookup limit, digest lock, insert,
// digest match against 100,000 other agencies' values, audit) when every
// other value is a miss (miss) and when each one matches another agency's
// unshared case, writing two notices and four audit records (hit).
func BenchmarkCreateObservableDeconflicted(b *testing.B) {
	keys := filepath.Join(b.TempDir(), "deconfliction.keys")
	s := apptest.Start(b, func(c *app.Config) { c.DeconflictionKeyFile = keys; c.DeconflictionLookupsPerHour = 1 << 30 })
	ring, err := cases.LoadOrCreateKeyring(keys)
	require.NoError(b, err)
	ctx := context.Background()
	const n = 100_000
	var fbiCases []string
	for i := range 20 {
		r := s.Do(b, fbiAgent, "POST", "/v1/cases", map[string]any{"title": fmt.Sprintf("FBI bench %d", i)})
		require.Equal(b, http.StatusOK, r.Status)
		fbiCases = append(fbiCases, r.Str("id"))
	}
	var obs, dig [][]any
	now := time.Now()
	for i := range n {
		id := uuid.NewString()
		v := fmt.Sprintf("+1203%07d", i)
		obs = append(obs, []any{id, fbiCases[i%len(fbiCases)], "PHONE", v, v, "AMBER", now, demo.UserID(fbiAgent), fbiAgent,
			demo.AgencyID("fbi"), "CTFBINH00"})
		for _, d := range ring.Digests("PHONE", "", "", v) {
			dig = append(dig, []any{id, d.KeyID, d.Sum})
		}
	}
	_, err = s.Pool.CopyFrom(ctx, pgx.Identifier{"cases", "observables"}, []string{"id", "case_id", "type", "value", "canonical",
		"tlp", "create_time", "create_user_id", "create_user_email", "agency_id", "agency_ori"}, pgx.CopyFromRows(obs))
	require.NoError(b, err)
	_, err = s.Pool.CopyFrom(ctx, pgx.Identifier{"cases", "observable_digests"}, []string{"observable_id", "key_id", "digest"}, pgx.CopyFromRows(dig))
	require.NoError(b, err)
	_, err = s.Pool.Exec(ctx, "ANALYZE cases.observables; ANALYZE cases.observable_digests")
	require.NoError(b, err)

	// The same request path with no deconfliction: a note, for comparison.
	b.Run("note-baseline", func(b *testing.B) {
		r := s.Do(b, detective, "POST", "/v1/cases", map[string]any{"title": "CSP bench notes"})
		require.Equal(b, http.StatusOK, r.Status)
		path := "/v1/cases/" + r.Str("id") + "/notes"
		for b.Loop() {
			if r := s.Do(b, detective, "POST", path, map[string]any{"body": "bench"}); r.Status != http.StatusOK {
				b.Fatalf("status %d: %s", r.Status, r.Raw)
			}
		}
	})
	for _, mode := range []string{"miss", "hit"} {
		b.Run(mode, func(b *testing.B) {
			r := s.Do(b, detective, "POST", "/v1/cases", map[string]any{"title": "CSP bench " + mode})
			require.Equal(b, http.StatusOK, r.Status)
			path := "/v1/cases/" + r.Str("id") + "/observables"
			i := 0
			for b.Loop() {
				v := fmt.Sprintf("+1860%07d", i)
				if mode == "hit" {
					v = fmt.Sprintf("+1203%07d", i%n)
				}
				i++
				r := s.Do(b, detective, "POST", path, map[string]any{"type": "PHONE", "value": v})
				if r.Status != http.StatusOK {
					b.Fatalf("status %d: %s", r.Status, r.Raw)
				}
			}
		})
	}
}
