// Package web is the Casebridge web application for investigators,
// municipal officers and federal liaisons: server-rendered HTML (Go
// html/template) with htmx and a classless stylesheet, both vendored under
// static/ and embedded. The gateway serves it at "/".
//
// It has no back door: every page gets its data from the services over gRPC
// with the signed-in user's own bearer token, so authorization and audit
// apply exactly as for API calls, and it never touches the database. Sign-in
// is the OIDC authorization-code flow with PKCE (signin.go); the session is a
// sealed cookie (session.go), locked after 30 minutes idle; every
// state-changing request carries a CSRF token. The cookie holds the user's
// token, which the API checks on every call, so a session ends on the
// server: signing out revokes the token (DirectoryService.SignOut), "sign
// out everywhere" and deactivation end every token issued before
// (sessions_valid_after), and the next page sends the browser to sign in.
package web

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	auditv1 "github.com/casebridge/casebridge/gen/casebridge/audit/v1"
	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	evidencev1 "github.com/casebridge/casebridge/gen/casebridge/evidence/v1"
	liaisonv1 "github.com/casebridge/casebridge/gen/casebridge/liaison/v1"
	notificationsv1 "github.com/casebridge/casebridge/gen/casebridge/notifications/v1"
	referralsv1 "github.com/casebridge/casebridge/gen/casebridge/referrals/v1"
	reportsv1 "github.com/casebridge/casebridge/gen/casebridge/reports/v1"
)

//go:embed static templates
var files embed.FS

// DefaultIdleLock is how long a session may stay idle before it is locked
// (CJIS Security Policy §5.5.5: at most 30 minutes).
const DefaultIdleLock = 30 * time.Minute

// Config configures the web application.
type Config struct {
	Logger *slog.Logger
	// Conns are the gateway's client connections by service name (cases,
	// evidence, referrals, liaison, audit, reports).
	Conns map[string]*grpc.ClientConn
	// PublicURL is the gateway's base URL as browsers see it: the OIDC
	// redirect URI derives from it, and an https URL makes cookies Secure.
	PublicURL string
	// IssuerURL, ClientID and ClientSecret (optional: a public client with
	// PKCE) describe the OIDC client.
	IssuerURL, ClientID, ClientSecret string
	// SessionKey seals the session cookie (32 bytes).
	SessionKey []byte
	// IdleLock defaults to DefaultIdleLock.
	IdleLock time.Duration
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// HTTPClient reaches the identity provider; default http.DefaultClient.
	HTTPClient *http.Client
}

// App is the web application (an http.Handler).
type App struct {
	cfg         Config
	logger      *slog.Logger
	sealer      *sealer
	idle        time.Duration
	now         func() time.Time
	httpsPublic bool
	pages       map[string]*template.Template
	mux         *http.ServeMux

	cases       casesv1.CaseServiceClient
	tasks       casesv1.TaskServiceClient
	legal       casesv1.LegalProcessServiceClient
	evidence    evidencev1.EvidenceServiceClient
	referrals   referralsv1.ReferralServiceClient
	directory   liaisonv1.DirectoryServiceClient
	liaison     liaisonv1.LiaisonServiceClient
	audit       auditv1.AuditServiceClient
	notify      notificationsv1.NotificationServiceClient
	reports     reportsv1.IncidentReportServiceClient
	observables casesv1.ObservableServiceClient

	oidcMu   sync.Mutex
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// New builds the application. OIDC discovery happens at the first sign-in
// (the development issuer is served by this very gateway).
func New(cfg Config) (*App, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.IdleLock <= 0 {
		cfg.IdleLock = DefaultIdleLock
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IssuerURL == "" || cfg.ClientID == "" {
		return nil, errors.New("web: an OIDC issuer and client id are required")
	}
	for _, name := range []string{"cases", "evidence", "referrals", "liaison", "audit", "notifications", "reports"} {
		if cfg.Conns[name] == nil {
			return nil, fmt.Errorf("web: no connection to service %q", name)
		}
	}
	s, err := newSealer(cfg.SessionKey)
	if err != nil {
		return nil, err
	}
	pub, err := url.Parse(cfg.PublicURL)
	if err != nil || pub.Host == "" {
		return nil, fmt.Errorf("web: public URL %q is not an absolute URL", cfg.PublicURL)
	}
	a := &App{
		cfg: cfg, logger: cfg.Logger, sealer: s, idle: cfg.IdleLock, now: cfg.Now,
		httpsPublic: pub.Scheme == "https",
		cases:       casesv1.NewCaseServiceClient(cfg.Conns["cases"]),
		tasks:       casesv1.NewTaskServiceClient(cfg.Conns["cases"]),
		legal:       casesv1.NewLegalProcessServiceClient(cfg.Conns["cases"]),
		observables: casesv1.NewObservableServiceClient(cfg.Conns["cases"]),
		evidence:    evidencev1.NewEvidenceServiceClient(cfg.Conns["evidence"]),
		referrals:   referralsv1.NewReferralServiceClient(cfg.Conns["referrals"]),
		directory:   liaisonv1.NewDirectoryServiceClient(cfg.Conns["liaison"]),
		liaison:     liaisonv1.NewLiaisonServiceClient(cfg.Conns["liaison"]),
		audit:       auditv1.NewAuditServiceClient(cfg.Conns["audit"]),
		notify:      notificationsv1.NewNotificationServiceClient(cfg.Conns["notifications"]),
		reports:     reportsv1.NewIncidentReportServiceClient(cfg.Conns["reports"]),
	}
	if a.pages, err = parsePages(); err != nil {
		return nil, err
	}
	a.routes()
	return a, nil
}

// ServeHTTP implements http.Handler.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Content-Security-Policy",
		"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'")
	a.mux.ServeHTTP(w, r)
}

