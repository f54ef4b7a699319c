package reports

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/notify"
)

// Notices the service emits, wired to notifications by Notify below.
//
// This file is the one place where incident-report events leave the
// service. Each is emitted inside the transaction of the change that causes
// it, so a River job inserted by the notifier (riverpgxv5 InsertTx on tx)
// commits with the change or not at all. Recipients the issue asks for:
//
//	NoticeSubmitted             CTIC's on-duty analysts; CSP's supervisors too when
//	                            Ransomware or PublicSafety; the reporter an acknowledgement
//	NoticeSupplemented          the triage agencies (RansomPaid: as urgent as a submission)
//	NoticeAcknowledged          the reporter
//	NoticeInformationRequested  the reporter
//	NoticeCaseOpened            the reporter ("law enforcement has opened a case")
//	NoticeClosed                the reporter
const (
	NoticeSubmitted            = "incident_report.submitted"
	NoticeSupplemented         = "incident_report.supplemented"
	NoticeAcknowledged         = "incident_report.acknowledged"
	NoticeInformationRequested = "incident_report.information_requested"
	NoticeCaseOpened           = "incident_report.case_opened"
	NoticeClosed               = "incident_report.closed"
)

// Notice is one event about a report.
type Notice struct {
	Kind         string
	ReportID     string
	ReportNumber string
	// OrgAgencyID is the reporting organisation; TriageAgencyIDs the
	// agencies that triage the report.
	OrgAgencyID     string
	TriageAgencyIDs []string
	// ReporterUserID is the user who created the report.
	ReporterUserID string
	Ransomware     bool
	PublicSafety   bool
	RansomPaid     bool
}

// Notifier receives notices inside the change's transaction; an error
// rolls the change back.
type Notifier func(ctx context.Context, tx pgx.Tx, n Notice) error

func noNotifier(context.Context, pgx.Tx, Notice) error { return nil }

// Notify is the Notifier that hands notices to the notification service
// (pkg/notify: a River job inserted in tx). Audiences, as the issue asks:
// a submission tells the triage agencies' analysts — and their supervisors
// too for ransomware or a public-safety impact — and acknowledges receipt
// to the reporting organisation's reporters; an update tells the triage
// agencies; the triage steps tell the reporters. Only the report number
// and a link travel: no content.
func Notify(ctx context.Context, tx pgx.Tx, n Notice) error {
	triage := func(roles ...string) []notify.Audience {
		var out []notify.Audience
		for _, id := range n.TriageAgencyIDs {
			out = append(out, notify.Audience{AgencyID: id, Roles: roles})
		}
		return out
	}
	org := notify.Audience{AgencyID: n.OrgAgencyID, Roles: []string{"reporter"}}
	ev := notify.Event{Number: n.ReportNumber, Link: "/reports/" + n.ReportID, Resource: "incident_report:" + n.ReportID}
	switch n.Kind {
	case NoticeSubmitted:
		roles := []string{"analyst"}
		if n.Ransomware || n.PublicSafety {
			roles = append(roles, "supervisor")
		}
		ev.Type, ev.Audiences = notify.IncidentReportSubmitted, append(triage(roles...), org)
	case NoticeSupplemented:
		roles := []string{"analyst"}
		if n.RansomPaid {
			roles = append(roles, "supervisor")
		}
		ev.Type, ev.Audiences = notify.IncidentReportSupplemented, triage(roles...)
	case NoticeAcknowledged:
		ev.Type, ev.Audiences = notify.IncidentReportAcknowledged, []notify.Audience{org}
	case NoticeInformationRequested:
		ev.Type, ev.Audiences = notify.IncidentReportInformationRequested, []notify.Audience{org}
	case NoticeCaseOpened:
		ev.Type, ev.Audiences = notify.IncidentReportCaseOpened, []notify.Audience{org}
	case NoticeClosed:
		ev.Type, ev.Audiences = notify.IncidentReportClosed, []notify.Audience{org}
	default:
		return nil
	}
	_, err := notify.Emit(ctx, tx, ev)
	return err
}
