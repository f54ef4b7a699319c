package notifications_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/app"
	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
)

const (
	hartfordOfficer = "ofc.evans@hartford.example"
	hartfordSgt     = "sgt.fox@hartford.example"
	hartfordAdmin   = "sgt.fox@hartford.example" // no demo admin at Hartford: its supervisor stands in where refusal is tested
	cspSupervisor   = "sgt.brooks@csp.example"
	cspLiaison      = "lt.chen@csp.example"
	cspDetective    = "det.alvarez@csp.example"
	cspAdmin        = "admin@csp.example"
	fbiLiaison      = "sa.harris@fbi.example"
	secret          = "s3cret-for-the-receiver"
	summaryText     = "Town hall file server encrypted overnight"
)

type world struct {
	*apptest.System
	mail *mailbox
}

// start boots the system with an SMTP server and private webhook targets
// allowed (the receivers listen on loopback), and fast retries.
func start(t *testing.T, edit ...func(*app.Config)) *world { return startB(t, edit...) }

func startB(t testing.TB, edit ...func(*app.Config)) *world {
	t.Helper()
	mb := newMailbox(t)
	s := apptest.Start(t, append([]func(*app.Config){func(c *app.Config) {
		c.SMTPURL, c.SMTPFrom = "smtp://"+mb.addr, "casebridge@csp.example"
		c.WebhookAllowPrivate = true
		c.WebhookRetryBase = 200 * time.Millisecond
		c.JobPollInterval = 200 * time.Millisecond
	}}, edit...)...)
	return &world{System: s, mail: mb}
}

func ok(t testing.TB, r *apptest.Response) *apptest.Response {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	return r
}

func assistanceBody() map[string]any {
	return map[string]any{
		"kind":       "REFERRAL_KIND_ASSISTANCE_REQUEST",
		"toAgencyId": demo.AgencyID("csp"),
		"summary":    summaryText + "; ransom note demands 4 BTC.",
		"assistanceRequest": map[string]any{
			"helpWanted": []string{"HELP_WANTED_DIGITAL_FORENSICS"},
			"urgency":    "URGENCY_PRIORITY",
			"contact":    map[string]any{"name": "Ofc. Evans", "email": "ofc.evans@hartford.example"},
		},
	}
}

// submit files and submits the demo assistance request as Hartford.
func (w *world) submit(t *testing.T) (id, number string) { return w.submitB(t) }

func (w *world) submitB(t testing.TB) (id, number string) {
	t.Helper()
	id = ok(t, w.Do(t, hartfordOfficer, "POST", "/v1/referrals", assistanceBody())).Str("id")
	number = ok(t, w.Do(t, hartfordOfficer, "POST", "/v1/referrals/"+id+":submit", map[string]any{})).Str("referralNumber")
	return id, number
}

func (w *world) hook(t *testing.T, admin, agency, url string, events ...string) string {
	t.Helper()
	if admin != cspAdmin {
		return addAdminHook(t, w.System, agency, url, events)
	}
	body := map[string]any{"url": url, "secret": secret, "description": "SOC intake"}
	if len(events) > 0 {
		body["events"] = events
	}
	return ok(t, w.Do(t, admin, "POST", "/v1/agencies/"+demo.AgencyID(agency)+"/webhooks", body)).Str("id")
}

func inbox(t *testing.T, w *world, email string) []map[string]any {
	t.Helper()
	return ok(t, w.Do(t, email, "GET", "/v1/notifications", nil)).List("notifications")
}

func events(ns []map[string]any) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n["event"].(string))
	}
	return out
}

const wait = 30 * time.Second

