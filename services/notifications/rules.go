package notifications

import (
	notificationsv1 "github.com/casebridge/casebridge/gen/casebridge/notifications/v1"
	"github.com/casebridge/casebridge/pkg/authz"
)

// MethodRules is the method-level authorization of NotificationService:
// a user's own inbox and preferences are open to every authenticated user
// (handlers only ever touch the caller's rows); webhooks are an agency's
// records, managed by its admins (policy `webhook` on member).
var MethodRules = authz.MethodRules{
	notificationsv1.NotificationService_ListNotifications_FullMethodName:        {Authenticated: true},
	notificationsv1.NotificationService_MarkNotificationRead_FullMethodName:     {Authenticated: true},
	notificationsv1.NotificationService_MarkAllNotificationsRead_FullMethodName: {Authenticated: true},
	notificationsv1.NotificationService_GetUnreadCount_FullMethodName:           {Authenticated: true},
	notificationsv1.NotificationService_GetPreferences_FullMethodName:           {Authenticated: true},
	notificationsv1.NotificationService_UpdatePreferences_FullMethodName:        {Authenticated: true},
	notificationsv1.NotificationService_ListWebhooks_FullMethodName:             {Object: "webhook", Action: "read"},
	notificationsv1.NotificationService_GetWebhook_FullMethodName:               {Object: "webhook", Action: "read"},
	notificationsv1.NotificationService_CreateWebhook_FullMethodName:            {Object: "webhook", Action: "create"},
	notificationsv1.NotificationService_UpdateWebhook_FullMethodName:            {Object: "webhook", Action: "update"},
	notificationsv1.NotificationService_DeleteWebhook_FullMethodName:            {Object: "webhook", Action: "delete"},
	notificationsv1.NotificationService_ListWebhookDeliveries_FullMethodName:    {Object: "webhook", Action: "read"},
	notificationsv1.NotificationService_TestWebhook_FullMethodName:              {Object: "webhook", Action: "update"},
}
