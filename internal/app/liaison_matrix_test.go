package app_test

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/casebridge/casebridge/internal/demo"
)

// LiaisonService calls for the authorization matrix (issue 6). Records the
// call acts on are made in SQL for the fixture's target agency ("member":
// the user's own, "other": another), fresh per call so rows stay independent.
func init() {
	for name, fn := range liaisonCalls {
		calls[name] = fn
	}
}

func mustExec(f *fixture, sql string, args ...any) {
	if _, err := f.s.Pool.Exec(context.Background(), sql, args...); err != nil {
		panic(err)
	}
}

func (f *fixture) contact() string {
	id := uuid.NewString()
	mustExec(f, `INSERT INTO liaison.contacts (id, agency_id, name, create_time, update_time) VALUES ($1, $2, 'm', now(), now())`, id, f.target)
	return id
}

// taskforce makes a task force sponsored by the target with Hartford (or
// New Haven) as member.
func (f *fixture) taskforce() (id, member string) {
	id = uuid.NewString()
	member = demo.AgencyID("newhaven")
	mustExec(f, `INSERT INTO liaison.taskforces (id, name, sponsor_agency_id, create_time, update_time) VALUES ($1, $2, $3, now(), now())`, id, "m-"+id, f.target)
	mustExec(f, `INSERT INTO liaison.taskforce_members (taskforce_id, agency_id, start_time) VALUES ($1, $2, now())`, id, member)
	return id, member
}

func (f *fixture) partner() string {
	if f.actor == demo.AgencyID("hartford") {
		return demo.AgencyID("csp")
	}
	return demo.AgencyID("hartford")
}

func (f *fixture) engagement() string {
	id := uuid.NewString()
	mustExec(f, `INSERT INTO liaison.engagements (id, agency_id, agency_ids, occur_time, channel, summary, create_user_id,
		create_user_email, create_time, update_time) VALUES ($1, $2, ARRAY[$2::uuid], now(), 'PHONE', 'm', $1, 'm', now(), now())`, id, f.target)
	return id
}

