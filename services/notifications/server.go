// Package notifications is the Notification service
// (casebridge.notifications.v1) and the workers that deliver what the other
// services emit through pkg/notify: inbox rows per user, e-mail over SMTP
// and signed webhook posts per agency, each a River job inserted in the
// transaction that decided it and retried with backoff.
package notifications

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	notificationsv1 "github.com/casebridge/casebridge/gen/casebridge/notifications/v1"
	"github.com/casebridge/casebridge/pkg/audit"
	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/authz"
	"github.com/casebridge/casebridge/pkg/jobs"
	"github.com/casebridge/casebridge/pkg/notify"
	"github.com/casebridge/casebridge/pkg/pagetoken"
	"github.com/casebridge/casebridge/pkg/postgres"
	"github.com/casebridge/casebridge/pkg/rpc"
	"github.com/casebridge/casebridge/services/notifications/internal/store"
)

// Config configures the service and its workers.
type Config struct {
	// PublicURL is the web application's base URL (links in e-mails and
	// webhook payloads).
	PublicURL string
	// Mailer sends e-mail; nil: in-app and webhooks only.
	Mailer *Mailer
	// WebhookAllowPrivate lets webhooks target loopback and private
	// addresses (--webhook-allow-private; development and tests).
	WebhookAllowPrivate bool
	// RetryBase is the first retry delay of e-mails and webhook
	// deliveries, doubling per attempt up to an hour (default 10s).
	RetryBase time.Duration
}

// Server implements notificationsv1.NotificationServiceServer.
type Server struct {
	notificationsv1.UnimplementedNotificationServiceServer
	pool      *pgxpool.Pool
	authz     *authz.Authorizer
	logger    *slog.Logger
	publicURL string
	mail      *Mailer
	hooks     *hookClient
	retryBase time.Duration
}

// NewServer returns the service on pool.
func NewServer(pool *pgxpool.Pool, az *authz.Authorizer, logger *slog.Logger, cfg Config) *Server {
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 10 * time.Second
	}
	return &Server{pool: pool, authz: az, logger: logger, publicURL: strings.TrimSuffix(cfg.PublicURL, "/"),
		mail: cfg.Mailer, hooks: newHookClient(cfg.WebhookAllowPrivate), retryBase: cfg.RetryBase}
}

