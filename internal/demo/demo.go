// Package demo seeds the demo world of DESIGN.md §6 — six Connecticut
// agencies and their users — for `casebridge dev`, the README walkthrough and
// the tests. Ids are derived from the agency key and e-mail address, and
// every insert is ON CONFLICT DO NOTHING, so seeding twice changes nothing.
package demo

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casebridge/casebridge/pkg/auth/devissuer"
	"github.com/casebridge/casebridge/pkg/postgres"
)

// Agency is a demo agency.
type Agency struct {
	Key, Name, Kind, ORI, Jurisdiction string
}

// User is a demo user.
type User struct {
	Email, Agency, DisplayName string
	Roles                      []string
}

// Agencies of the demo world.
var Agencies = []Agency{
	{"csp", "Connecticut State Police — Cyber Crimes Investigation Unit", "STATE", "CTCSP0000", "State of Connecticut"},
	{"hartford", "Hartford Police Department", "MUNICIPAL", "CT0006400", "City of Hartford"},
	{"newhaven", "New Haven Police Department", "MUNICIPAL", "CT0009300", "City of New Haven"},
	{"ctic", "Connecticut Intelligence Center", "REGIONAL", "CTCTIC000", "State of Connecticut"},
	{"fbi", "FBI New Haven Field Office", "FEDERAL", "CTFBINH00", "District of Connecticut"},
	{"usss", "U.S. Secret Service — New Haven", "FEDERAL", "CTUSSS000", "District of Connecticut"},
	// Public entities that report cyber incidents to the state (issue 19).
	// They have no NCIC ORI; the directory gives them identifiers of the
	// same shape.
	{"townofexample", "Town of Example", "PUBLIC_ENTITY", "CTTOEX000", "Town of Example"},
	{"exampleschools", "Example Regional School District", "PUBLIC_ENTITY", "CTERSD000", "Town of Example"},
}

// Sectors of the demo public entities (issue 19), by agency key.
var Sectors = map[string]string{
	"townofexample":  "MUNICIPAL_GOVERNMENT",
	"exampleschools": "K12_SCHOOL_DISTRICT",
}

// Users of the demo world.
var Users = []User{
	{"det.alvarez@csp.example", "csp", "Det. Maria Alvarez", []string{"detective"}},
	{"sgt.brooks@csp.example", "csp", "Sgt. James Brooks", []string{"supervisor"}},
	{"lt.chen@csp.example", "csp", "Lt. Wei Chen", []string{"liaison"}},
	{"ev.diaz@csp.example", "csp", "Evidence Tech. Ana Diaz", []string{"evidence_custodian"}},
	{"aud.ellis@csp.example", "csp", "Auditor Sam Ellis", []string{"auditor"}},
	{"admin@csp.example", "csp", "CSP Administrator", []string{"admin"}},
	// A second admin, so the two-person rule for privileged roles (issue
	// 13) can be walked through: one proposes, the other approves.
	{"adm.ford@csp.example", "csp", "Adm. Pat Ford", []string{"admin"}},
	{"ofc.evans@hartford.example", "hartford", "Ofc. Tom Evans", []string{"detective"}},
	{"sgt.fox@hartford.example", "hartford", "Sgt. Dana Fox", []string{"supervisor"}},
	{"det.foster@newhaven.example", "newhaven", "Det. Lee Foster", []string{"detective"}},
	// New Haven's supervisor works its referral inbox (accepts referrals).
	{"sgt.nolan@newhaven.example", "newhaven", "Sgt. Pat Nolan", []string{"supervisor"}},
	{"an.garcia@ctic.example", "ctic", "Analyst Rosa Garcia", []string{"analyst"}},
	{"sa.harris@fbi.example", "fbi", "SA Chris Harris", []string{"liaison"}},
	// A special agent who opens the field office's own cases (DESIGN.md §6).
	{"sa.jones@fbi.example", "fbi", "SA Jordan Jones", []string{"detective"}},
	{"sa.ito@usss.example", "usss", "SA Ken Ito", []string{"liaison"}},
	// Incident reporting (issue 19): a reporter in each public entity, the
	// town's administrator (adds reporters), and a second CTIC analyst on
	// the triage desk.
	{"it.director@townofexample.example", "townofexample", "Pat Rivera, IT Director", []string{"reporter"}},
	{"admin@townofexample.example", "townofexample", "Town of Example Administrator", []string{"admin"}},
	{"tech.coordinator@exampleschools.example", "exampleschools", "Sam Okafor, Technology Coordinator", []string{"reporter"}},
	{"an.hughes@ctic.example", "ctic", "Analyst Jamie Hughes", []string{"analyst"}},
}

var namespace = uuid.MustParse("6f1c8a52-3d0e-4f43-9b7e-2a9d4c1e5b70")

// AgencyID is the fixed id of a demo agency.
func AgencyID(key string) string { return uuid.NewSHA1(namespace, []byte("agency:"+key)).String() }

// UserID is the fixed id of a demo user.
func UserID(email string) string { return uuid.NewSHA1(namespace, []byte("user:"+email)).String() }

// Seed writes the demo world; it reports whether anything was new.
// Demo users are bound to the development issuer with their e-mail address
// as subject, which is what `casebridge dev token` mints.
func Seed(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	added := false
	err := postgres.WithTx(ctx, pool, func(tx pgx.Tx) error {
		for _, a := range Agencies {
			tag, err := tx.Exec(ctx, `INSERT INTO liaison.agencies (id, ori, name, kind, jurisdiction, sector)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, AgencyID(a.Key), a.ORI, a.Name, a.Kind, a.Jurisdiction, Sectors[a.Key])
			if err != nil {
				return fmt.Errorf("seed agency %s: %w", a.Key, err)
			}
			added = added || tag.RowsAffected() > 0
		}
		for _, u := range Users {
			tag, err := tx.Exec(ctx, `INSERT INTO liaison.users (id, agency_id, issuer, subject, email, display_name, roles)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
				UserID(u.Email), AgencyID(u.Agency), devissuer.Name, u.Email, u.Email, u.DisplayName, u.Roles)
			if err != nil {
				return fmt.Errorf("seed user %s: %w", u.Email, err)
			}
			added = added || tag.RowsAffected() > 0
		}
		n, err := seedLiaison(ctx, tx)
		if err != nil {
			return err
		}
		added = added || n > 0
		pn, err := seedPlaybooks(ctx, tx)
		if err != nil {
			return err
		}
		added = added || pn > 0
		return nil
	})
	return added, err
}
