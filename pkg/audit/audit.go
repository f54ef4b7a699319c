// Package audit owns the CJIS audit trail (DESIGN.md §4): every RPC of every
// service leaves a record of who did what to which resource, when, from
// where, with what outcome — reads and denials included. Records are
// hash-chained per agency so any edit, deletion, insertion or reordering is
// detectable (Verify).
//
// How a record gets written:
//   - The interceptor (Interceptor) opens an Event for each call and fills
//     what the transport knows (request id, client, method, purpose).
//   - Handlers add what only they know with Annotate (resource, case,
//     recipient of a dissemination).
//   - A handler that writes calls Write(ctx, tx) inside its own transaction,
//     so the change and its record commit together or not at all.
//   - For everything else (reads, denials, failures) the interceptor hands the
//     record to the group-commit Writer and holds the response until it is
//     durable; if it cannot be written the call fails with UNAVAILABLE.
package audit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/casebridge/casebridge/pkg/auth"
	"github.com/casebridge/casebridge/pkg/postgres"
)

// ErrUnavailable: the audit record could not be written, so the access must
// not happen. It wraps postgres.ErrUnavailable, so services answer 503.
var ErrUnavailable = fmt.Errorf("audit trail unavailable: %w", postgres.ErrUnavailable)

// AnonymousChain is the chain of calls made without a valid identity.
const AnonymousChain = "00000000-0000-0000-0000-000000000000"

// Outcomes.
const (
	OutcomeAllowed = "ALLOWED"
	OutcomeDenied  = "DENIED"
	OutcomeFailed  = "FAILED"
)

// Change is one changed field in a write's digest: its name and a hash of
// its new value, never the value (no personal data in the trail).
type Change struct {
	Field string `json:"field"`
	Hash  string `json:"sha256"`
}

// Event is one audit record. The JSON field order is the canonical order
// hashed into the chain; never reorder or rename fields.
type Event struct {
	ID                string    `json:"id"`
	AgencyID          string    `json:"agencyId"` // the chain: the acting user's agency
	Seq               int64     `json:"seq"`
	Time              time.Time `json:"time"`
	RequestID         string    `json:"requestId"`
	UserID            string    `json:"userId"`
	UserEmail         string    `json:"userEmail"`
	AgencyORI         string    `json:"agencyOri"`
	Roles             []string  `json:"roles"`
	ClientAddr        string    `json:"clientAddr"`
	UserAgent         string    `json:"userAgent"`
	Service           string    `json:"service"`
	Method            string    `json:"method"`
	Action            string    `json:"action"`
	ResourceType      string    `json:"resourceType"`
	ResourceID        string    `json:"resourceId"`
	CaseID            string    `json:"caseId"`
	Outcome           string    `json:"outcome"`
	StatusCode        string    `json:"statusCode"`
	Purpose           string    `json:"purpose"`
	RecipientAgencyID string    `json:"recipientAgencyId"`
	Changes           []Change  `json:"changes"`
	// ListedCaseIDs are the cases a List call showed. Added after the
	// first records were written: omitted when empty, so the canonical
	// form of every older record is unchanged.
	ListedCaseIDs []string `json:"listedCaseIds,omitempty"`
	// RolesBefore and RolesAfter name a user's roles before and after a
	// role change (role names are not sensitive, so they are in clear);
	// Reason says why a call was refused where the status code alone does
	// not (an issuer speaking for an agency it does not vouch for). Added
	// with issue 13, omitted when empty like ListedCaseIDs.
	RolesBefore []string `json:"rolesBefore,omitempty"`
	RolesAfter  []string `json:"rolesAfter,omitempty"`
	Reason      string   `json:"reason,omitempty"`
}

// call is the per-request state the interceptor keeps in the context.
type call struct {
	mu      sync.Mutex
	ev      Event
	written bool // a handler wrote it inside its transaction
}

type callKey struct{}

func fromContext(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// Annotate lets a handler fill in what only it knows. It is a no-op outside
// an audited call.
func Annotate(ctx context.Context, fn func(*Event)) {
	if c := fromContext(ctx); c != nil {
		c.mu.Lock()
		fn(&c.ev)
		c.mu.Unlock()
	}
}

// SetPrincipal records the authenticated caller (the rpc chain calls it
// right after authentication).
func SetPrincipal(ctx context.Context, p *auth.Principal) {
	Annotate(ctx, func(e *Event) {
		e.AgencyID, e.UserID, e.UserEmail, e.AgencyORI = p.AgencyID, p.UserID, p.Email, p.AgencyORI
		e.Roles = append([]string(nil), p.Roles...)
	})
}

// Forwarded is the minimal interface Write needs from a transaction.
type Forwarded = postgres.Querier

// Write appends the call's record, with outcome ALLOWED, inside the caller's
// transaction q: the change and its record commit together. An error wraps
// ErrUnavailable; the caller must fail (and so roll back) its transaction.
func Write(ctx context.Context, q postgres.Querier) error {
	c := fromContext(ctx)
	if c == nil {
		return nil
	}
	c.mu.Lock()
	ev := c.ev
	c.mu.Unlock()
	ev.Outcome, ev.StatusCode = OutcomeAllowed, "OK"
	ev.Time = time.Now().UTC()
	if err := appendEvents(ctx, q, []*Event{&ev}); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	c.mu.Lock()
	c.written = true
	c.mu.Unlock()
	return nil
}