// RegisterWorkers adds the service's workers to r (its queue).
func (s *Server) RegisterWorkers(r *jobs.Runner) {
	jobs.Add(r, jobs.QueueNotifications, &fanout{s: s})
	jobs.Add(r, jobs.QueueNotifications, &mailer{s: s})
	jobs.Add(r, jobs.QueueNotifications, &deliverer{s: s})
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func toStatus(ctx context.Context, logger *slog.Logger, err error) error {
	return rpc.ToStatus(ctx, logger, err, "not found",
		rpc.Mapping{Err: store.ErrEtagMismatch, Code: codes.Aborted,
			Message: "etag mismatch: the webhook changed since it was read; read it again and retry"})
}

func annotate(ctx context.Context, typ, id string) {
	audit.Annotate(ctx, func(e *audit.Event) { e.ResourceType, e.ResourceID = typ, id })
}

func notificationToProto(n *store.Notification) *notificationsv1.Notification {
	out := &notificationsv1.Notification{Id: n.ID, Event: n.Event, Title: n.Title, SubjectNumber: n.Number,
		Link: n.Link, Read: n.ReadTime != nil, CreateTime: timestamppb.New(n.CreateTime)}
	if n.ReadTime != nil {
		out.ReadTime = timestamppb.New(*n.ReadTime)
	}
	return out
}

// ListNotifications lists the caller's inbox, newest first.
func (s *Server) ListNotifications(ctx context.Context, req *notificationsv1.ListNotificationsRequest) (*notificationsv1.ListNotificationsResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	bind := pagetoken.Bind("notifications", p.UserID, boolStr(req.GetUnreadOnly()))
	after, afterID, err := keyset(req.GetPageToken(), bind)
	if err != nil {
		return nil, err
	}
	size := pagetoken.PageSize(req.GetPageSize())
	ns, err := store.ListNotifications(ctx, s.pool, p.UserID, req.GetUnreadOnly(), after, afterID, size+1)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	out := &notificationsv1.ListNotificationsResponse{Notifications: []*notificationsv1.Notification{}}
	if len(ns) > size {
		last := ns[size-1]
		out.NextPageToken = pagetoken.Encode(bind, last.CreateTime.Format(time.RFC3339Nano), last.ID)
		ns = ns[:size]
	}
	for _, n := range ns {
		out.Notifications = append(out.Notifications, notificationToProto(n))
	}
	return out, nil
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// keyset decodes a (time, id) page token bound to bind.
func keyset(token, bind string) (*time.Time, string, error) {
	if token == "" {
		return nil, "", nil
	}
	keys, err := pagetoken.Decode(token, bind, 2)
	if err != nil {
		return nil, "", rpc.FieldError("pageToken", "invalid or belongs to another query")
	}
	t, err := time.Parse(time.RFC3339Nano, keys[0])
	if err != nil || uuid.Validate(keys[1]) != nil {
		return nil, "", rpc.FieldError("pageToken", "invalid")
	}
	return &t, keys[1], nil
}

// MarkNotificationRead marks one of the caller's notifications read;
// another user's answers NOT_FOUND.
func (s *Server) MarkNotificationRead(ctx context.Context, req *notificationsv1.MarkNotificationReadRequest) (*notificationsv1.MarkNotificationReadResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var n *store.Notification
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if n, err = store.MarkRead(ctx, tx, p.UserID, req.GetNotificationId(), now()); err != nil {
			return err
		}
		annotate(ctx, "notification", n.ID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &notificationsv1.MarkNotificationReadResponse{Notification: notificationToProto(n)}, nil
}

// MarkAllNotificationsRead marks the caller's whole inbox read.
func (s *Server) MarkAllNotificationsRead(ctx context.Context, _ *notificationsv1.MarkAllNotificationsReadRequest) (*notificationsv1.MarkAllNotificationsReadResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var n int64
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if n, err = store.MarkAllRead(ctx, tx, p.UserID, now()); err != nil {
			return err
		}
		annotate(ctx, "notification", "")
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &notificationsv1.MarkAllNotificationsReadResponse{Marked: int32(n)}, nil
}

// GetUnreadCount counts the caller's unread notifications.
func (s *Server) GetUnreadCount(ctx context.Context, _ *notificationsv1.GetUnreadCountRequest) (*notificationsv1.GetUnreadCountResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	n, err := store.UnreadCount(ctx, s.pool, p.UserID)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &notificationsv1.GetUnreadCountResponse{Unread: int32(min(n, 1<<31-1))}, nil
}

func (s *Server) preferences(ctx context.Context, q postgres.Querier, userID string) (*notificationsv1.Preferences, error) {
	events, chosen, err := store.EmailEvents(ctx, q, userID)
	if err != nil {
		return nil, err
	}
	if !chosen {
		events = notify.Names()
	}
	return &notificationsv1.Preferences{EmailEvents: append([]string{}, events...), AvailableEvents: notify.Names()}, nil
}

// GetPreferences returns the caller's choices (every event by e-mail until
// they choose).
func (s *Server) GetPreferences(ctx context.Context, _ *notificationsv1.GetPreferencesRequest) (*notificationsv1.GetPreferencesResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	prefs, err := s.preferences(ctx, s.pool, p.UserID)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &notificationsv1.GetPreferencesResponse{Preferences: prefs}, nil
}

// UpdatePreferences replaces the caller's e-mail choices.
func (s *Server) UpdatePreferences(ctx context.Context, req *notificationsv1.UpdatePreferencesRequest) (*notificationsv1.UpdatePreferencesResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	events, err := eventNames("preferences.emailEvents", req.GetPreferences().GetEmailEvents())
	if err != nil {
		return nil, err
	}
	var prefs *notificationsv1.Preferences
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := store.SetEmailEvents(ctx, tx, p.UserID, events, now()); err != nil {
			return err
		}
		if prefs, err = s.preferences(ctx, tx, p.UserID); err != nil {
			return err
		}
		annotate(ctx, "notification_preferences", p.UserID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &notificationsv1.UpdatePreferencesResponse{Preferences: prefs}, nil
}

// eventNames checks that every name is a known event type.
func eventNames(field string, names []string) ([]string, error) {
	out := []string{}
	known := notify.Names()
	for _, n := range names {
		if !slices.Contains(known, n) {
			return nil, rpc.FieldError(field, "unknown event type "+n+" (one of "+strings.Join(known, ", ")+")")
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func webhookToProto(w *store.Webhook) *notificationsv1.Webhook {
	return &notificationsv1.Webhook{Id: w.ID, AgencyId: w.AgencyID, Url: w.URL, Events: append([]string{}, w.Events...),
		Active: w.Active, Description: w.Description, CreateTime: timestamppb.New(w.CreateTime),
		UpdateTime: timestamppb.New(w.UpdateTime), Etag: webhookEtag(w)}
}

func webhookEtag(w *store.Webhook) string {
	return `W/"` + uuid.NewSHA1(uuid.Nil, []byte(w.ID+":"+itoa(w.Version))).String()[:8] + `"`
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// ListWebhooks lists an agency's receivers (its admins).
func (s *Server) ListWebhooks(ctx context.Context, req *notificationsv1.ListWebhooksRequest) (*notificationsv1.ListWebhooksResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, req.GetAgencyId(), "webhook", "read"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	ws, err := store.ListWebhooks(ctx, s.pool, req.GetAgencyId())
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	out := &notificationsv1.ListWebhooksResponse{Webhooks: []*notificationsv1.Webhook{}}
	for _, w := range ws {
		out.Webhooks = append(out.Webhooks, webhookToProto(w))
	}
	return out, nil
}

// GetWebhook returns one receiver.
func (s *Server) GetWebhook(ctx context.Context, req *notificationsv1.GetWebhookRequest) (*notificationsv1.GetWebhookResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, req.GetAgencyId(), "webhook", "read"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	w, err := store.GetWebhook(ctx, s.pool, req.GetAgencyId(), req.GetWebhookId())
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &notificationsv1.GetWebhookResponse{Webhook: webhookToProto(w)}, nil
}

// CreateWebhook registers a receiver for the caller's agency.
func (s *Server) CreateWebhook(ctx context.Context, req *notificationsv1.CreateWebhookRequest) (*notificationsv1.CreateWebhookResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, req.GetAgencyId(), "webhook", "create"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	in := req.GetWebhook()
	if err := s.hooks.validateURL(in.GetUrl()); err != nil {
		return nil, rpc.FieldError("webhook.url", err.Error())
	}
	events, err := eventNames("webhook.events", in.GetEvents())
	if err != nil {
		return nil, err
	}
	t := now()
	w := &store.Webhook{ID: uuid.NewString(), AgencyID: req.GetAgencyId(), URL: in.GetUrl(), Events: events, Secret: in.GetSecret(),
		Active: true, Description: strings.TrimSpace(in.GetDescription()), CreateTime: t, UpdateTime: t,
		CreateUserEmail: p.Email, Version: 1}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := store.InsertWebhook(ctx, tx, w); err != nil {
			return err
		}
		annotate(ctx, "webhook", w.ID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &notificationsv1.CreateWebhookResponse{Webhook: webhookToProto(w)}, nil
}

// UpdateWebhook changes url, events, secret, active or description.
func (s *Server) UpdateWebhook(ctx context.Context, req *notificationsv1.UpdateWebhookRequest) (*notificationsv1.UpdateWebhookResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetWebhook()
	if err := s.authz.AuthorizeAgency(p, in.GetAgencyId(), "webhook", "update"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	if uuid.Validate(in.GetId()) != nil {
		return nil, rpc.FieldError("webhook.id", "must be a UUID")
	}
	updatable := []string{"url", "events", "secret", "active", "description"}
	m := map[string]bool{}
	for _, path := range req.GetUpdateMask().GetPaths() {
		if !slices.Contains(updatable, path) {
			return nil, rpc.FieldError("updateMask", path+" cannot be updated (one of "+strings.Join(updatable, ", ")+")")
		}
		m[path] = true
	}
	if len(m) == 0 {
		return nil, rpc.FieldError("updateMask", "name at least one of "+strings.Join(updatable, ", "))
	}
	if m["url"] {
		if err := s.hooks.validateURL(in.GetUrl()); err != nil {
			return nil, rpc.FieldError("webhook.url", err.Error())
		}
	}
	if m["secret"] && len(in.GetSecret()) < 16 {
		return nil, rpc.FieldError("webhook.secret", "at least 16 characters")
	}
	events, err := eventNames("webhook.events", in.GetEvents())
	if err != nil {
		return nil, err
	}
	var w *store.Webhook
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if w, err = store.LockWebhook(ctx, tx, in.GetAgencyId(), in.GetId()); err != nil {
			return err
		}
		if in.GetEtag() != "" && in.GetEtag() != webhookEtag(w) {
			return store.ErrEtagMismatch
		}
		if m["url"] {
			w.URL = in.GetUrl()
		}
		if m["events"] {
			w.Events = events
		}
		if m["secret"] {
			w.Secret = in.GetSecret()
		}
		if m["active"] {
			w.Active = in.GetActive()
		}
		if m["description"] {
			w.Description = strings.TrimSpace(in.GetDescription())
		}
		w.UpdateTime = now()
		if err := store.SaveWebhook(ctx, tx, w); err != nil {
			return err
		}
		annotate(ctx, "webhook", w.ID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &notificationsv1.UpdateWebhookResponse{Webhook: webhookToProto(w)}, nil
}

// DeleteWebhook removes a receiver.
func (s *Server) DeleteWebhook(ctx context.Context, req *notificationsv1.DeleteWebhookRequest) (*notificationsv1.DeleteWebhookResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, req.GetAgencyId(), "webhook", "delete"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := store.DeleteWebhook(ctx, tx, req.GetAgencyId(), req.GetWebhookId()); err != nil {
			return err
		}
		annotate(ctx, "webhook", req.GetWebhookId())
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &notificationsv1.DeleteWebhookResponse{}, nil
}

// ListWebhookDeliveries lists the attempts to deliver to a receiver.
func (s *Server) ListWebhookDeliveries(ctx context.Context, req *notificationsv1.ListWebhookDeliveriesRequest) (*notificationsv1.ListWebhookDeliveriesResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, req.GetAgencyId(), "webhook", "read"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	if _, err := store.GetWebhook(ctx, s.pool, req.GetAgencyId(), req.GetWebhookId()); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	bind := pagetoken.Bind("deliveries", req.GetWebhookId())
	after, afterID, err := keyset(req.GetPageToken(), bind)
	if err != nil {
		return nil, err
	}
	size := pagetoken.PageSize(req.GetPageSize())
	ds, err := store.ListDeliveries(ctx, s.pool, req.GetWebhookId(), after, afterID, size+1)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	out := &notificationsv1.ListWebhookDeliveriesResponse{Deliveries: []*notificationsv1.WebhookDelivery{}}
	if len(ds) > size {
		last := ds[size-1]
		out.NextPageToken = pagetoken.Encode(bind, last.AttemptTime.Format(time.RFC3339Nano), last.ID)
		ds = ds[:size]
	}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, &notificationsv1.WebhookDelivery{Id: d.ID, WebhookId: d.WebhookID,
			Event: d.Event, EventId: d.EventID, Attempt: int32(d.Attempt), StatusCode: int32(d.StatusCode),
			Success: d.Success, Error: d.Error, AttemptTime: timestamppb.New(d.AttemptTime)})
	}
	return out, nil
}

// TestWebhook queues a webhook.test delivery to the receiver.
func (s *Server) TestWebhook(ctx context.Context, req *notificationsv1.TestWebhookRequest) (*notificationsv1.TestWebhookResponse, error) {
	p, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.authz.AuthorizeAgency(p, req.GetAgencyId(), "webhook", "update"); err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	id := uuid.NewString()
	err = postgres.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		w, err := store.GetWebhook(ctx, tx, req.GetAgencyId(), req.GetWebhookId())
		if err != nil {
			return err
		}
		if err := jobs.InsertTx(ctx, tx, deliveryArgs{WebhookID: w.ID, EventID: id, Type: notify.WebhookTest,
			Number: "test", Link: "/notifications", Time: now()}, nil); err != nil {
			return err
		}
		annotate(ctx, "webhook", w.ID)
		return audit.Write(ctx, tx)
	})
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	return &notificationsv1.TestWebhookResponse{EventId: id}, nil
}
