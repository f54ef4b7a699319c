package web

import (
	"net/http"
	"time"
)

// SessionCookie seals a session for email, last active at last, with CSRF
// token csrf (tests only).
func SessionCookie(a *App, email, csrf string, last time.Time) *http.Cookie {
	v, err := a.sealer.seal(sessionCookie, &session{Token: "t", Email: email, CSRF: csrf, Last: last.Unix()})
	if err != nil {
		panic(err)
	}
	return &http.Cookie{Name: sessionCookie, Value: v}
}
