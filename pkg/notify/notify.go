// Package notify is how a service says that something worth telling people
// happened. It owns the table of event types (Types: one row per event, its
// plain-language title and whether webhooks may carry it) and Emit, which
// inserts a fan-out job in the caller's transaction: the notifications
// service works it (inbox rows, e-mails, webhook deliveries), so a
// committed change never loses its notification and a rolled-back one
// never sends it.
//
// An event names its audience explicitly — agencies and, within each, the
// roles (or users) to tell — and carries only what is safe for an
// unclassified mail system and a partner's webhook: the event, the number
// of the thing concerned and a link. Never case content: no titles,
// summaries, notes or names. An audience agency is always one that can see
// the thing concerned (the emitter's duty; it is why "case.unshared" is not
// sent to webhooks).
package notify

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/casebridge/casebridge/pkg/jobs"
)

// Type is an event type, e.g. "referral.submitted". The names are a
// contract (webhook payloads, preferences): never rename one.
type Type string

// The event types. Later issues add rows here (tasks, legal process,
// incidents, deconfliction) and emit them; nothing else needs to change.
const (
	ReferralSubmitted    Type = "referral.submitted"
	ReferralAcknowledged Type = "referral.acknowledged"
	ReferralAccepted     Type = "referral.accepted"
	ReferralDeclined     Type = "referral.declined"
	ReferralReturned     Type = "referral.returned"
	ReferralWithdrawn    Type = "referral.withdrawn"
	ReferralAckOverdue   Type = "referral.ack_overdue"
	CaseShared           Type = "case.shared"
	CaseUnshared         Type = "case.unshared"
	AgreementExpiring    Type = "agreement.expiring"
	IntegrityMismatch    Type = "evidence.integrity_mismatch"
	TaskAssigned         Type = "task.assigned"
	TaskOverdue          Type = "task.overdue"
	LegalProcessDue      Type = "legal_process.renewal_due"
	LegalProcessLapsed   Type = "legal_process.lapsed"
	WebhookTest          Type = "webhook.test"
	// Deconfliction (issue 21): a value of your case matches another
	// agency's case you cannot see.
	DeconflictionMatch Type = "deconfliction.match"
	// Incident reports (issue 19).
	IncidentReportSubmitted            Type = "incident_report.submitted"
	IncidentReportSupplemented         Type = "incident_report.supplemented"
	IncidentReportAcknowledged         Type = "incident_report.acknowledged"
	IncidentReportInformationRequested Type = "incident_report.information_requested"
	IncidentReportCaseOpened           Type = "incident_report.case_opened"
	IncidentReportClosed               Type = "incident_report.closed"
)

// Spec describes one event type.
type Spec struct {
	Type Type
	// Title is the notification's line; %s is the subject's number.
	Title string
	// Webhook: the event may be posted to the audience agencies' webhooks.
	Webhook bool
	// Emitted: some service emits it today (the others are reserved for
	// the issues that add tasks and legal process).
	Emitted bool
}

// Types is the event table.
var Types = []Spec{
	{ReferralSubmitted, "New referral %s received", true, true},
	{ReferralAcknowledged, "Referral %s was acknowledged", true, true},
	{ReferralAccepted, "Referral %s was accepted", true, true},
	{ReferralDeclined, "Referral %s was declined", true, true},
	{ReferralReturned, "Referral %s was returned for more information", true, true},
	{ReferralWithdrawn, "Referral %s was withdrawn", true, true},
	{ReferralAckOverdue, "Referral %s is overdue for acknowledgement", true, true},
	{CaseShared, "Case %s was shared with your agency", true, true},
	{CaseUnshared, "Case %s is no longer shared with your agency", false, true},
	{AgreementExpiring, "Information-sharing agreement %s is about to lapse", true, true},
	{IntegrityMismatch, "Integrity check mismatch on exhibit %s", true, true},
	{TaskAssigned, "A task on case %s was assigned to you or your agency", true, true},
	{TaskOverdue, "A task on case %s is overdue", true, true},
	{LegalProcessDue, "Legal process on case %s is due for renewal", true, true},
	{LegalProcessLapsed, "Legal process on case %s has lapsed", true, true},
	{WebhookTest, "Webhook test %s", true, false},
	{DeconflictionMatch, "Deconfliction: a selector on case %s matches another agency's case; see the notice for whom to call", false, true},
	{IncidentReportSubmitted, "Incident report %s received", true, true},
	{IncidentReportSupplemented, "Incident report %s has an update", true, true},
	{IncidentReportAcknowledged, "Incident report %s was acknowledged", true, true},
	{IncidentReportInformationRequested, "More information is requested on incident report %s", true, true},
	{IncidentReportCaseOpened, "Law enforcement opened a case on incident report %s", true, true},
	{IncidentReportClosed, "Incident report %s was closed", true, true},
}

