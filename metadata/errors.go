package metadata

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Adapters wrap their library's failures in one of these so that callers can
// decide with errors.Is without knowing which library is behind an interface.
var (
	// ErrNotFound: the user (or the record asked for) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: a backend (Redis, the Management API) failed, timed out or answered 5xx.
	ErrUnavailable = errors.New("backend unavailable")
	// ErrRateLimited: the Management API answered 429 or the rate-limit gate is closed.
	// A *RateLimitError carries the reset time.
	ErrRateLimited = errors.New("rate limited")
	// ErrReplay: a callout token's jti has been used before.
	ErrReplay = errors.New("token already used")
	// ErrInvalid: input that breaks a rule of this package (a bad patch, a bad display name).
	ErrInvalid = errors.New("invalid")
	// ErrLimit: a per-user bound was reached (songs per user, for instance).
	ErrLimit = errors.New("limit reached")
	// ErrNotQueued: a write that could not be made could not be stored in the retry queue either
	// (its store failed). It comes with ErrUnavailable.
	ErrNotQueued = errors.New("not queued")
)

// RateLimitError reports a 429 from the Management API. It matches ErrRateLimited.
type RateLimitError struct {
	// Reset is when the tenant accepts writes again (X-RateLimit-Reset); zero when unknown.
	Reset time.Time
}

func (e *RateLimitError) Error() string {
	if e.Reset.IsZero() {
		return "management api rate limited"
	}
	return fmt.Sprintf("management api rate limited until %s", e.Reset.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrRateLimited) true for a *RateLimitError.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// invalidf returns an error that wraps ErrInvalid with a human reason.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
