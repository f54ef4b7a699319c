package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/auth/devissuer"
	"github.com/casebridge/casebridge/pkg/authz"
)

// world is a generated population: agencies of every kind, users of several
// roles, cases with random sharing and expiry.
type world struct {
	agencies []worldAgency
	users    []*auth.Principal
	cases    int
	groups   []string
}

type worldAgency struct{ id, ori, kind string }

var kinds = []string{"STATE", "MUNICIPAL", "REGIONAL", "FEDERAL"}

// generateWorld writes the world straight into the database.
func generateWorld(t testing.TB, s *apptest.System, seed uint64, nAgencies, nCases int) *world {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	w := &world{cases: nCases}
	roles := [][]string{{"detective"}, {"supervisor"}, {"analyst"}, {"liaison"}, {"auditor"}}
	var agencyRows, userRows [][]any
	for i := range nAgencies {
		a := worldAgency{uuid.NewString(), fmt.Sprintf("NY%07d", i), kinds[i%len(kinds)]}
		w.agencies = append(w.agencies, a)
		agencyRows = append(agencyRows, []any{a.id, a.ori, "Agency " + a.ori, a.kind})
		for j, r := range roles {
			if j >= 2 && rng.IntN(2) == 0 {
				continue
			}
			email := fmt.Sprintf("u%d.%d@%s.example", i, j, a.ori)
			p := &auth.Principal{UserID: uuid.NewString(), Email: email, AgencyID: a.id, AgencyORI: a.ori, AgencyKind: a.kind, Roles: r}
			w.users = append(w.users, p)
			userRows = append(userRows, []any{p.UserID, a.id, devissuer.Name, email, email, r})
		}
	}
	_, err := s.Pool.CopyFrom(ctx, pgx.Identifier{"liaison", "agencies"}, []string{"id", "ori", "name", "kind"}, pgx.CopyFromRows(agencyRows))
	require.NoError(t, err)
	_, err = s.Pool.CopyFrom(ctx, pgx.Identifier{"liaison", "users"}, []string{"id", "agency_id", "issuer", "subject", "email", "roles"}, pgx.CopyFromRows(userRows))
	require.NoError(t, err)

	var caseRows [][]any
	base := time.Now().Add(-48 * time.Hour).UTC()
	now := time.Now().UTC()
	past, soon := now.Add(-time.Hour), now.Add(24*time.Hour)

	// Agreements between agencies and with groups: none, in force
	// (contributor or viewer), lapsed, narrowed (two in force, the viewer
	// one governs), or not yet in force.
	groups := make([]string, 4)
	for i := range groups {
		groups[i] = uuid.NewString()
	}
	parties := make([]string, 0, len(w.agencies)+len(groups))
	for _, a := range w.agencies {
		parties = append(parties, a.id)
	}
	parties = append(parties, groups...)
	var agreements []authz.Agreement
	for i, a := range w.agencies {
		for _, b := range parties[i+1:] {
			ag := authz.Agreement{ID: uuid.NewString(), PartyA: a.id, PartyB: b, Title: "gen", MaxRelation: authz.RelContributor,
				EffectiveTime: base}
			switch rng.IntN(6) {
			case 0, 1:
				continue
			case 2:
				ag.MaxRelation = authz.RelViewer
			case 3:
				ag.ExpireTime = &past
			case 4:
				agreements = append(agreements, authz.Agreement{ID: uuid.NewString(), PartyA: a.id, PartyB: b, Title: "narrower",
					MaxRelation: authz.RelViewer, EffectiveTime: base.Add(time.Hour)})
			case 5:
				ag.EffectiveTime = soon
			}
			agreements = append(agreements, ag)
		}
	}
	// Memberships: each group has some agencies, current or ended, joined
	// before or after the cases were shared (snapshot grants tell them
	// apart).
	var members []authz.Membership
	for _, g := range groups {
		for _, a := range w.agencies {
			if rng.IntN(3) != 0 {
				continue
			}
			m := authz.Membership{GroupID: g, AgencyID: a.id, StartTime: base.Add(time.Duration(rng.IntN(4000)) * time.Second)}
			if rng.IntN(4) == 0 {
				m.EndTime = &past
			}
			members = append(members, m)
		}
	}

	var grants []authz.SeedGrant
	seen := map[string]bool{}
	add := func(g authz.SeedGrant) {
		k := fmt.Sprint(g.ResourceID, g.AgencyID, g.Relation, g.Source)
		if !seen[k] {
			seen[k] = true
			grants = append(grants, g)
		}
	}
	rels := []string{authz.RelContributor, authz.RelViewer, authz.RelRequester}
	for i := range nCases {
		lead := w.agencies[rng.IntN(len(w.agencies))]
		id := uuid.New()
		ct := base.Add(time.Duration(i) * time.Second)
		caseRows = append(caseRows, []any{id, fmt.Sprintf("%s-2026-%06d", lead.ori, i+1), lead.id, lead.ori,
			fmt.Sprintf("generated case %d", i), "OPEN", "MEDIUM", ct, ct, uuid.NewString(), "gen@example", "gen@example"})
		leadID := uuid.MustParse(lead.id)
		add(authz.SeedGrant{ResourceType: "case", ResourceID: id, AgencyID: leadID, Relation: authz.RelLead, LeadAgencyID: &leadID, CreateTime: ct})
		for range rng.IntN(5) {
			g := authz.SeedGrant{ResourceType: "case", ResourceID: id, LeadAgencyID: &leadID, CreateTime: ct,
				Relation: rels[rng.IntN(len(rels))]}
			switch rng.IntN(3) {
			case 0:
				g.ExpireTime = &past
			case 1:
				g.ExpireTime = &soon
			}
			if rng.IntN(2) == 0 {
				g.OverrideReason = "generated override"
			}
			switch rng.IntN(4) {
			case 0: // a task-force share
				g.Group, g.AgencyID = true, uuid.MustParse(groups[rng.IntN(len(groups))])
				if g.Relation == authz.RelRequester {
					g.Relation = authz.RelViewer
				}
				if rng.IntN(2) == 0 {
					g.Membership = authz.MembershipSnapshot
				}
			case 1: // an accepted referral
				g.Source = "referral:" + uuid.NewString()
				fallthrough
			default:
				other := w.agencies[rng.IntN(len(w.agencies))]
				if other.id == lead.id {
					continue
				}
				g.AgencyID = uuid.MustParse(other.id)
			}
			add(g)
		}
	}
	_, err = s.Pool.CopyFrom(ctx, pgx.Identifier{"cases", "cases"},
		[]string{"id", "case_number", "lead_agency_id", "lead_agency_ori", "title", "status", "priority", "create_time", "update_time", "create_user_id", "create_user_email", "update_user_email"},
		pgx.CopyFromRows(caseRows))
	require.NoError(t, err)
	require.NoError(t, pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		for _, a := range agreements {
			if err := authz.PutAgreement(ctx, tx, a); err != nil {
				return err
			}
		}
		for _, m := range members {
			if _, err := authz.PutMember(ctx, tx, nil, m); err != nil {
				return err
			}
		}
		return authz.SeedGrants(ctx, tx, grants)
	}))
	w.groups = groups

	// Churn through the door, as an acting user would: members join and
	// leave, agreements lapse and narrow.
	actor := w.users[0]
	require.NoError(t, pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		for range 30 {
			m := authz.Membership{GroupID: groups[rng.IntN(len(groups))], AgencyID: w.agencies[rng.IntN(len(w.agencies))].id,
				GroupLabel: "group", AgencyLabel: "agency", StartTime: now.Add(-time.Minute)}
			var err error
			if rng.IntN(2) == 0 {
				_, err = authz.PutMember(ctx, tx, actor, m)
			} else {
				_, err = authz.RemoveMember(ctx, tx, actor, m)
			}
			if err != nil {
				return err
			}
		}
		for range 30 {
			a := agreements[rng.IntN(len(agreements))]
			if rng.IntN(2) == 0 {
				a.ExpireTime = &past
			} else {
				a.MaxRelation = authz.RelViewer
			}
			if err := authz.PutAgreement(ctx, tx, a); err != nil {
				return err
			}
		}
		return nil
	}))
	return w
}