// Lookup returns the spec of t.
func Lookup(t Type) (Spec, bool) {
	i := slices.IndexFunc(Types, func(s Spec) bool { return s.Type == t })
	if i < 0 {
		return Spec{}, false
	}
	return Types[i], true
}

// Names lists the event types users may choose (webhook.test excepted).
func Names() []string {
	var out []string
	for _, s := range Types {
		if s.Type != WebhookTest {
			out = append(out, string(s.Type))
		}
	}
	return out
}

// Audience is who in one agency is told: users holding any of Roles, and
// the users with the given e-mail addresses (when they belong to AgencyID).
type Audience struct {
	AgencyID string   `json:"agency_id"`
	Roles    []string `json:"roles,omitempty"`
	Emails   []string `json:"emails,omitempty"`
	// NoWebhook keeps this agency's webhooks out (it is told in-app only).
	NoWebhook bool `json:"no_webhook,omitempty"`
}

// Event is one occurrence.
type Event struct {
	Type Type
	// Number is the referral, case, agreement or exhibit number shown.
	Number string
	// Link is the web application's path of the thing (e.g. /referrals/ID).
	Link string
	// Resource is the thing concerned, "referral:ID" (for webhooks).
	Resource  string
	Audiences []Audience
	// Once, when set, is a key the event is sent under at most once
	// (claimed in notify.once in the emitting transaction).
	Once string
}

// EventArgs is the fan-out job's payload.
type EventArgs struct {
	EventID   string     `json:"event_id"`
	Type      Type       `json:"type"`
	Number    string     `json:"number"`
	Link      string     `json:"link"`
	Resource  string     `json:"resource"`
	Audiences []Audience `json:"audiences"`
	Time      time.Time  `json:"time"`
}

// Kind is the River job kind.
func (EventArgs) Kind() string { return "notify_event" }

// InsertOpts puts the job on the notifications service's queue.
func (EventArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueNotifications}
}

// Emit queues ev in tx. It returns the event id (in webhook payloads), or
// "" when ev.Once was already claimed.
func Emit(ctx context.Context, tx pgx.Tx, ev Event) (string, error) {
	if _, ok := Lookup(ev.Type); !ok {
		return "", fmt.Errorf("notify: unknown event type %q", ev.Type)
	}
	now := time.Now().UTC()
	if ev.Once != "" {
		tag, err := tx.Exec(ctx, `INSERT INTO notify.once (key, create_time) VALUES ($1, $2) ON CONFLICT DO NOTHING`, ev.Once, now)
		if err != nil {
			return "", fmt.Errorf("notify: claim %s: %w", ev.Once, err)
		}
		if tag.RowsAffected() == 0 {
			return "", nil
		}
	}
	id := uuid.NewString()
	err := jobs.InsertTx(ctx, tx, EventArgs{EventID: id, Type: ev.Type, Number: ev.Number, Link: ev.Link,
		Resource: ev.Resource, Audiences: ev.Audiences, Time: now}, nil)
	return id, err
}
