package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/authz"
)

// Taskforce is a demo task force: its sponsor and members by agency key.
type Taskforce struct {
	Key, Name, Description, Sponsor string
	Members                         []string
}

// Agreement is a demo information-sharing agreement of csp with a partner
// agency or (Taskforce set) a task force.
type Agreement struct {
	Partner, Taskforce, Title, MaxRelation string
	Excluded                               []string
	// Expire, when set, is when the agreement ended.
	Expire *time.Time
}

// Contact is a demo point of contact.
type Contact struct {
	Agency, Name, Title, Phone, Email, DutyPhone string
	Topics                                       []string
}

// Taskforces of the demo world.
var Taskforces = []Taskforce{
	{"ctcyber", "Connecticut Cyber Task Force", "FBI-led federal/state task force on intrusions, ransomware and BEC",
		"csp", []string{"csp", "fbi", "usss", "ctic"}},
	{"cybercommittee", "Connecticut Cyber Security Committee", "State working group on municipal cyber resilience",
		"csp", []string{"csp", "ctic", "hartford", "newhaven"}},
}

// Agreements of the demo world: csp with each partner and each task force.
// Partners that work cases with the unit get contributor; New Haven (no
// signed MOU for case work in the demo) and the committee (a policy working
// group) get viewer. The maximums allow every share the tests make.
var Agreements = []Agreement{
	{Partner: "fbi", Title: "CSP–FBI New Haven cyber MOU", MaxRelation: "contributor", Excluded: []string{"JUVENILE_RECORDS"}},
	{Partner: "usss", Title: "CSP–USSS New Haven financial crimes MOU", MaxRelation: "contributor", Excluded: []string{"JUVENILE_RECORDS"}},
	{Partner: "ctic", Title: "CSP–CTIC fusion center information-sharing agreement", MaxRelation: "contributor",
		Excluded: []string{"VICTIM_PII", "INFORMANT_IDENTITY"}},
	// Lapsed: sharing with Hartford needs a supervisor's override (its
	// assistance requests still work: the requester relation is the
	// agency's own request, not a dissemination).
	{Partner: "hartford", Title: "CSP–Hartford PD mutual assistance agreement", MaxRelation: "contributor", Expire: &hartfordLapsed},
	{Partner: "newhaven", Title: "CSP–New Haven PD case visibility agreement", MaxRelation: "viewer",
		Excluded: []string{"INFORMANT_IDENTITY"}},
	{Taskforce: "ctcyber", Title: "Connecticut Cyber Task Force charter", MaxRelation: "contributor",
		Excluded: []string{"JUVENILE_RECORDS"}},
	{Taskforce: "cybercommittee", Title: "Cyber Security Committee information-sharing terms", MaxRelation: "viewer",
		Excluded: []string{"VICTIM_PII", "INFORMANT_IDENTITY", "GRAND_JURY"}},
}

// Contacts of the demo world: at least one per agency.
var Contacts = []Contact{
	{"csp", "Lt. Wei Chen", "CCIU Liaison Officer", "860-555-0110", "lt.chen@csp.example", "860-555-0199", []string{"task forces", "federal referrals", "deconfliction"}},
	{"csp", "Sgt. James Brooks", "CCIU Supervisor", "860-555-0111", "sgt.brooks@csp.example", "", []string{"case intake", "ransomware"}},
	{"hartford", "Sgt. Dana Fox", "Investigative Services", "860-555-0120", "sgt.fox@hartford.example", "860-555-0129", []string{"assistance requests"}},
	{"newhaven", "Det. Lee Foster", "Financial Crimes Unit", "203-555-0130", "det.foster@newhaven.example", "203-555-0139", []string{"fraud", "BEC"}},
	{"ctic", "Analyst Rosa Garcia", "Cyber Intelligence Analyst", "860-555-0140", "an.garcia@ctic.example", "860-555-0149", []string{"threat intelligence", "indicators"}},
	{"fbi", "SA Chris Harris", "Cyber Squad Liaison", "203-555-0150", "sa.harris@fbi.example", "203-555-0159", []string{"intrusions", "ransomware", "IC3", "deconfliction"}},
	{"usss", "SA Ken Ito", "Cyber Fraud Task Force", "203-555-0160", "sa.ito@usss.example", "203-555-0169", []string{"wire fraud", "cryptocurrency"}},
	{"townofexample", "Pat Rivera", "IT Director", "860-555-0170", "it.director@townofexample.example", "860-555-0179", []string{"incident reports"}},
	{"exampleschools", "Sam Okafor", "Technology Coordinator", "860-555-0180", "tech.coordinator@exampleschools.example", "", []string{"incident reports"}},
}