// TestListMatchesAuthorize holds both paths to one answer: for every user,
// List returns exactly the cases Authorize permits, across all pages.
func TestListMatchesAuthorize(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	w := generateWorld(t, s, 42, 24, 2000)
	pol, err := authz.LoadPolicyFile("")
	require.NoError(t, err)
	engine, err := authz.NewEngine(pol)
	require.NoError(t, err)
	az := authz.NewAuthorizer(engine)

	var ids []string
	checked := 0
	rows, err := s.Pool.Query(context.Background(), `SELECT id::text FROM cases.cases`)
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	require.Len(t, ids, w.cases)

	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	for _, u := range w.users {
		var listed []string
		token := ""
		for {
			r := s.Do(t, u.Email, "GET", "/v1/cases?page_size=100&page_token="+token, nil)
			if slices.Equal(u.Roles, []string{"auditor"}) {
				require.Equal(t, http.StatusForbidden, r.Status, "auditors read no cases")
				break
			}
			require.Equal(t, http.StatusOK, r.Status, "%s: %s", u.Email, r.Raw)
			for _, c := range r.List("cases") {
				listed = append(listed, c["id"].(string))
			}
			if token = r.Str("nextPageToken"); token == "" {
				break
			}
		}
		// Authorize every case the agency holds any relation to (expired
		// ones included) and a random sample of the others, which must all
		// be refused.
		var candidates []string
		// (directly, or through any group it ever belonged to).
		rows, err := s.Pool.Query(ctx, `SELECT DISTINCT resource_id::text FROM authz.relations WHERE resource_type = 'case'
			AND (agency_id = $1 OR agency_id = ANY($2::uuid[]))`, u.AgencyID, w.groups)
		require.NoError(t, err)
		for rows.Next() {
			var id string
			require.NoError(t, rows.Scan(&id))
			candidates = append(candidates, id)
		}
		require.NoError(t, rows.Err())
		var allowed []string
		for _, id := range candidates {
			if az.Authorize(ctx, s.Pool, u, "case", "read", authz.Resource{Type: "case", ID: id}) == nil {
				allowed = append(allowed, id)
			}
		}
		for range 20 {
			id := ids[rng.IntN(len(ids))]
			if !slices.Contains(candidates, id) {
				require.Error(t, az.Authorize(ctx, s.Pool, u, "case", "read", authz.Resource{Type: "case", ID: id}))
			}
		}
		slices.Sort(listed)
		slices.Sort(allowed)
		require.Equal(t, allowed, listed, "user %s (%v, %s)", u.Email, u.Roles, u.AgencyKind)
		checked += len(candidates)
	}
	t.Logf("%d users, %d cases, %d authorizations compared with their lists", len(w.users), len(ids), checked)
}