// TestSubmitNotifiesTheRecipient is the first "must hold":
// submitting the demo assistance request e-mails CSP's supervisors (number
// and link, none of the summary) and posts a signed webhook to CSP's
// endpoint. Nobody at another agency hears of it.
func TestSubmitNotifiesTheRecipient(t *testing.T) {
	t.Parallel()
	w := start(t)
	csp := newReceiver(t, secret, 0)
	hartford := newReceiver(t, secret, 0)
	fbi := newReceiver(t, secret, 0)
	w.hook(t, cspAdmin, "csp", csp.URL)
	w.hook(t, "fixture", "hartford", hartford.URL, "referral.submitted")
	fbiHook := w.hook(t, "fixture", "fbi", fbi.URL)
	_ = fbiHook

	id, number := w.submit(t)
	require.NotEmpty(t, number)

	require.Eventually(t, func() bool { return len(w.mail.to(cspSupervisor)) == 1 && len(csp.got()) == 1 }, wait, 50*time.Millisecond)
	m := w.mail.to(cspSupervisor)[0]
	require.Contains(t, m.Data, number)
	require.Contains(t, m.Data, w.URL+"/referrals/"+id)
	require.NotContains(t, m.Data, summaryText)
	require.NotContains(t, m.Data, "ransom")
	require.NotContains(t, m.Data, "Evans", "no names in e-mail")
	require.Contains(t, m.Data, "Subject: [Casebridge] New referral "+number+" received")

	ev := csp.got()[0]
	require.Equal(t, "referral.submitted", ev["type"])
	require.Equal(t, number, ev["number"])
	require.Equal(t, demo.AgencyID("csp"), ev["agencyId"])
	require.NotContains(t, strings.ToLower(toJSON(ev)), "ransom")

	// The inbox: CSP's supervisor and liaison; not its detective, not
	// Hartford, not the FBI.
	require.Equal(t, []string{"referral.submitted"}, events(inbox(t, w, cspSupervisor)))
	require.Equal(t, []string{"referral.submitted"}, events(inbox(t, w, cspLiaison)))
	require.Empty(t, inbox(t, w, cspDetective))
	require.Empty(t, inbox(t, w, hartfordOfficer))
	require.Empty(t, inbox(t, w, fbiLiaison))
	require.EqualValues(t, 1, ok(t, w.Do(t, cspSupervisor, "GET", "/v1/notifications:unreadCount", nil)).Get("unread"))

	// Acknowledging tells the sender: the filing officer and Hartford's
	// supervisor, and Hartford's hook if subscribed (it is not, to this).
	ok(t, w.Do(t, cspSupervisor, "POST", "/v1/referrals/"+id+":acknowledge", map[string]any{}))
	require.Eventually(t, func() bool {
		return len(inbox(t, w, hartfordOfficer)) == 1 && len(inbox(t, w, hartfordSgt)) == 1
	}, wait, 50*time.Millisecond)
	require.Equal(t, []string{"referral.acknowledged"}, events(inbox(t, w, hartfordOfficer)))
	require.Eventually(t, func() bool { return len(w.mail.to(hartfordOfficer)) == 1 }, wait, 50*time.Millisecond)

	// Marking read.
	n := inbox(t, w, cspSupervisor)[0]
	r := ok(t, w.Do(t, cspSupervisor, "POST", "/v1/notifications/"+n["id"].(string)+":markRead", map[string]any{}))
	require.Equal(t, true, r.Get("notification.read"))
	require.EqualValues(t, 0, ok(t, w.Do(t, cspSupervisor, "GET", "/v1/notifications:unreadCount", nil)).Get("unread"))
	// Another user's notification is invisible.
	require.Equal(t, http.StatusNotFound, w.Do(t, cspLiaison, "POST", "/v1/notifications/"+n["id"].(string)+":markRead", map[string]any{}).Status)

	time.Sleep(time.Second) // let any stray delivery arrive
	require.Empty(t, hartford.got(), "Hartford's hook is subscribed to submissions, but Hartford is the sender: CSP was told")
	require.Empty(t, fbi.got())
	_, bad := csp.stats()
	require.Zero(t, bad)
	require.Len(t, w.mail.to(cspSupervisor), 1)
	require.Len(t, w.mail.to(cspDetective), 0)
}