var liaisonCalls = map[string]func(f *fixture) call{
	"LiaisonService.ListContacts": func(f *fixture) call {
		return call{"GET", "/v1/agencies/" + f.target + "/contacts", nil, fmt.Sprintf(`{"agencyId": %q}`, f.target)}
	},
	"LiaisonService.CreateContact": func(f *fixture) call {
		return call{"POST", "/v1/agencies/" + f.target + "/contacts", map[string]any{"name": "m"},
			fmt.Sprintf(`{"agencyId": %q, "contact": {"name": "m"}}`, f.target)}
	},
	"LiaisonService.UpdateContact": func(f *fixture) call {
		id := f.contact()
		return call{"PATCH", "/v1/agencies/" + f.target + "/contacts/" + id, map[string]any{"title": "m"},
			fmt.Sprintf(`{"contact": {"id": %q, "agencyId": %q, "title": "m"}, "updateMask": "title"}`, id, f.target)}
	},
	"LiaisonService.DeleteContact": func(f *fixture) call {
		id := f.contact()
		return call{"DELETE", "/v1/agencies/" + f.target + "/contacts/" + id, nil,
			fmt.Sprintf(`{"agencyId": %q, "contactId": %q}`, f.target, id)}
	},
	"LiaisonService.ListLiaisonAssignments": func(f *fixture) call {
		return call{"GET", "/v1/agencies/" + f.target + "/liaisons", nil, fmt.Sprintf(`{"agencyId": %q}`, f.target)}
	},
	"LiaisonService.CreateLiaisonAssignment": func(f *fixture) call {
		// lt.chen is CSP's liaison officer; the row's assignment is removed
		// first so both transports create it.
		u, p := demo.UserID("lt.chen@csp.example"), demo.AgencyID("newhaven")
		mustExec(f, `DELETE FROM liaison.liaison_assignments WHERE user_id = $1 AND partner_agency_id = $2`, u, p)
		return call{"POST", "/v1/agencies/" + f.target + "/liaisons", map[string]any{"userId": u, "partnerAgencyId": p},
			fmt.Sprintf(`{"agencyId": %q, "liaison": {"userId": %q, "partnerAgencyId": %q}}`, f.target, u, p)}
	},
	"LiaisonService.DeleteLiaisonAssignment": func(f *fixture) call {
		id := uuid.NewString()
		mustExec(f, `DELETE FROM liaison.liaison_assignments WHERE agency_id = $1 AND partner_agency_id = $2`, f.target, demo.AgencyID("usss"))
		mustExec(f, `INSERT INTO liaison.liaison_assignments (id, agency_id, user_id, partner_agency_id, create_time)
			SELECT $1, $2, u.id, $3, now() FROM liaison.users u WHERE u.agency_id = $2 LIMIT 1`, id, f.target, demo.AgencyID("usss"))
		return call{"DELETE", "/v1/agencies/" + f.target + "/liaisons/" + id, nil,
			fmt.Sprintf(`{"agencyId": %q, "liaisonId": %q}`, f.target, id)}
	},
	"LiaisonService.ListTaskforces": func(f *fixture) call { return call{"GET", "/v1/taskforces", nil, `{}`} },
	"LiaisonService.GetTaskforce": func(f *fixture) call {
		id := demo.TaskforceID("ctcyber")
		return call{"GET", "/v1/taskforces/" + id, nil, fmt.Sprintf(`{"taskforceId": %q}`, id)}
	},
	"LiaisonService.CreateTaskforce": func(f *fixture) call {
		name := "m-" + uuid.NewString()
		return call{"POST", "/v1/taskforces", map[string]any{"name": name}, fmt.Sprintf(`{"taskforce": {"name": %q}}`, name)}
	},
	"LiaisonService.AddTaskforceMember": func(f *fixture) call {
		id, _ := f.taskforce()
		a := demo.AgencyID("usss")
		return call{"POST", "/v1/taskforces/" + id + "/members", map[string]any{"agencyId": a},
			fmt.Sprintf(`{"taskforceId": %q, "member": {"agencyId": %q}}`, id, a)}
	},
	"LiaisonService.RemoveTaskforceMember": func(f *fixture) call {
		id, m := f.taskforce()
		return call{"DELETE", "/v1/taskforces/" + id + "/members/" + m, nil,
			fmt.Sprintf(`{"taskforceId": %q, "agencyId": %q}`, id, m)}
	},
	"LiaisonService.ListAgreements": func(f *fixture) call { return call{"GET", "/v1/agreements", nil, `{}`} },
	"LiaisonService.GetAgreement": func(f *fixture) call {
		id := demo.AgreementID("fbi")
		return call{"GET", "/v1/agreements/" + id, nil, fmt.Sprintf(`{"agreementId": %q}`, id)}
	},
	"LiaisonService.CreateAgreement": func(f *fixture) call {
		p := f.partner()
		// In force only from 2099: agreements are decided at decision time,
		// and one in force now would cap the other rows' grants.
		return call{"POST", "/v1/agreements", map[string]any{"partnerAgencyId": p, "title": "m", "maxRelation": "RELATION_VIEWER",
			"effectiveTime": "2099-01-01T00:00:00Z"},
			fmt.Sprintf(`{"agreement": {"partnerAgencyId": %q, "title": "m", "maxRelation": "RELATION_VIEWER", "effectiveTime": "2099-01-01T00:00:00Z"}}`, p)}
	},
	"LiaisonService.UpdateAgreement": func(f *fixture) call {
		id := uuid.NewString()
		p := demo.AgencyID("usss")
		if f.target == p {
			p = demo.AgencyID("fbi")
		}
		mustExec(f, `INSERT INTO liaison.agreements (id, agency_id, partner_agency_id, title, max_relation, effective_time,
			create_time, update_time) VALUES ($1, $2, $3, 'm', 'viewer', '2099-01-01', now(), now())`, id, f.target, p)
		return call{"PATCH", "/v1/agreements/" + id, map[string]any{"title": "n"},
			fmt.Sprintf(`{"agreement": {"id": %q, "title": "n"}, "updateMask": "title"}`, id)}
	},
	"LiaisonService.CheckSharing": func(f *fixture) call {
		p := f.partner()
		return call{"GET", "/v1/agreements:check?partner_agency_id=" + p, nil, fmt.Sprintf(`{"partnerAgencyId": %q}`, p)}
	},
	"LiaisonService.ListEngagements": func(f *fixture) call { return call{"GET", "/v1/engagements", nil, `{}`} },
	"LiaisonService.GetEngagement": func(f *fixture) call {
		id := f.engagement()
		return call{"GET", "/v1/engagements/" + id, nil, fmt.Sprintf(`{"engagementId": %q}`, id)}
	},
	"LiaisonService.CreateEngagement": func(f *fixture) call {
		return call{"POST", "/v1/engagements", map[string]any{"channel": "CHANNEL_PHONE", "summary": "m"},
			`{"engagement": {"channel": "CHANNEL_PHONE", "summary": "m"}}`}
	},
	"LiaisonService.UpdateEngagement": func(f *fixture) call {
		id := f.engagement()
		return call{"PATCH", "/v1/engagements/" + id, map[string]any{"followUpDone": true},
			fmt.Sprintf(`{"engagement": {"id": %q, "followUpDone": true}, "updateMask": "followUpDone"}`, id)}
	},
}
