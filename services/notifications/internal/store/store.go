// Package store is the notifications service's PostgreSQL storage: schema
// notify (inbox, preferences, webhooks, delivery log). Recipients are
// resolved by reading the directory's users read-only (liaison.users), the
// same deliberate exception authentication makes: a background job has no
// caller whose identity could ask the Directory service.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casebridge/casebridge/pkg/postgres"
)

// ErrNotFound: no such row (for the caller).
var ErrNotFound = postgres.ErrNotFound

// ErrEtagMismatch: the webhook changed since the caller read it.
var ErrEtagMismatch = errors.New("etag mismatch")

// Notification is one inbox row.
type Notification struct {
	ID, EventID, UserID, AgencyID, Event, Title, Number, Link string
	CreateTime                                                time.Time
	ReadTime                                                  *time.Time
}

const notificationCols = `id, event_id, user_id, agency_id, event, title, subject_number, link, create_time, read_time`

func scanNotification(row pgx.Row) (*Notification, error) {
	n := &Notification{}
	err := row.Scan(&n.ID, &n.EventID, &n.UserID, &n.AgencyID, &n.Event, &n.Title, &n.Number, &n.Link, &n.CreateTime, &n.ReadTime)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	return n, nil
}

// InsertNotification adds n unless the user already has this event; it
// reports whether it was added.
func InsertNotification(ctx context.Context, q postgres.Querier, n *Notification) (bool, error) {
	tag, err := q.Exec(ctx, `INSERT INTO notify.notifications (`+notificationCols+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,NULL) ON CONFLICT (event_id, user_id) DO NOTHING`,
		n.ID, n.EventID, n.UserID, n.AgencyID, n.Event, n.Title, n.Number, n.Link, n.CreateTime)
	if err != nil {
		return false, postgres.Translate(err)
	}
	return tag.RowsAffected() == 1, nil
}

// ListNotifications returns up to limit of userID's notifications older
// than the keyset (afterTime, afterID) when given, newest first.
func ListNotifications(ctx context.Context, q postgres.Querier, userID string, unreadOnly bool, afterTime *time.Time, afterID string, limit int) ([]*Notification, error) {
	rows, err := q.Query(ctx, `SELECT `+notificationCols+` FROM notify.notifications
		WHERE user_id = $1 AND (NOT $2 OR read_time IS NULL)
		  AND ($3::timestamptz IS NULL OR (create_time, id) < ($3, $4::uuid))
		ORDER BY create_time DESC, id DESC LIMIT $5`, userID, unreadOnly, afterTime, nilIfEmpty(afterID), limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*Notification
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, postgres.Translate(rows.Err())
}

// MarkRead marks userID's notification id read. ErrNotFound if it is not
// the user's.
func MarkRead(ctx context.Context, q postgres.Querier, userID, id string, now time.Time) (*Notification, error) {
	return scanNotification(q.QueryRow(ctx, `UPDATE notify.notifications SET read_time = coalesce(read_time, $3)
		WHERE id = $1 AND user_id = $2 RETURNING `+notificationCols, id, userID, now))
}

// MarkAllRead marks every unread notification of userID read.
func MarkAllRead(ctx context.Context, q postgres.Querier, userID string, now time.Time) (int64, error) {
	tag, err := q.Exec(ctx, `UPDATE notify.notifications SET read_time = $2 WHERE user_id = $1 AND read_time IS NULL`, userID, now)
	if err != nil {
		return 0, postgres.Translate(err)
	}
	return tag.RowsAffected(), nil
}

// UnreadCount counts userID's unread notifications.
func UnreadCount(ctx context.Context, q postgres.Querier, userID string) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, `SELECT count(*) FROM notify.notifications WHERE user_id = $1 AND read_time IS NULL`, userID).Scan(&n)
	return n, postgres.Translate(err)
}

// EmailEvents returns the event types userID gets by e-mail; nil (with
// chosen false) when the user never chose (every event).
func EmailEvents(ctx context.Context, q postgres.Querier, userID string) (events []string, chosen bool, err error) {
	err = q.QueryRow(ctx, `SELECT email_events FROM notify.preferences WHERE user_id = $1`, userID).Scan(&events)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, postgres.Translate(err)
	}
	// A row means the user chose, even nothing at all.
	return events, true, nil
}

// SetEmailEvents replaces userID's e-mail choices.
func SetEmailEvents(ctx context.Context, q postgres.Querier, userID string, events []string, now time.Time) error {
	if events == nil {
		events = []string{}
	}
	_, err := q.Exec(ctx, `INSERT INTO notify.preferences (user_id, email_events, update_time) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET email_events = excluded.email_events, update_time = excluded.update_time`, userID, events, now)
	return postgres.Translate(err)
}

// Recipient is a directory user to tell.
type Recipient struct {
	UserID, AgencyID, Email string
}

// Recipients returns the active users of agencyID holding any of roles or
// having one of emails.
func Recipients(ctx context.Context, q postgres.Querier, agencyID string, roles, emails []string) ([]Recipient, error) {
	if roles == nil {
		roles = []string{}
	}
	lower := make([]string, 0, len(emails))
	for _, e := range emails {
		lower = append(lower, toLower(e))
	}
	rows, err := q.Query(ctx, `SELECT u.id, u.agency_id, u.email FROM liaison.users u
		JOIN liaison.agencies a ON a.id = u.agency_id AND a.active
		WHERE u.agency_id = $1 AND u.active AND (u.roles && $2::text[] OR lower(u.email) = ANY($3::text[]))
		ORDER BY u.email`, agencyID, roles, lower)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []Recipient
	for rows.Next() {
		var r Recipient
		if err := rows.Scan(&r.UserID, &r.AgencyID, &r.Email); err != nil {
			return nil, postgres.Translate(err)
		}
		out = append(out, r)
	}
	return out, postgres.Translate(rows.Err())
}

// Webhook is an agency's receiver.
type Webhook struct {
	ID, AgencyID, URL, Secret, Description, CreateUserEmail string
	Events                                                  []string
	Active                                                  bool
	CreateTime, UpdateTime                                  time.Time
	Version                                                 int64
}

const webhookCols = `id, agency_id, url, events, secret, active, description, create_time, update_time, create_user_email, version`

func scanWebhook(row pgx.Row) (*Webhook, error) {
	w := &Webhook{}
	err := row.Scan(&w.ID, &w.AgencyID, &w.URL, &w.Events, &w.Secret, &w.Active, &w.Description, &w.CreateTime, &w.UpdateTime, &w.CreateUserEmail, &w.Version)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	return w, nil
}

// InsertWebhook stores w.
func InsertWebhook(ctx context.Context, q postgres.Querier, w *Webhook) error {
	_, err := q.Exec(ctx, `INSERT INTO notify.webhooks (`+webhookCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
		w.ID, w.AgencyID, w.URL, w.Events, w.Secret, w.Active, w.Description, w.CreateTime, w.UpdateTime, w.CreateUserEmail, w.Version)
	return postgres.Translate(err)
}

// GetWebhook returns agencyID's webhook id; ErrNotFound otherwise.
func GetWebhook(ctx context.Context, q postgres.Querier, agencyID, id string) (*Webhook, error) {
	return scanWebhook(q.QueryRow(ctx, `SELECT `+webhookCols+` FROM notify.webhooks WHERE id = $1 AND agency_id = $2`, id, agencyID))
}

// LockWebhook is GetWebhook FOR UPDATE.
func LockWebhook(ctx context.Context, q postgres.Querier, agencyID, id string) (*Webhook, error) {
	return scanWebhook(q.QueryRow(ctx, `SELECT `+webhookCols+` FROM notify.webhooks WHERE id = $1 AND agency_id = $2 FOR UPDATE`, id, agencyID))
}

// WebhookByID returns webhook id whatever its agency (for the delivery job).
func WebhookByID(ctx context.Context, q postgres.Querier, id string) (*Webhook, error) {
	return scanWebhook(q.QueryRow(ctx, `SELECT `+webhookCols+` FROM notify.webhooks WHERE id = $1`, id))
}

// SaveWebhook writes w back, bumping its version.
func SaveWebhook(ctx context.Context, q postgres.Querier, w *Webhook) error {
	w.Version++
	_, err := q.Exec(ctx, `UPDATE notify.webhooks SET url = $2, events = $3, secret = $4, active = $5, description = $6,
		update_time = $7, version = $8 WHERE id = $1`, w.ID, w.URL, w.Events, w.Secret, w.Active, w.Description, w.UpdateTime, w.Version)
	return postgres.Translate(err)
}

// DeleteWebhook removes agencyID's webhook id (and its log).
func DeleteWebhook(ctx context.Context, q postgres.Querier, agencyID, id string) error {
	tag, err := q.Exec(ctx, `DELETE FROM notify.webhooks WHERE id = $1 AND agency_id = $2`, id, agencyID)
	if err != nil {
		return postgres.Translate(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// ListWebhooks returns agencyID's webhooks, oldest first (an agency has a
// handful; no pagination).
func ListWebhooks(ctx context.Context, q postgres.Querier, agencyID string) ([]*Webhook, error) {
	rows, err := q.Query(ctx, `SELECT `+webhookCols+` FROM notify.webhooks WHERE agency_id = $1 ORDER BY create_time, id LIMIT 100`, agencyID)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, postgres.Translate(rows.Err())
}

// SubscribedWebhooks returns agencyID's active webhooks taking event.
func SubscribedWebhooks(ctx context.Context, q postgres.Querier, agencyID, event string) ([]*Webhook, error) {
	rows, err := q.Query(ctx, `SELECT `+webhookCols+` FROM notify.webhooks
		WHERE agency_id = $1 AND active AND (cardinality(events) = 0 OR $2 = ANY(events)) ORDER BY id`, agencyID, event)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, postgres.Translate(rows.Err())
}

// Delivery is one HTTP attempt.
type Delivery struct {
	ID, WebhookID, Event, EventID, Error string
	Attempt, StatusCode                  int
	Success                              bool
	AttemptTime                          time.Time
}

// InsertDelivery logs d.
func InsertDelivery(ctx context.Context, q postgres.Querier, d *Delivery) error {
	_, err := q.Exec(ctx, `INSERT INTO notify.webhook_deliveries (id, webhook_id, event, event_id, attempt, status_code, success, error, attempt_time)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`, d.ID, d.WebhookID, d.Event, d.EventID, d.Attempt, d.StatusCode, d.Success, d.Error, d.AttemptTime)
	return postgres.Translate(err)
}

// ListDeliveries returns webhookID's attempts, newest first, keyset-paged.
func ListDeliveries(ctx context.Context, q postgres.Querier, webhookID string, afterTime *time.Time, afterID string, limit int) ([]*Delivery, error) {
	rows, err := q.Query(ctx, `SELECT id, webhook_id, event, event_id, attempt, status_code, success, error, attempt_time
		FROM notify.webhook_deliveries WHERE webhook_id = $1
		  AND ($2::timestamptz IS NULL OR (attempt_time, id) < ($2, $3::uuid))
		ORDER BY attempt_time DESC, id DESC LIMIT $4`, webhookID, afterTime, nilIfEmpty(afterID), limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []*Delivery
	for rows.Next() {
		d := &Delivery{}
		if err := rows.Scan(&d.ID, &d.WebhookID, &d.Event, &d.EventID, &d.Attempt, &d.StatusCode, &d.Success, &d.Error, &d.AttemptTime); err != nil {
			return nil, postgres.Translate(err)
		}
		out = append(out, d)
	}
	return out, postgres.Translate(rows.Err())
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}