// TestWebhookRetries: an endpoint failing twice receives the event on the
// third try, and the delivery log shows all three attempts.
func TestWebhookRetries(t *testing.T) {
	t.Parallel()
	w := start(t)
	rc := newReceiver(t, secret, 2)
	hook := w.hook(t, cspAdmin, "csp", rc.URL, "referral.submitted")
	w.submit(t)
	require.Eventually(t, func() bool { return len(rc.got()) == 1 }, wait, 50*time.Millisecond)
	path := "/v1/agencies/" + demo.AgencyID("csp") + "/webhooks/" + hook + "/deliveries"
	var ds []map[string]any
	require.Eventually(t, func() bool {
		ds = ok(t, w.Do(t, cspAdmin, "GET", path, nil)).List("deliveries")
		return len(ds) == 3
	}, wait, 50*time.Millisecond)
	// Newest first: success on attempt 3 after two 500s.
	require.Equal(t, true, ds[0]["success"])
	require.EqualValues(t, 3, ds[0]["attempt"])
	for i, d := range ds[1:] {
		require.Equal(t, false, d["success"])
		require.EqualValues(t, 500, d["statusCode"])
		require.EqualValues(t, 2-i, d["attempt"])
	}
	requests, _ := rc.stats()
	require.Equal(t, 3, requests)

	// The log is the agency admins'.
	require.Equal(t, http.StatusForbidden, w.Do(t, cspSupervisor, "GET", path, nil).Status)
	require.Equal(t, http.StatusForbidden, w.Do(t, hartfordAdmin, "GET", path, nil).Status)
	var n int
	require.NoError(t, w.Pool.QueryRow(t.Context(), `SELECT count(*) FROM notify.webhook_deliveries d JOIN notify.webhooks h ON h.id = d.webhook_id
		WHERE h.agency_id <> $1`, demo.AgencyID("csp")).Scan(&n))
	require.Zero(t, n)

	// Send test.
	ok(t, w.Do(t, cspAdmin, "POST", "/v1/agencies/"+demo.AgencyID("csp")+"/webhooks/"+hook+":test", map[string]any{}))
	require.Eventually(t, func() bool { return len(rc.got()) == 2 }, wait, 50*time.Millisecond)
	require.Equal(t, "webhook.test", rc.got()[1]["type"])
}

