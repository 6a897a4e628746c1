package mgmt

import (
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/auth0/go-auth0/v3/management"
)

// DefaultConfigRetry is how long calls wait after a configuration error (Config.ConfigRetry).
const DefaultConfigRetry = 5 * time.Minute

// ConfigError is a configuration problem the Management API reported: a 403 (the M2M
// application lacks a scope, or is not authorized for the API) or a 401 that a fresh token did
// not cure (wrong credentials or audience). It is not an outage: calls of its kind (reads or
// writes) are parked until Until, writes go to the queue meanwhile, and the worker retries them
// once Until has passed. It names no user and holds no upstream text but the scope names.
type ConfigError struct {
	// Status is 401 or 403.
	Status int
	// Op is the call that was refused ("PATCH user", "GET user", "GET users", or
	// "POST /oauth/token" when the token endpoint refused the client).
	Op string
	// Scopes are the scopes Auth0's insufficient_scope message says are missing ("expected any
	// of: ..."); empty when it named none.
	Scopes []string
	// Since is when this run of errors began; Until is when calls of its kind are tried again.
	Since, Until time.Time
}

// opToken names the token request in a ConfigError.
const opToken = "POST /oauth/token"

// Fix is the operator's remedy, for a log line or `rulehook doctor`.
func (c ConfigError) Fix() string {
	switch {
	case c.Op == opToken:
		return "the tenant refuses rulehook's client credentials: check AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET, " +
			"and that the application is authorized for the Auth0 Management API"
	case c.Status == http.StatusUnauthorized:
		return "the Management API refuses rulehook's token: check AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET and AUTH0_DOMAIN"
	case len(c.Scopes) > 0:
		return "grant the M2M application the scope " + strings.Join(c.Scopes, " or ") + " on the Auth0 Management API"
	}
	return "the Management API refuses the M2M application: grant it read:users, update:users and update:users_app_metadata"
}

// class is what a parking holds back: reads or writes.
type class int

const (
	classRead class = iota
	classWrite
	classes
)

func classOf(op string) class {
	if strings.HasPrefix(op, http.MethodGet) {
		return classRead
	}
	return classWrite
}

// parkLot holds back the calls a configuration error refused.
type parkLot struct {
	now   func() time.Time
	log   *slog.Logger
	retry time.Duration

	mu     sync.Mutex
	parked [classes]ConfigError // Until in the past: not parked
	total  int64                // configuration-error answers since New
}

// blocked reports whether calls of op's class wait, and until when.
func (p *parkLot) blocked(op string) (bool, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.parked[classOf(op)]
	return c.Until.After(p.now()), c.Until
}

// park records a configuration error of op and holds back its class (every class on a 401, which
// refuses the token itself) for the retry time. It logs one ERROR line per parking, not one per
// refused call, and returns the parking's end.
func (p *parkLot) park(op string, status int, scopes []string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.total++
	ce := ConfigError{Status: status, Op: op, Scopes: scopes, Since: now, Until: now.Add(p.retry)}
	targets := []class{classOf(op)}
	if status == http.StatusUnauthorized || op == opToken {
		targets = []class{classRead, classWrite}
	}
	logged := false
	for _, c := range targets {
		old := p.parked[c]
		if old.Until.After(now) {
			continue // parked already: a call that was in flight
		}
		if !old.Since.IsZero() {
			ce.Since = old.Since
		}
		p.parked[c] = ce
		if !logged {
			logged = true
			p.log.Error("management api configuration error: "+ce.Fix()+"; writes are kept in the retry queue",
				"status", status, "op", op, "missing_scopes", strings.Join(scopes, " "),
				"retry_at", ce.Until.UTC().Format(time.RFC3339), "since", ce.Since.UTC().Format(time.RFC3339))
		}
	}
	return ce.Until
}

// clear ends the parking of op's class after a call of it succeeded.
func (p *parkLot) clear(op string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := classOf(op)
	if p.parked[c].Since.IsZero() {
		return
	}
	p.log.Info("management api configuration error resolved", "op", op)
	p.parked[c] = ConfigError{}
}

// current returns the configuration error still unresolved (writes first), if any.
func (p *parkLot) current() (ConfigError, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range []class{classWrite, classRead} {
		if !p.parked[c].Since.IsZero() {
			return p.parked[c], true
		}
	}
	return ConfigError{}, false
}

func (p *parkLot) count() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

// ConfigError returns the Management API configuration error that is not resolved yet: one
// refused call of its kind has not been followed by one that succeeded. ok is false when there is
// none. Stats.ConfigParked (the metric rulehook_mgmt_config_error) reports whether there is one.
func (w *Writer) ConfigError() (ConfigError, bool) { return w.park.current() }

// scopeName is what Auth0 calls a Management API scope: "update:users_app_metadata".
var scopeName = regexp.MustCompile(`^[a-z_]+:[a-z_]+$`)

// insufficientScopePrefix starts the message of Auth0's 403 insufficient_scope answer, as
// recorded in auth0/auth0-cli (internal/cli/api_test.go, TestAPICmd_IsInsufficientScopeError):
// {"statusCode":403,"error":"Forbidden","message":"Insufficient scope, expected any of:
// read:clients, read:client_summary","errorCode":"insufficient_scope"}.
const insufficientScopePrefix = "Insufficient scope, expected any of:"

// missingScopes returns the scopes a 403's body names, keeping only well-formed scope names so
// that no other upstream text reaches a log line.
func missingScopes(err error) []string {
	var fe *management.ForbiddenError
	if !errors.As(err, &fe) {
		return nil
	}
	body, _ := fe.Body.(map[string]any)
	msg, _ := body["message"].(string)
	rest, ok := strings.CutPrefix(msg, insufficientScopePrefix)
	if !ok {
		return nil
	}
	var out []string
	for _, s := range strings.Split(rest, ",") {
		if s = strings.TrimSpace(s); scopeName.MatchString(s) {
			out = append(out, s)
		}
	}
	return out
}
