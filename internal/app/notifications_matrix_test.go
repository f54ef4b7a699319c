package app_test

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/casebridge/casebridge/internal/demo"
)

// NotificationService calls for the authorization matrix (issue 18). A
// user's inbox and preferences are the user's own (relation member);
// webhooks belong to the fixture's target agency (member: the user's own,
// other: another), made in SQL fresh per call.
func init() {
	for name, fn := range notificationCalls {
		calls[name] = fn
	}
}

func (f *fixture) notification() string {
	id := uuid.NewString()
	mustExec(f, `INSERT INTO notify.notifications (id, event_id, user_id, agency_id, event, title, create_time)
		VALUES ($1, gen_random_uuid(), $2, $3, 'referral.submitted', 'm', now())`, id, demo.UserID(f.user), f.actor)
	return id
}

func (f *fixture) webhook() string {
	id := uuid.NewString()
	mustExec(f, `INSERT INTO notify.webhooks (id, agency_id, url, secret, create_time, update_time, create_user_email)
		VALUES ($1, $2, 'https://hooks.example/m', 'matrix-secret-0123456789', now(), now(), 'm@example')`, id, f.target)
	return id
}

func (f *fixture) hookPath() (agency, id, path string) {
	id = f.webhook()
	return f.target, id, "/v1/agencies/" + f.target + "/webhooks/" + id
}

var notificationCalls = map[string]func(f *fixture) call{
	"NotificationService.ListNotifications": func(f *fixture) call { return call{"GET", "/v1/notifications", nil, `{}`} },
	"NotificationService.MarkNotificationRead": func(f *fixture) call {
		id := f.notification()
		return call{"POST", "/v1/notifications/" + id + ":markRead", map[string]any{}, fmt.Sprintf(`{"notificationId": %q}`, id)}
	},
	"NotificationService.MarkAllNotificationsRead": func(f *fixture) call {
		return call{"POST", "/v1/notifications:markAllRead", map[string]any{}, `{}`}
	},
	"NotificationService.GetUnreadCount": func(f *fixture) call {
		return call{"GET", "/v1/notifications:unreadCount", nil, `{}`}
	},
	"NotificationService.GetPreferences": func(f *fixture) call {
		return call{"GET", "/v1/me/notificationPreferences", nil, `{}`}
	},
	"NotificationService.UpdatePreferences": func(f *fixture) call {
		return call{"PUT", "/v1/me/notificationPreferences", map[string]any{"emailEvents": []string{"referral.submitted"}},
			`{"preferences": {"emailEvents": ["referral.submitted"]}}`}
	},
	"NotificationService.ListWebhooks": func(f *fixture) call {
		return call{"GET", "/v1/agencies/" + f.target + "/webhooks", nil, fmt.Sprintf(`{"agencyId": %q}`, f.target)}
	},
	"NotificationService.GetWebhook": func(f *fixture) call {
		a, id, path := f.hookPath()
		return call{"GET", path, nil, fmt.Sprintf(`{"agencyId": %q, "webhookId": %q}`, a, id)}
	},
	"NotificationService.CreateWebhook": func(f *fixture) call {
		body := map[string]any{"url": "https://hooks.example/new", "secret": "matrix-secret-0123456789"}
		return call{"POST", "/v1/agencies/" + f.target + "/webhooks", body,
			fmt.Sprintf(`{"agencyId": %q, "webhook": {"url": "https://hooks.example/new", "secret": "matrix-secret-0123456789"}}`, f.target)}
	},
	"NotificationService.UpdateWebhook": func(f *fixture) call {
		a, id, path := f.hookPath()
		return call{"PATCH", path + "?updateMask=description", map[string]any{"description": "m"},
			fmt.Sprintf(`{"webhook": {"id": %q, "agencyId": %q, "description": "m"}, "updateMask": "description"}`, id, a)}
	},
	"NotificationService.DeleteWebhook": func(f *fixture) call {
		a, id, path := f.hookPath()
		return call{"DELETE", path, nil, fmt.Sprintf(`{"agencyId": %q, "webhookId": %q}`, a, id)}
	},
	"NotificationService.ListWebhookDeliveries": func(f *fixture) call {
		a, id, path := f.hookPath()
		return call{"GET", path + "/deliveries", nil, fmt.Sprintf(`{"agencyId": %q, "webhookId": %q}`, a, id)}
	},
	"NotificationService.TestWebhook": func(f *fixture) call {
		a, id, path := f.hookPath()
		return call{"POST", path + ":test", map[string]any{}, fmt.Sprintf(`{"agencyId": %q, "webhookId": %q}`, a, id)}
	},
}