// TestAckOverdueEscalatesOnce: with a 2s acknowledgement deadline an
// unacknowledged request escalates to the recipient's supervisors and the
// sender, once.
func TestAckOverdueEscalatesOnce(t *testing.T) {
	t.Parallel()
	w := start(t, func(c *app.Config) { c.ReferralAckDue = 2 * time.Second })
	rc := newReceiver(t, secret, 0)
	w.hook(t, cspAdmin, "csp", rc.URL, "referral.ack_overdue")
	id, number := w.submit(t)
	acked, _ := w.submit(t)
	ok(t, w.Do(t, cspSupervisor, "POST", "/v1/referrals/"+acked+":acknowledge", map[string]any{}))

	overdue := func(email string) int {
		n := 0
		for _, e := range events(inbox(t, w, email)) {
			if e == "referral.ack_overdue" {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool {
		return overdue(cspSupervisor) == 1 && overdue(hartfordOfficer) == 1 && overdue(hartfordSgt) == 1
	}, wait, 100*time.Millisecond)
	require.Eventually(t, func() bool { return len(rc.got()) == 1 }, wait, 50*time.Millisecond)
	require.Equal(t, number, rc.got()[0]["number"])
	require.Zero(t, overdue(cspLiaison), "escalation goes to the recipient's supervisors")
	require.Zero(t, overdue(cspDetective))

	time.Sleep(3 * time.Second)
	require.Equal(t, 1, overdue(cspSupervisor), "once")
	require.Equal(t, 1, overdue(hartfordOfficer), "once")
	require.Len(t, rc.got(), 1, "only the unacknowledged request escalated, once")
	var jobs int
	require.NoError(t, w.Pool.QueryRow(t.Context(), `SELECT count(*) FROM river.river_job WHERE kind = 'referral_ack_due' AND state = 'completed'`).Scan(&jobs))
	require.Equal(t, 2, jobs)
	_ = id
}

// TestWebhookRules: only an agency's admins manage its webhooks; targets
// are validated; bad input names the field.
func TestWebhookRules(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t) // without --webhook-allow-private
	base := "/v1/agencies/" + demo.AgencyID("csp") + "/webhooks"
	good := map[string]any{"url": "https://soc.csp.example/hooks", "secret": secret}
	require.Equal(t, http.StatusForbidden, s.Do(t, cspSupervisor, "POST", base, good).Status)
	require.Equal(t, http.StatusForbidden, s.Do(t, hartfordAdmin, "POST", base, good).Status)
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"url": "http://127.0.0.1:9000/x", "secret": secret}, "webhook.url"},
		{map[string]any{"url": "http://169.254.169.254/latest", "secret": secret}, "webhook.url"},
		{map[string]any{"url": "http://localhost/x", "secret": secret}, "webhook.url"},
		{map[string]any{"url": "http://10.1.2.3/x", "secret": secret}, "webhook.url"},
		{map[string]any{"url": "ftp://soc.example/x", "secret": secret}, "webhook.url"},
		{map[string]any{"url": "https://soc.example/x", "secret": "short"}, "webhook"},
		{map[string]any{"url": "https://soc.example/x", "secret": secret, "events": []string{"case.deleted"}}, "webhook.events"},
	} {
		r := s.Do(t, cspAdmin, "POST", base, c.body)
		require.Equal(t, http.StatusBadRequest, r.Status, "%v: %s", c.body, r.Raw)
		require.Contains(t, string(r.Raw), c.field)
	}
	r := ok(t, s.Do(t, cspAdmin, "POST", base, good))
	require.Empty(t, r.Str("secret"), "the secret is never returned")
	id := r.Str("id")
	list := ok(t, s.Do(t, cspAdmin, "GET", base, nil)).List("webhooks")
	require.Len(t, list, 1)
	require.Empty(t, list[0]["secret"])
	require.Equal(t, http.StatusForbidden, s.Do(t, hartfordAdmin, "GET", base, nil).Status)
	r = ok(t, s.Do(t, cspAdmin, "PATCH", base+"/"+id+"?updateMask=active", map[string]any{"active": false}))
	require.Equal(t, false, r.Get("active"))
	ok(t, s.Do(t, cspAdmin, "DELETE", base+"/"+id, nil))
	require.Equal(t, http.StatusNotFound, s.Do(t, cspAdmin, "GET", base+"/"+id, nil).Status)

	// Preferences: in-app always; e-mail events chosen by name.
	p := ok(t, s.Do(t, cspSupervisor, "GET", "/v1/me/notificationPreferences", nil))
	require.Contains(t, p.Get("emailEvents"), "referral.submitted")
	p = ok(t, s.Do(t, cspSupervisor, "PUT", "/v1/me/notificationPreferences", map[string]any{"emailEvents": []string{"referral.ack_overdue"}}))
	require.Equal(t, []any{"referral.ack_overdue"}, p.Get("emailEvents"))
	r = s.Do(t, cspSupervisor, "PUT", "/v1/me/notificationPreferences", map[string]any{"emailEvents": []string{"nope.nope"}})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Raw))
	require.Contains(t, string(r.Raw), "preferences.emailEvents")
}

