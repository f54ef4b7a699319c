package reports

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Notices the service emits — TO BE WIRED TO NOTIFICATIONS (issue 18).
//
// This file is the one place where incident-report events leave the
// service. Each is emitted inside the transaction of the change that causes
// it, so a River job inserted by the notifier (riverpgxv5 InsertTx on tx)
// commits with the change or not at all. Until issue 18 merges, the
// notifier does nothing. Recipients the issue asks for:
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
