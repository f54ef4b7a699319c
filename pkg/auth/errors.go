package auth

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrUnauthenticated is wrapped by every rejection of a caller's
	// credentials: missing, malformed, untrusted, invalid or expired token, or
	// a token whose user is unknown or inactive. The error's text is a short
	// reason fit to show the caller; the underlying cause (kept for errors.Is
	// and logs) is not part of it.
	ErrUnauthenticated = errors.New("unauthenticated")

	// ErrUnknownUser is what a Directory wraps when no active user of an
	// active agency is bound to the issuer and subject.
	ErrUnknownUser = errors.New("unknown or inactive user")

	// ErrUnavailable is wrapped when the credentials could not be checked for
	// a reason that is not the caller's fault — the directory's database or
	// an issuer's discovery endpoint is unreachable — so the caller should
	// answer 503 / UNAVAILABLE and the client may retry, rather than 401.
	ErrUnavailable = errors.New("authentication unavailable")

	// ErrInactiveUser is what a Directory returns for a user (or agency)
	// that exists but is inactive: unknown for authentication, but never
	// provisioned afresh.
	ErrInactiveUser = fmt.Errorf("%w: inactive", ErrUnknownUser)

	// ErrSessionEnded: the token was signed out (revoked), or issued before
	// its user's sessions were ended (sign out everywhere, deactivation).
	ErrSessionEnded = errors.New("session ended")
)

// Rejection is what a rejection observer (WithRejectionObserver) learns of
// a refused token: the caller-facing reason and, when the token got far
// enough to be read, what it claimed. Only Reason is verified to be true.
type Rejection struct {
	Reason    string
	Issuer    string // configured issuer name, "" if the token was not verified
	Subject   string
	Email     string
	AgencyORI string // the agency the token tried to speak for, if any
}

// rejection is an ErrUnauthenticated with a caller-facing reason and a cause
// that stays out of the message.
type rejection struct {
	reason string
	cause  error
	// claimed is set for refusals after verification.
	claimed *Rejection
}

// refuseAgency is the rejection of a verified token speaking for an agency
// its issuer does not vouch for (or for one its account is not in).
func refuseAgency(cfg *IssuerConfig, c *Claims, ori, reason string) error {
	return &rejection{reason: reason, claimed: &Rejection{Reason: reason, Issuer: cfg.Name, Subject: c.Subject,
		Email: c.Email, AgencyORI: strings.ToUpper(ori)}}
}

func unauthenticated(reason string, cause error) error {
	return &rejection{reason: reason, cause: cause}
}

func (r *rejection) Error() string { return ErrUnauthenticated.Error() + ": " + r.reason }

func (r *rejection) Unwrap() []error {
	if r.cause == nil {
		return []error{ErrUnauthenticated}
	}
	return []error{ErrUnauthenticated, r.cause}
}