// TestOtherEvents: a case shared with an agency tells that agency only
// (its webhook too); unsharing tells it in-app but not its webhook (it no
// longer sees the case); an integrity mismatch tells the holding agency's
// custodians and supervisors; an agreement about to lapse tells its
// parties' admins and liaisons, once per warning.
func TestOtherEvents(t *testing.T) {
	t.Parallel()
	w := start(t)
	fbi := newReceiver(t, secret, 0)
	usss := newReceiver(t, secret, 0)
	w.hook(t, "fixture", "fbi", fbi.URL)
	w.hook(t, "fixture", "usss", usss.URL)
	c := ok(t, w.Do(t, cspDetective, "POST", "/v1/cases", map[string]any{"title": "Wire fraud ring", "summary": "Victim Jane Roe lost $80,000"}))
	caseID, number := c.Str("id"), c.Str("caseNumber")
	ok(t, w.Do(t, cspSupervisor, "POST", "/v1/cases/"+caseID+"/participants",
		map[string]any{"agencyId": demo.AgencyID("fbi"), "relation": "RELATION_VIEWER", "reason": "joint investigation"}))
	require.Eventually(t, func() bool { return len(inbox(t, w, fbiLiaison)) == 1 && len(fbi.got()) == 1 }, wait, 50*time.Millisecond)
	n := inbox(t, w, fbiLiaison)[0]
	require.Equal(t, "case.shared", n["event"])
	require.Equal(t, number, n["subjectNumber"])
	require.Equal(t, "/cases/"+caseID, n["link"])
	require.NotContains(t, toJSON(fbi.got()[0]), "Roe")
	require.Eventually(t, func() bool { return len(w.mail.to(fbiLiaison)) == 1 }, wait, 50*time.Millisecond)
	require.NotContains(t, w.mail.to(fbiLiaison)[0].Data, "Wire fraud")
	require.NotContains(t, w.mail.to(fbiLiaison)[0].Data, "Roe")

	ok(t, w.Do(t, cspSupervisor, "DELETE", "/v1/cases/"+caseID+"/participants/"+demo.AgencyID("fbi"), nil))
	require.Eventually(t, func() bool { return len(inbox(t, w, fbiLiaison)) == 2 }, wait, 50*time.Millisecond)
	require.Equal(t, "case.unshared", inbox(t, w, fbiLiaison)[0]["event"])
	require.Empty(t, inbox(t, w, fbiLiaison)[0]["link"], "no link to what it can no longer see")

	// A share with a task force tells each current member agency (the
	// fusion center's analyst), not the agencies outside it.
	ok(t, w.Do(t, cspSupervisor, "POST", "/v1/cases/"+caseID+"/participants",
		map[string]any{"taskforceId": demo.TaskforceID("ctcyber"), "relation": "RELATION_VIEWER", "reason": "task force case"}))
	require.Eventually(t, func() bool { return len(inbox(t, w, "an.garcia@ctic.example")) == 1 }, wait, 50*time.Millisecond)
	require.Equal(t, "case.shared", inbox(t, w, "an.garcia@ctic.example")[0]["event"])
	require.Eventually(t, func() bool { return len(fbi.got()) == 2 && len(usss.got()) == 1 }, wait, 50*time.Millisecond)

	// Integrity mismatch at the holding agency (CSP).
	ev := ok(t, w.Do(t, cspDetective, "POST", "/v1/cases/"+caseID+"/evidence", map[string]any{
		"description": "Laptop", "kind": "KIND_DEVICE", "sha256": strings.Repeat("ab", 32)}))
	ok(t, w.Do(t, "ev.diaz@csp.example", "POST", "/v1/evidence/"+ev.Str("id")+":verify", map[string]any{"sha256": strings.Repeat("cd", 32)}))
	require.Eventually(t, func() bool {
		for _, n := range inbox(t, w, "ev.diaz@csp.example") {
			if n["event"] == "evidence.integrity_mismatch" && n["subjectNumber"] == ev.Str("exhibitNumber") {
				return true
			}
		}
		return false
	}, wait, 50*time.Millisecond)

	// An agreement lapsing in 10 days: the 30-day warning is due now, the
	// 7-day one is scheduled for later.
	exp := time.Now().Add(10 * 24 * time.Hour).UTC().Format(time.RFC3339)
	ok(t, w.Do(t, cspLiaison, "PATCH", "/v1/agreements/"+demo.AgreementID("usss")+"?update_mask=expireTime", map[string]any{"expireTime": exp}))
	require.Eventually(t, func() bool { return len(usss.got()) == 2 }, wait, 50*time.Millisecond) // the task-force share, then this
	require.Equal(t, "agreement.expiring", usss.got()[1]["type"])
	var expiring int
	for _, n := range inbox(t, w, cspAdmin) {
		if n["event"] == "agreement.expiring" {
			expiring++
		}
	}
	require.Equal(t, 1, expiring)
	var scheduled int
	require.NoError(t, w.Pool.QueryRow(t.Context(), `SELECT count(*) FROM river.river_job WHERE kind = 'agreement_lapse_warning' AND state = 'scheduled'`).Scan(&scheduled))
	require.Equal(t, 1, scheduled)
	require.Len(t, fbi.got(), 2, "the FBI's hook got the two shares only")
	require.Empty(t, inbox(t, w, "sgt.fox@hartford.example"), "Hartford is not in the task force")
}