// handler is a page handler that runs with a session.
type handler func(w http.ResponseWriter, r *http.Request, s *session)

func (a *App) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(files, "static")
	fileServer := http.StripPrefix("/static/", http.FileServerFS(static))
	m.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	}))
	m.HandleFunc("GET /signin", a.signin)
	m.HandleFunc("GET /signin/callback", a.callback)
	m.HandleFunc("GET /signout", a.signedOut)
	m.Handle("POST /signout", a.auth(a.signout))
	m.Handle("POST /signout/everywhere", a.auth(a.signoutEverywhere))

	m.Handle("GET /{$}", a.auth(a.myWork))
	m.Handle("GET /chart.svg", a.auth(a.chartSVG))
	m.Handle("GET /cases", a.auth(a.listCases))
	m.Handle("GET /cases/new", a.auth(a.newCase))
	m.Handle("POST /cases", a.auth(a.createCase))
	m.Handle("GET /cases/{id}", a.auth(a.showCase))
	m.Handle("POST /cases/{id}/notes", a.auth(a.addNote))
	m.Handle("POST /cases/{id}/close", a.auth(a.closeCase))
	m.Handle("POST /cases/{id}/reopen", a.auth(a.reopenCase))
	m.Handle("POST /cases/{id}/participants", a.auth(a.share))
	m.Handle("POST /cases/{id}/evidence", a.auth(a.addEvidence))
	m.Handle("POST /cases/{id}/observables", a.auth(a.addObservable))
	m.Handle("POST /cases/{id}/observables/bulk", a.auth(a.bulkObservables))
	m.Handle("POST /cases/{id}/observables/import", a.auth(a.importObservables))
	m.Handle("POST /cases/{id}/deconfliction", a.auth(a.setDeconfliction))
	m.Handle("GET /cases/{id}/observables/export", a.auth(a.exportObservables))
	m.Handle("GET /cases/{id}/refer", a.auth(a.referForm))
	m.Handle("POST /cases/{id}/refer", a.auth(a.refer))
	// Tasks, playbooks and legal process (issue 17).
	m.Handle("POST /cases/{id}/tasks", a.auth(a.addTask))
	m.Handle("POST /cases/{id}/playbook", a.auth(a.applyPlaybook))
	m.Handle("POST /cases/{id}/tasks/{tid}/{action}", a.auth(a.taskAction))
	m.Handle("POST /cases/{id}/legal", a.auth(a.addLegal))
	m.Handle("POST /cases/{id}/legal/{lid}/{action}", a.auth(a.legalAction))
	m.Handle("GET /tasks", a.auth(a.myTasks))
	m.Handle("GET /playbooks", a.auth(a.listPlaybooks))
	m.Handle("POST /playbooks", a.auth(a.createPlaybook))
	m.Handle("GET /playbooks/{pid}", a.auth(a.showPlaybook))
	m.Handle("POST /playbooks/{pid}", a.auth(a.updatePlaybook))
	m.Handle("GET /evidence/{id}", a.auth(a.showEvidence))
	m.Handle("POST /evidence/{id}/verify", a.auth(a.verifyEvidence))
	m.Handle("POST /evidence/{id}/custody", a.auth(a.addCustody))
	m.Handle("POST /cases/{id}/export", a.auth(a.exportCase))
	m.Handle("GET /assistance/new", a.auth(a.assistanceForm))
	m.Handle("POST /assistance", a.auth(a.requestAssistance))
	m.Handle("GET /referrals", a.auth(a.listReferrals))
	m.Handle("GET /referrals/{id}", a.auth(a.showReferral))
	m.Handle("POST /referrals/{id}/{action}", a.auth(a.referralAction))
	m.Handle("GET /agencies", a.auth(a.listAgencies))
	m.Handle("GET /agencies/{id}", a.auth(a.showAgency))
	m.Handle("GET /users", a.auth(a.listUsers))
	m.Handle("POST /users", a.auth(a.createUser))
	m.Handle("GET /users/{id}", a.auth(a.showUser))
	m.Handle("POST /users/{id}/{action}", a.auth(a.userAction))
	m.Handle("GET /agencies/register", a.auth(a.registerForm))
	m.Handle("POST /agencies/register", a.auth(a.registerEntity))
	m.Handle("GET /reports", a.auth(a.listReports))
	m.Handle("GET /reports/new", a.auth(a.newReport))
	m.Handle("POST /reports", a.auth(a.saveReport))
	m.Handle("GET /reports/{id}", a.auth(a.showReport))
	m.Handle("POST /reports/{id}", a.auth(a.saveReport))
	m.Handle("POST /reports/{id}/updates", a.auth(a.addUpdate))
	m.Handle("POST /reports/{id}/{action}", a.auth(a.reportAction))
	m.Handle("GET /audit", a.auth(a.auditPage))
	m.Handle("GET /audit/cases/{id}/csv", a.auth(a.auditCSV))
	m.Handle("GET /notifications", a.auth(a.inbox))
	m.Handle("POST /notifications/read-all", a.auth(a.readAll))
	m.Handle("POST /notifications/{id}/read", a.auth(a.markRead))
	m.Handle("GET /notifications/preferences", a.auth(a.preferences))
	m.Handle("POST /notifications/preferences", a.auth(a.savePreferences))
	m.Handle("GET /agencies/{id}/webhooks", a.auth(a.webhooks))
	m.Handle("POST /agencies/{id}/webhooks", a.auth(a.createWebhook))
	m.Handle("GET /agencies/{id}/webhooks/{hook}", a.auth(a.showWebhook))
	m.Handle("POST /agencies/{id}/webhooks/{hook}/{action}", a.auth(a.webhookAction))
	a.mux = m
}

