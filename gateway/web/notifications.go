package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	notificationsv1 "github.com/casebridge/casebridge/gen/casebridge/notifications/v1"
)

// unread is the bell's count: -1 when signed out or when it cannot be read
// quickly (the page still renders; the bell shows no number).
func (a *App) unread(r *http.Request, s *session) int32 {
	if s == nil || s.Token == "" {
		return -1
	}
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, 2*time.Second)
	defer cancel2()
	resp, err := a.notify.GetUnreadCount(ctx, &notificationsv1.GetUnreadCountRequest{})
	if err != nil {
		return -1
	}
	return resp.GetUnread()
}

// inbox lists the user's notifications, newest first.
func (a *App) inbox(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	resp, err := a.notify.ListNotifications(ctx, &notificationsv1.ListNotificationsRequest{
		PageSize: 50, PageToken: r.URL.Query().Get("page"), UnreadOnly: r.URL.Query().Get("unread") == "1"})
	if err != nil {
		a.fail(w, r, s, err)
		return
	}
	a.render(w, r, http.StatusOK, "notifications", s, map[string]any{"Items": resp.GetNotifications(),
		"Next": resp.GetNextPageToken(), "UnreadOnly": r.URL.Query().Get("unread") == "1"})
}

func (a *App) markRead(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	n, err := a.notify.MarkNotificationRead(ctx, &notificationsv1.MarkNotificationReadRequest{NotificationId: r.PathValue("id")})
	if err != nil {
		a.fail(w, r, s, err)
		return
	}
	// "Open" marks read and goes to the thing; "Mark read" stays.
	if r.PostFormValue("open") == "1" && strings.HasPrefix(n.GetNotification().GetLink(), "/") {
		a.redirect(w, r, n.GetNotification().GetLink())
		return
	}
	a.redirect(w, r, "/notifications")
}

func (a *App) readAll(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	if _, err := a.notify.MarkAllNotificationsRead(ctx, &notificationsv1.MarkAllNotificationsReadRequest{}); err != nil {
		a.fail(w, r, s, err)
		return
	}
	a.redirect(w, r, "/notifications")
}

// preferences shows which events reach the user by e-mail.
func (a *App) preferences(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	resp, err := a.notify.GetPreferences(ctx, &notificationsv1.GetPreferencesRequest{})
	if err != nil {
		a.fail(w, r, s, err)
		return
	}
	a.render(w, r, http.StatusOK, "notification_prefs", s, prefsData(resp.GetPreferences(), r.URL.Query().Get("saved") == "1", nil))
}

func prefsData(p *notificationsv1.Preferences, saved bool, prob *problem) map[string]any {
	on := map[string]bool{}
	for _, e := range p.GetEmailEvents() {
		on[e] = true
	}
	return map[string]any{"Events": p.GetAvailableEvents(), "On": on, "Saved": saved, "Problem": prob}
}

func (a *App) savePreferences(w http.ResponseWriter, r *http.Request, s *session) {
	_ = r.ParseForm()
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	_, err := a.notify.UpdatePreferences(ctx, &notificationsv1.UpdatePreferencesRequest{
		Preferences: &notificationsv1.Preferences{EmailEvents: r.PostForm["emailEvents"]}})
	if err != nil {
		p := problemOf(err)
		if p.Code != codes.InvalidArgument {
			a.fail(w, r, s, err)
			return
		}
		cur, gerr := a.notify.GetPreferences(ctx, &notificationsv1.GetPreferencesRequest{})
		if gerr != nil {
			a.fail(w, r, s, gerr)
			return
		}
		a.render(w, r, p.Status, "notification_prefs", s, prefsData(cur.GetPreferences(), false, p))
		return
	}
	a.redirect(w, r, "/notifications/preferences?saved=1")
}

// webhooks is an agency's webhook receivers (its admins) with a form to
// add one.
func (a *App) webhooks(w http.ResponseWriter, r *http.Request, s *session) {
	a.renderWebhooks(w, r, s, http.StatusOK, nil, nil)
}

func (a *App) renderWebhooks(w http.ResponseWriter, r *http.Request, s *session, code int, prob *problem, form map[string]string) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	agency := r.PathValue("id")
	resp, err := a.notify.ListWebhooks(ctx, &notificationsv1.ListWebhooksRequest{AgencyId: agency})
	if err != nil {
		a.fail(w, r, s, err)
		return
	}
	prefs, _ := a.notify.GetPreferences(ctx, &notificationsv1.GetPreferencesRequest{})
	a.render(w, r, code, "webhooks", s, map[string]any{"Agency": agency, "Hooks": resp.GetWebhooks(),
		"Events": prefs.GetPreferences().GetAvailableEvents(), "Problem": prob, "Form": form})
}

func (a *App) createWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	_ = r.ParseForm()
	f := formValues(r, "webhook.url", "webhook.secret", "webhook.description")
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	resp, err := a.notify.CreateWebhook(ctx, &notificationsv1.CreateWebhookRequest{AgencyId: r.PathValue("id"),
		Webhook: &notificationsv1.Webhook{Url: f["webhook.url"], Secret: f["webhook.secret"], Description: f["webhook.description"],
			Events: r.PostForm["webhook.events"]}})
	if err != nil {
		p := problemOf(err)
		if p.Code != codes.InvalidArgument {
			a.fail(w, r, s, err)
			return
		}
		delete(f, "webhook.secret") // never echoed back
		a.renderWebhooks(w, r, s, p.Status, p, f)
		return
	}
	a.redirect(w, r, "/agencies/"+r.PathValue("id")+"/webhooks/"+resp.GetWebhook().GetId())
}

// showWebhook is one receiver with its delivery log and actions.
func (a *App) showWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	agency, id := r.PathValue("id"), r.PathValue("hook")
	h, err := a.notify.GetWebhook(ctx, &notificationsv1.GetWebhookRequest{AgencyId: agency, WebhookId: id})
	if err != nil {
		a.fail(w, r, s, err)
		return
	}
	ds, err := a.notify.ListWebhookDeliveries(ctx, &notificationsv1.ListWebhookDeliveriesRequest{AgencyId: agency, WebhookId: id, PageSize: 50})
	a.render(w, r, http.StatusOK, "webhook", s, map[string]any{"Agency": agency, "Hook": h.GetWebhook(),
		"Deliveries": sectionOf(ds.GetDeliveries(), err), "Tested": r.URL.Query().Get("tested") == "1"})
}

// webhookAction: test (queue a signed test event), enable, disable, delete.
func (a *App) webhookAction(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := a.rpc(r, s)
	defer cancel()
	agency, id := r.PathValue("id"), r.PathValue("hook")
	page := "/agencies/" + agency + "/webhooks/" + id
	var err error
	switch r.PathValue("action") {
	case "test":
		_, err = a.notify.TestWebhook(ctx, &notificationsv1.TestWebhookRequest{AgencyId: agency, WebhookId: id})
		page += "?tested=1"
	case "enable", "disable":
		_, err = a.notify.UpdateWebhook(ctx, &notificationsv1.UpdateWebhookRequest{
			Webhook:    &notificationsv1.Webhook{Id: id, AgencyId: agency, Active: r.PathValue("action") == "enable"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"active"}}})
	case "delete":
		_, err = a.notify.DeleteWebhook(ctx, &notificationsv1.DeleteWebhookRequest{AgencyId: agency, WebhookId: id})
		page = "/agencies/" + agency + "/webhooks"
	default:
		a.fail(w, r, s, errNotFound)
		return
	}
	if err != nil {
		a.fail(w, r, s, err)
		return
	}
	a.redirect(w, r, page)
}