// Liaisons of the demo world: liaison officer e-mail → partner agency keys.
var Liaisons = map[string][]string{
	"lt.chen@csp.example":   {"fbi", "usss", "ctic"},
	"sa.harris@fbi.example": {"csp"},
	"sa.ito@usss.example":   {"csp"},
}

// TaskforceID is the fixed id of a demo task force.
func TaskforceID(key string) string {
	return uuid.NewSHA1(namespace, []byte("taskforce:"+key)).String()
}

// AgreementID is the fixed id of the demo agreement with a partner or task
// force key.
func AgreementID(key string) string {
	return uuid.NewSHA1(namespace, []byte("agreement:"+key)).String()
}

// demoEffective is when the demo agreements and memberships began.
var demoEffective = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// hartfordLapsed is when the demo's CSP–Hartford agreement ended.
var hartfordLapsed = time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)

func seedLiaison(ctx context.Context, tx pgx.Tx) (int64, error) {
	var added int64
	var last int64 // rows the latest exec added
	exec := func(what, sql string, args ...any) error {
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("seed %s: %w", what, err)
		}
		last = tag.RowsAffected()
		added += last
		return nil
	}
	for _, t := range Taskforces {
		if err := exec("task force "+t.Key, `INSERT INTO liaison.taskforces (id, name, description, sponsor_agency_id, create_time, update_time)
			VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING`, TaskforceID(t.Key), t.Name, t.Description, AgencyID(t.Sponsor), demoEffective); err != nil {
			return 0, err
		}
		for _, m := range t.Members {
			if err := exec("member "+m, `INSERT INTO liaison.taskforce_members (taskforce_id, agency_id, start_time)
				VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, TaskforceID(t.Key), AgencyID(m), demoEffective); err != nil {
				return 0, err
			}
			// The same membership as an authorization fact, through the door
			// (a new world: no case is shared yet, so nothing to record).
			// Only when new: a second run leaves what users changed alone.
			if last == 0 {
				continue
			}
			if _, err := authz.PutMember(ctx, tx, nil, authz.Membership{GroupID: TaskforceID(t.Key), AgencyID: AgencyID(m),
				StartTime: demoEffective}); err != nil {
				return 0, fmt.Errorf("seed member %s: %w", m, err)
			}
		}
	}
	for _, a := range Agreements {
		var partner, tf *string
		key := a.Partner
		if a.Partner != "" {
			id := AgencyID(a.Partner)
			partner = &id
		} else {
			id := TaskforceID(a.Taskforce)
			tf, key = &id, "taskforce:"+a.Taskforce
		}
		excluded := a.Excluded
		if excluded == nil {
			excluded = []string{}
		}
		if err := exec("agreement "+key, `INSERT INTO liaison.agreements (id, agency_id, partner_agency_id, taskforce_id, title,
			max_relation, excluded_categories, effective_time, expire_time, create_time, update_time)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $8) ON CONFLICT DO NOTHING`,
			AgreementID(key), AgencyID("csp"), partner, tf, a.Title, a.MaxRelation, excluded, demoEffective, a.Expire); err != nil {
			return 0, err
		}
		if last == 0 {
			continue
		}
		party := partner
		if party == nil {
			party = tf
		}
		if err := authz.PutAgreement(ctx, tx, authz.Agreement{ID: AgreementID(key), PartyA: AgencyID("csp"), PartyB: *party,
			Title: a.Title, MaxRelation: a.MaxRelation, Excluded: excluded, EffectiveTime: demoEffective, ExpireTime: a.Expire}); err != nil {
			return 0, fmt.Errorf("seed agreement %s: %w", key, err)
		}
	}
	for _, c := range Contacts {
		id := uuid.NewSHA1(namespace, []byte("contact:"+c.Agency+":"+c.Email)).String()
		if err := exec("contact "+c.Email, `INSERT INTO liaison.contacts (id, agency_id, name, title, phone, email, duty_phone, topics,
			create_time, update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT DO NOTHING`,
			id, AgencyID(c.Agency), c.Name, c.Title, c.Phone, c.Email, c.DutyPhone, c.Topics, demoEffective); err != nil {
			return 0, err
		}
	}
	for email, partners := range Liaisons {
		agency := ""
		for _, u := range Users {
			if u.Email == email {
				agency = u.Agency
			}
		}
		for _, p := range partners {
			id := uuid.NewSHA1(namespace, []byte("liaison:"+email+":"+p)).String()
			if err := exec("liaison "+email, `INSERT INTO liaison.liaison_assignments (id, agency_id, user_id, partner_agency_id, create_time)
				VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, id, AgencyID(agency), UserID(email), AgencyID(p), demoEffective); err != nil {
				return 0, err
			}
		}
	}
	return added, nil
}
