package auth

import "errors"

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
)

// rejection is an ErrUnauthenticated with a caller-facing reason and a cause
// that stays out of the message.
type rejection struct {
	reason string
	cause  error
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
