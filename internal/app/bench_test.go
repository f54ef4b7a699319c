package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/authz"
)

// seedAgencies adds n agencies with usersPer detectives each and returns
// them as principals (first user of each agency first).
func seedAgencies(b testing.TB, s *apptest.System, n, usersPer int) []*auth.Principal {
	b.Helper()
	var ags, users [][]any
	var out []*auth.Principal
	for i := range n {
		id := uuid.NewString()
		ori := fmt.Sprintf("PA%07d", i)
		kind := kinds[i%len(kinds)]
		ags = append(ags, []any{id, ori, "Agency " + ori, kind})
		for j := range usersPer {
			p := &auth.Principal{UserID: uuid.NewString(), Email: fmt.Sprintf("d%d@%s.example", j, ori), AgencyID: id, AgencyORI: ori, AgencyKind: kind, Roles: []string{"detective"}}
			users = append(users, []any{p.UserID, id, "bench", p.Email, p.Email, p.Roles})
			out = append(out, p)
		}
	}
	ctx := context.Background()
	_, err := s.Pool.CopyFrom(ctx, pgx.Identifier{"liaison", "agencies"}, []string{"id", "ori", "name", "kind"}, pgx.CopyFromRows(ags))
	require.NoError(b, err)
	_, err = s.Pool.CopyFrom(ctx, pgx.Identifier{"liaison", "users"}, []string{"id", "agency_id", "issuer", "subject", "email", "roles"}, pgx.CopyFromRows(users))
	require.NoError(b, err)
	return out
}

// seedCases adds n cases led by random agencies among leads, each shared
// with one or two other random agencies, and returns their ids.
func seedCases(b testing.TB, s *apptest.System, n int, leads []*auth.Principal, rng *rand.Rand) []string {
	b.Helper()
	var cases [][]any
	var rels []authz.SeedGrant
	ids := make([]string, n)
	base := time.Now().Add(-time.Duration(n) * time.Second).UTC()
	for i := range n {
		lead := leads[rng.IntN(len(leads))]
		ids[i] = uuid.NewString()
		ct := base.Add(time.Duration(i) * time.Second)
		cases = append(cases, []any{ids[i], fmt.Sprintf("%s-2026-%07d", lead.AgencyORI, i), lead.AgencyID, lead.AgencyORI,
			"bench case", "OPEN", "MEDIUM", ct, ct, lead.UserID, lead.Email, lead.Email})
		leadID := uuid.MustParse(lead.AgencyID)
		rels = append(rels, authz.SeedGrant{ResourceType: "case", ResourceID: uuid.MustParse(ids[i]), AgencyID: leadID,
			Relation: authz.RelLead, LeadAgencyID: &leadID})
		other := leads[rng.IntN(len(leads))]
		if other.AgencyID != lead.AgencyID {
			rels = append(rels, authz.SeedGrant{ResourceType: "case", ResourceID: uuid.MustParse(ids[i]), AgencyID: uuid.MustParse(other.AgencyID),
				Relation: authz.RelViewer, LeadAgencyID: &leadID, OverrideReason: "benchmark share"})
		}
	}
	ctx := context.Background()
	_, err := s.Pool.CopyFrom(ctx, pgx.Identifier{"cases", "cases"},
		[]string{"id", "case_number", "lead_agency_id", "lead_agency_ori", "title", "status", "priority", "create_time", "update_time", "create_user_id", "create_user_email", "update_user_email"},
		pgx.CopyFromRows(cases))
	require.NoError(b, err)
	require.NoError(b, pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error { return authz.SeedGrants(ctx, tx, rels) }))
	_, err = s.Pool.Exec(ctx, "ANALYZE")
	require.NoError(b, err)
	return ids
}

// BenchmarkAuthorize measures one object-level decision — relation lookup
// in PostgreSQL plus the casbin policy — at 200 agencies × 100 users and at
// 2,000 agencies, and the policy decision alone.
func BenchmarkAuthorize(b *testing.B) {
	pol, err := authz.LoadPolicyFile("")
	require.NoError(b, err)
	engine, err := authz.NewEngine(pol)
	require.NoError(b, err)
	az := authz.NewAuthorizer(engine)
	for _, size := range []struct{ agencies, users int }{{200, 100}, {2000, 5}} {
		b.Run(fmt.Sprintf("agencies=%d/users=%d", size.agencies, size.agencies*size.users), func(b *testing.B) {
			s := apptest.Start(b)
			rng := rand.New(rand.NewPCG(1, 2))
			users := seedAgencies(b, s, size.agencies, size.users)
			ids := seedCases(b, s, 20000, users, rng)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				p := users[(i*7919)%len(users)]
				_ = az.Authorize(ctx, s.Pool, p, "case", "read", authz.Resource{Type: "case", ID: ids[(i*104729)%len(ids)]})
			}
		})
	}
	b.Run("policy-only", func(b *testing.B) {
		roles := []string{"supervisor"}
		for b.Loop() {
			engine.Allowed(roles, "MUNICIPAL", authz.RelContributor, "note", "create")
		}
	})
}