// auth runs h with the request's session. Without one (or a locked one) it
// sends the browser to sign in; a state-changing request must carry the
// session's CSRF token (form field "csrf" or header X-CSRF-Token). Activity
// refreshes the session.
func (a *App) auth(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, locked := a.readSession(r)
		if s == nil {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				// Never act on a request made without a live session.
				a.clearCookie(w, r, sessionCookie)
				http.Error(w, "Your session has ended. Sign in again.", http.StatusUnauthorized)
				return
			}
			target := "/signin?next=" + url.QueryEscape(r.URL.RequestURI())
			if locked {
				target += "&locked=1"
			}
			a.clearCookie(w, r, sessionCookie)
			a.leave(w, r, target)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			got := r.Header.Get("X-CSRF-Token")
			if got == "" {
				got = r.PostFormValue("csrf")
			}
			if subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) != 1 {
				http.Error(w, "This form has expired or did not come from Casebridge (CSRF check failed). Reload the page and try again.", http.StatusForbidden)
				return
			}
		}
		s.Last = a.now().Unix()
		if err := a.setCookie(w, r, sessionCookie, s, 12*time.Hour); err != nil {
			a.logger.Error("web: sealing session", "err", err)
		}
		h(w, r, s)
	})
}

// redirect sends the browser to target with a 303 (after a POST: a reload
// never re-posts). htmx follows it and swaps the page in.
func (a *App) redirect(w http.ResponseWriter, r *http.Request, target string) {
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// leave sends the browser to target with a full navigation, also from an
// htmx request (HX-Redirect): for sign-in, which leaves for the identity
// provider.
func (a *App) leave(w http.ResponseWriter, r *http.Request, target string) {
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// rpc returns a context for a call made on s's behalf: the user's bearer
// token, the request id (so the audit record and logs match the page
// request), the browser's user agent and address.
func (a *App) rpc(r *http.Request, s *session) (context.Context, context.CancelFunc) {
	md := metadata.Pairs("authorization", "Bearer "+s.Token, "x-forwarded-user-agent", r.UserAgent())
	if id := r.Header.Get("X-Request-Id"); id != "" {
		md.Set("x-request-id", id)
	}
	// The gateway drops a client's X-Forwarded-For unless it stands behind
	// a trusted proxy, so one that is present here names the client.
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		md.Set("x-forwarded-for", strings.TrimSpace(strings.Split(xff, ",")[0]))
	} else if host := remoteHost(r.RemoteAddr); host != "" {
		md.Set("x-forwarded-for", host)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	return metadata.NewOutgoingContext(ctx, md), cancel
}

func remoteHost(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i > 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}
