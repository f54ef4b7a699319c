package app

import (
	"crypto/ed25519"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"

	auditv1 "github.com/casebridge/casebridge/gen/casebridge/audit/v1"
	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	evidencev1 "github.com/casebridge/casebridge/gen/casebridge/evidence/v1"
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	notificationsv1 "github.com/casebridge/casebridge/gen/casebridge/notifications/v1"
	referralsv1 "github.com/casebridge/casebridge/gen/casebridge/referrals/v1"
	reportsv1 "github.com/casebridge/casebridge/gen/casebridge/reports/v1"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/jobs"
	auditsvc "github.com/casebridge/casebridge/services/audit"
	"github.com/casebridge/casebridge/services/cases"
	"github.com/casebridge/casebridge/services/evidence"
	"github.com/casebridge/casebridge/services/liaison"
	"github.com/casebridge/casebridge/services/notifications"
	"github.com/casebridge/casebridge/services/referrals"
	"github.com/casebridge/casebridge/services/reports"
)

// Deps is what a service gets from the process.
type Deps struct {
	Pool   *pgxpool.Pool
	Authz  *authz.Authorizer
	Logger *slog.Logger
	// Conn returns a client connection to another service by name (for
	// service-to-service calls, made with the caller's identity through
	// rpc.ForwardIdentity). The process owns and closes it.
	Conn func(service string) *grpc.ClientConn
	// ReferralAckDue is the referrals' acknowledgement deadline
	// (--referral-ack-due; 0: the service default, 72h).
	ReferralAckDue time.Duration
	// PackageKey signs case packages (--package-signing-key); nil: an
	// ephemeral key.
	PackageKey ed25519.PrivateKey
	// Jobs collects the River workers of the services this process runs
	// (each on its service's queue); the process starts them after.
	Jobs *jobs.Runner
	// Notifications configures the notification service's delivery.
	Notifications notifications.Config
	// IncidentReports is the incident reporting regime (--incident-report-*
	// flags; zero fields: the service defaults).
	IncidentReports reports.Regime
	// ReportNotifier receives the incident-report notices inside their
	// transactions (services/reports/events.go); nil: none. To be wired to
	// notifications (issue 18).
	ReportNotifier reports.Notifier
	// Deconfliction is the cases service's deconfliction keyring and
	// DeconflictionLookupsPerHour its per-user lookup limit (issue 21).
	Deconfliction               *cases.Keyring
	DeconflictionLookupsPerHour int
}

// service is one gRPC service this binary can run.
type service struct {
	// name is the --target name and the gateway's upstream name.
	name string
	// register adds the service to s and returns its full gRPC name.
	register func(s *grpc.Server, d Deps) string
	// rules is the service's method-level authorization.
	rules authz.MethodRules
}

