package web

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/casebridge/casebridge/pkg/rpc"
)

// problem is an API error as a page shows it: a message at the top of the
// form or page, and messages next to the fields the API named (by their
// JSON field paths, which are also the form fields' names).
type problem struct {
	Status  int
	Code    codes.Code
	Message string
	Fields  map[string]string
	// RetryAfter is the wait, in seconds, of a rate-limited call (429).
	RetryAfter int
}

// problemOf turns a gRPC error into what the page says. It is the one place
// that does so.
func problemOf(err error) *problem {
	if err == nil {
		return nil
	}
	st, _ := status.FromError(err)
	p := &problem{Status: runtime.HTTPStatusFromCode(st.Code()), Code: st.Code(), Fields: map[string]string{}}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				p.Fields[v.GetField()] = v.GetDescription()
			}
		}
	}
	switch st.Code() {
	case codes.InvalidArgument:
		p.Message = "Please correct the fields marked below."
		if len(p.Fields) == 0 {
			p.Message = strings.TrimPrefix(st.Message(), "invalid request: ")
		}
	case codes.NotFound:
		p.Message = "Not found — it does not exist, or your agency may not see it."
	case codes.PermissionDenied:
		p.Message = "Not allowed: your role or your agency's relation to this record does not permit it."
	case codes.Unauthenticated:
		p.Message = "Your sign-in is no longer valid. Sign in again."
	case codes.Aborted:
		p.Message = "Someone changed this record meanwhile. Reload the page and try again."
	case codes.FailedPrecondition, codes.AlreadyExists, codes.OutOfRange:
		p.Message = st.Message()
	case codes.ResourceExhausted:
		p.RetryAfter = int(math.Ceil(rpc.RetryAfter(err).Seconds()))
		if p.RetryAfter < 1 {
			p.RetryAfter = 1
		}
		p.Message = fmt.Sprintf("You are going faster than Casebridge allows. Nothing was lost: wait %d seconds, then try again.", p.RetryAfter)
	case codes.Unavailable, codes.DeadlineExceeded:
		p.Message = "Casebridge is temporarily unavailable. Try again in a moment."
	default:
		p.Message = "Something went wrong on our side. Try again; if it persists, quote the request id to support."
	}
	return p
}

// For returns the message for field (for templates), "" if none.
func (p *problem) For(field string) string {
	if p == nil {
		return ""
	}
	return p.Fields[field]
}

// Unplaced returns the field messages that name no field of the form, so
// they still show at the top.
func (p *problem) Unplaced(known ...string) map[string]string {
	if p == nil {
		return nil
	}
	out := map[string]string{}
	for f, m := range p.Fields {
		placed := false
		for _, k := range known {
			if f == k {
				placed = true
			}
		}
		if !placed {
			out[f] = m
		}
	}
	return out
}

// fail renders an error page for an API error that leaves nothing to show
// (a case not found, a forbidden report), or sends the browser to sign in
// when the token is no longer accepted.
func (a *App) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	p := problemOf(err)
	if p.Code == codes.Unauthenticated {
		a.clearCookie(w, r, sessionCookie)
		a.leave(w, r, "/signin?error="+urlQueryEscape(p.Message))
		return
	}
	if p.Code == codes.Internal || p.Code == codes.Unknown {
		a.logger.Error("web: API call failed", "path", r.URL.Path, "err", err)
	}
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	a.render(w, r, p.Status, "error", s, map[string]any{"Problem": p})
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

var errNotFound = status.Error(codes.NotFound, "not found")