// BenchmarkListCasesFirstPage measures the first page of ListCases through
// the gateway for a user whose agency sees about 1% of the cases.
func BenchmarkListCasesFirstPage(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("cases=%d", n), func(b *testing.B) {
			s := apptest.Start(b)
			rng := rand.New(rand.NewPCG(3, 4))
			users := seedAgencies(b, s, 200, 1)
			seedCases(b, s, n, users, rng)
			// Hartford (the benchmarking user's agency) views 1% of them.
			hartford := demo.AgencyID("hartford")
			seedViewer(b, s, hartford, n/100)
			tok := s.Token(b, "ofc.evans@hartford.example")
			client := &http.Client{}
			b.ResetTimer()
			for b.Loop() {
				req, _ := http.NewRequest("GET", s.URL+"/v1/cases?page_size=25", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("list: %v %v", err, resp)
				}
				resp.Body.Close()
			}
		})
	}
}

// seedViewer makes agency a viewer (by override: the generated world has no
// agreements) of the first n cases in id order.
func seedViewer(b *testing.B, s *apptest.System, agency string, n int) {
	ctx := context.Background()
	rows, err := s.Pool.Query(ctx, `SELECT id, lead_agency_id FROM cases.cases ORDER BY id LIMIT $1`, n)
	require.NoError(b, err)
	var gs []authz.SeedGrant
	for rows.Next() {
		var id, lead uuid.UUID
		require.NoError(b, rows.Scan(&id, &lead))
		gs = append(gs, authz.SeedGrant{ResourceType: "case", ResourceID: id, AgencyID: uuid.MustParse(agency),
			Relation: authz.RelViewer, LeadAgencyID: &lead, OverrideReason: "benchmark share"})
	}
	require.NoError(b, rows.Err())
	require.NoError(b, pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error { return authz.SeedGrants(ctx, tx, gs) }))
}

// BenchmarkResolveUser is the directory query every authenticated request
// runs (issue 13 added the revocation checks to it: a revoked token by
// SHA-256, sessions_valid_after), with 10,000 revoked tokens on file.
func BenchmarkResolveUser(b *testing.B) {
	s := apptest.Start(b)
	ctx := context.Background()
	alvarez := demo.UserID("det.alvarez@csp.example")
	rows := make([][]any, 10000)
	for i := range rows {
		h := make([]byte, 32)
		for j := range h {
			h[j] = byte(rand.IntN(256))
		}
		rows[i] = []any{h, alvarez, time.Now().Add(time.Hour)}
	}
	_, err := s.Pool.CopyFrom(ctx, pgx.Identifier{"liaison", "revoked_tokens"}, []string{"token_sha256", "user_id", "expire_time"}, pgx.CopyFromRows(rows))
	require.NoError(b, err)
	dir := auth.NewPostgresDirectory(s.Pool)
	c := &auth.Claims{Issuer: "dev", Subject: "det.alvarez@csp.example", IssuedAt: time.Now(), TokenHash: make([]byte, 32)}
	b.Run("with-revocation", func(b *testing.B) {
		for b.Loop() {
			if _, err := dir.ResolveUser(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The query as it was before issue 13, for comparison on this machine.
	b.Run("before-issue-13", func(b *testing.B) {
		var p auth.Principal
		for b.Loop() {
			if err := s.Pool.QueryRow(ctx, `SELECT u.id::text, u.email, u.display_name, u.roles, a.id::text, a.ori, a.name, a.kind
				FROM liaison.users u JOIN liaison.agencies a ON a.id = u.agency_id
				WHERE u.issuer = $1 AND u.subject = $2 AND u.active AND a.active`, c.Issuer, c.Subject).Scan(
				&p.UserID, &p.Email, &p.DisplayName, &p.Roles, &p.AgencyID, &p.AgencyORI, &p.AgencyName, &p.AgencyKind); err != nil {
				b.Fatal(err)
			}
		}
	})
}