// services lists every service, in start order. Adding a service is one
// entry here and one in gateway.registrations.
var services = []service{
	{"cases", func(s *grpc.Server, d Deps) string {
		cs := cases.NewServer(d.Pool, d.Authz, liaisonv1.NewDirectoryServiceClient(d.Conn("liaison")), d.Logger).
			WithLiaison(liaisonv1.NewLiaisonServiceClient(d.Conn("liaison"))).
			WithEvidence(evidencev1.NewEvidenceServiceClient(d.Conn("evidence")))
		casesv1.RegisterCaseServiceServer(s, cs)
		cs.RegisterWorkers(d.Jobs)
		// Tasks, playbooks and legal process live with their cases (issue 17).
		casesv1.RegisterTaskServiceServer(s, cases.NewTaskServer(cs))
		casesv1.RegisterLegalProcessServiceServer(s, cases.NewLegalProcessServer(cs))
		casesv1.RegisterObservableServiceServer(s, cases.NewObservableServer(d.Pool, d.Authz,
			liaisonv1.NewDirectoryServiceClient(d.Conn("liaison")), liaisonv1.NewLiaisonServiceClient(d.Conn("liaison")),
			evidencev1.NewEvidenceServiceClient(d.Conn("evidence")), d.Deconfliction, d.DeconflictionLookupsPerHour, d.Logger).
			WithReports(reportsv1.NewIncidentReportServiceClient(d.Conn("reports"))))
		return casesv1.CaseService_ServiceDesc.ServiceName
	}, mergeRules(cases.MethodRules, cases.ObservableMethodRules)},
	{"liaison", func(s *grpc.Server, d Deps) string {
		liaisonv1.RegisterDirectoryServiceServer(s, liaison.NewDirectoryServer(d.Pool, d.Authz, d.Logger))
		ls := liaison.NewServer(d.Pool, d.Authz, d.Logger)
		ls.RegisterWorkers(d.Jobs)
		liaisonv1.RegisterLiaisonServiceServer(s, ls)
		return liaisonv1.DirectoryService_ServiceDesc.ServiceName
	}, liaison.MethodRules},
	{"evidence", func(s *grpc.Server, d Deps) string {
		evidencev1.RegisterEvidenceServiceServer(s, evidence.NewServer(d.Pool, d.Authz,
			casesv1.NewCaseServiceClient(d.Conn("cases")), liaisonv1.NewDirectoryServiceClient(d.Conn("liaison")), d.Logger).
			WithExport(auditv1.NewAuditServiceClient(d.Conn("audit")), d.PackageKey).
			WithLegalProcess(casesv1.NewLegalProcessServiceClient(d.Conn("cases"))))
		return evidencev1.EvidenceService_ServiceDesc.ServiceName
	}, evidence.MethodRules},
	{"audit", func(s *grpc.Server, d Deps) string {
		auditv1.RegisterAuditServiceServer(s, auditsvc.NewServer(d.Pool, d.Authz, d.Logger))
		return auditv1.AuditService_ServiceDesc.ServiceName
	}, auditsvc.MethodRules},
	{"referrals", func(s *grpc.Server, d Deps) string {
		srv := referrals.NewServer(d.Pool, d.Authz,
			casesv1.NewCaseServiceClient(d.Conn("cases")), evidencev1.NewEvidenceServiceClient(d.Conn("evidence")),
			liaisonv1.NewDirectoryServiceClient(d.Conn("liaison")), d.Logger, d.ReferralAckDue)
		srv.RegisterWorkers(d.Jobs)
		referralsv1.RegisterReferralServiceServer(s, srv)
		return referralsv1.ReferralService_ServiceDesc.ServiceName
	}, referrals.MethodRules},
	{"notifications", func(s *grpc.Server, d Deps) string {
		srv := notifications.NewServer(d.Pool, d.Authz, d.Logger, d.Notifications)
		srv.RegisterWorkers(d.Jobs)
		notificationsv1.RegisterNotificationServiceServer(s, srv)
		return notificationsv1.NotificationService_ServiceDesc.ServiceName
	}, notifications.MethodRules},
	{"reports", func(s *grpc.Server, d Deps) string {
		reportsv1.RegisterIncidentReportServiceServer(s, reports.NewServer(d.Pool, d.Authz,
			casesv1.NewCaseServiceClient(d.Conn("cases")), liaisonv1.NewDirectoryServiceClient(d.Conn("liaison")),
			d.Logger, d.IncidentReports).WithNotifier(d.ReportNotifier))
		return reportsv1.IncidentReportService_ServiceDesc.ServiceName
	}, reports.MethodRules},
}

// mergeRules merges the rule tables of the gRPC services one target runs.
func mergeRules(tables ...authz.MethodRules) authz.MethodRules {
	out := authz.MethodRules{}
	for _, t := range tables {
		for m, r := range t {
			out[m] = r
		}
	}
	return out
}

// methodRules merges the method rules of every service.
func methodRules() authz.MethodRules {
	out := authz.MethodRules{}
	for _, s := range services {
		for m, r := range s.rules {
			out[m] = r
		}
	}
	return out
}
