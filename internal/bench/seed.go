// Package bench is Casebridge's load tool (`casebridge bench`): it generates
// a statewide world straight into the database, drives the HTTP API with a
// realistic mix, measures the database's own limit for the equivalent raw SQL
// as a baseline, and reports throughput and latency percentiles.
package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/schollz/progressbar/v3"

	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/auth/devissuer"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/services/evidence"
	"github.com/casebridge/casebridge/services/referrals"
)

// SeedOptions sizes a generated world.
type SeedOptions struct {
	Agencies       int     // agencies (ORIs BN0000000…), kinds in rotation
	UsersPerAgency int     // detectives per agency (plus a supervisor and an evidence custodian)
	Cases          int     // cases to add
	NotesPerCase   int     // timeline notes per case
	ShareRate      float64 // probability a case is shared with one other agency
	EvidenceRate   float64 // probability a case has an exhibit (with its custody chain)
	ReferralRate   float64 // probability a case is referred (submitted) to another agency
	Seed           uint64  // same seed, same world
}

// DefaultSeed is a modest world: 100 agencies, so each agency leads ~1% of
// the cases.
var DefaultSeed = SeedOptions{Agencies: 100, UsersPerAgency: 3, Cases: 10000, NotesPerCase: 2, ShareRate: 0.2,
	EvidenceRate: 0.1, ReferralRate: 0.05, Seed: 1}

var kinds = []string{"STATE", "MUNICIPAL", "REGIONAL", "FEDERAL"}

// AgencyORI is the ORI of generated agency i.
func AgencyORI(i int) string { return fmt.Sprintf("BN%07d", i) }

// UserEmail is the e-mail of generated user j of agency i; users are bound to
// the development issuer with their e-mail as subject, so `bench run` can
// mint their tokens. Users 0…UsersPerAgency-1 are detectives, then one
// supervisor, then one evidence custodian.
func UserEmail(i, j int) string {
	return fmt.Sprintf("det%d@%s.bench.example", j, strings.ToLower(AgencyORI(i)))
}

var namespace = uuid.MustParse("0b7e4d7e-8a8e-4a3c-9d0f-5b5a6c1e2f30")

func agencyID(i int) string { return uuid.NewSHA1(namespace, []byte(AgencyORI(i))).String() }

// Seed writes the world. Agencies and users are idempotent (re-running adds
// only cases); cases are appended after those already present, so a world
// grows 10k → 100k → 1M by seeding the difference.
func Seed(ctx context.Context, pool *pgxpool.Pool, o SeedOptions, progress io.Writer) error {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed*0x9e3779b97f4a7c15+1))
	var ags, users [][]any
	for i := range o.Agencies {
		ags = append(ags, []any{agencyID(i), AgencyORI(i), "Bench agency " + AgencyORI(i), kinds[i%len(kinds)]})
		for j := range o.UsersPerAgency + 2 {
			role := "detective"
			switch j {
			case o.UsersPerAgency:
				role = "supervisor"
			case o.UsersPerAgency + 1:
				role = "evidence_custodian"
			}
			email := UserEmail(i, j)
			users = append(users, []any{uuid.NewSHA1(namespace, []byte(email)).String(), agencyID(i), devissuer.Name, email, email, []string{role}})
		}
	}
	if err := upsert(ctx, pool, "liaison", "agencies", []string{"id", "ori", "name", "kind"}, ags); err != nil {
		return err
	}
	if err := upsert(ctx, pool, "liaison", "users", []string{"id", "agency_id", "issuer", "subject", "email", "roles"}, users); err != nil {
		return err
	}

	var start int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM cases.cases`).Scan(&start); err != nil {
		return fmt.Errorf("bench: count cases: %w", err)
	}
	bar := progressbar.NewOptions(o.Cases, progressbar.OptionSetWriter(progress), progressbar.OptionSetDescription("cases"),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionThrottle(200*time.Millisecond))
	const batch = 5000
	base := time.Now().Add(-time.Duration(start+o.Cases) * time.Second).UTC()
	for done := 0; done < o.Cases; {
		n := min(batch, o.Cases-done)
		var cases, notes [][]any
		var rels []authz.SeedGrant
		type extra struct {
			caseID, number, title, summary string
			lead                           int
			at                             time.Time
			evidence                       bool
			referTo                        int // -1: none
		}
		var extras []extra
		for k := range n {
			i := start + done + k
			lead := rng.IntN(o.Agencies)
			id := uuid.New()
			ct := base.Add(time.Duration(i) * time.Second)
			user := uuid.NewSHA1(namespace, []byte(UserEmail(lead, 0)))
			number := fmt.Sprintf("%s-%04d-%07d", AgencyORI(lead), ct.Year(), i+1)
			title, summary := fmt.Sprintf("Generated case %d: %s", i, words(rng, 4)), words(rng, 20)
			cases = append(cases, []any{id, number, agencyID(lead), AgencyORI(lead),
				title, summary, "OPEN", "MEDIUM", ct, ct, user, UserEmail(lead, 0), UserEmail(lead, 0)})
			leadID := uuid.MustParse(agencyID(lead))
			rels = append(rels, authz.SeedGrant{ResourceType: "case", ResourceID: id, AgencyID: leadID, Relation: authz.RelLead, LeadAgencyID: &leadID})
			if rng.Float64() < o.ShareRate {
				other := rng.IntN(o.Agencies)
				if other != lead {
					// The generated world has no agreements: shares carry an
					// override, as a supervisor's would.
					rels = append(rels, authz.SeedGrant{ResourceType: "case", ResourceID: id, AgencyID: uuid.MustParse(agencyID(other)),
						Relation: authz.RelContributor, LeadAgencyID: &leadID, OverrideReason: "generated load-test share", Reason: "bench seed"})
				}
			}
			if ev, rf := rng.Float64() < o.EvidenceRate, rng.Float64() < o.ReferralRate; ev || rf {
				x := extra{caseID: id.String(), number: number, title: title, summary: summary, lead: lead, at: ct,
					evidence: ev, referTo: -1}
				if rf {
					if to := rng.IntN(o.Agencies); to != lead {
						x.referTo = to
					}
				}
				extras = append(extras, x)
			}
			for range o.NotesPerCase {
				notes = append(notes, []any{uuid.New(), id, "NOTE", words(rng, 12), user, UserEmail(lead, 0), uuid.MustParse(agencyID(lead)), AgencyORI(lead), ct})
			}
		}
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cases", "cases"}, []string{"id", "case_number", "lead_agency_id", "lead_agency_ori",
				"title", "summary", "status", "priority", "create_time", "update_time", "create_user_id", "create_user_email", "update_user_email"}, pgx.CopyFromRows(cases)); err != nil {
				return err
			}
			if err := authz.SeedGrants(ctx, tx, rels); err != nil {
				return err
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cases", "notes"}, []string{"id", "case_id", "kind", "body", "author_user_id", "author_email", "agency_id", "agency_ori", "create_time"}, pgx.CopyFromRows(notes)); err != nil {
				return err
			}
			// Exhibits and referrals go through their services' own write
			// paths (custody chain hashes, relations), row by row.
			for _, x := range extras {
				p := principalOf(x.lead, 0)
				if x.evidence {
					sha := fmt.Sprintf("%016x%016x%016x%016x", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64())
					if _, err := evidence.SeedItem(ctx, tx, p, x.caseID, x.number, "Disk image "+words(rng, 2), sha, int64(rng.IntN(1<<30)), x.at); err != nil {
						return err
					}
				}
				if x.referTo >= 0 {
					to := referrals.SeedTarget{ID: agencyID(x.referTo), ORI: AgencyORI(x.referTo), Name: "Bench agency " + AgencyORI(x.referTo)}
					if _, err := referrals.SeedReferral(ctx, tx, principalOf(x.lead, o.UsersPerAgency), "Bench agency "+AgencyORI(x.lead), to,
						x.caseID, x.number, x.title, x.summary, x.at, 72*time.Hour); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("bench: seed cases: %w", err)
		}
		done += n
		_ = bar.Add(n)
	}
	_ = bar.Finish()
	fmt.Fprintln(progress)
	if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("bench: analyze: %w", err)
	}
	return nil
}

// principalOf is generated user j of agency i as the services see it.
func principalOf(i, j int) *auth.Principal {
	email := UserEmail(i, j)
	return &auth.Principal{UserID: uuid.NewSHA1(namespace, []byte(email)).String(), Email: email,
		AgencyID: agencyID(i), AgencyORI: AgencyORI(i), AgencyKind: kinds[i%len(kinds)]}
}

func upsert(ctx context.Context, pool *pgxpool.Pool, schema, table string, cols []string, rows [][]any) error {
	// COPY cannot skip conflicts: copy into a temporary table, then insert
	// what is missing.
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tmp := "bench_" + table
		if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TEMP TABLE %s (LIKE %s.%s INCLUDING DEFAULTS) ON COMMIT DROP`, tmp, schema, table)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{tmp}, cols, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.%s SELECT * FROM %s ON CONFLICT DO NOTHING`, schema, table, tmp))
		return err
	})
}

var vocabulary = []string{"ransomware", "invoice", "wire", "phishing", "bitcoin", "wallet", "exchange", "server", "email",
	"victim", "account", "transfer", "subpoena", "warrant", "router", "malware", "payroll", "vendor", "clinic", "school",
	"municipal", "extortion", "credential", "breach", "domain", "spoofed", "mule", "gift", "card", "romance"}

func words(rng *rand.Rand, n int) string {
	b := make([]byte, 0, n*8)
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, vocabulary[rng.IntN(len(vocabulary))]...)
	}
	return string(b)
}
