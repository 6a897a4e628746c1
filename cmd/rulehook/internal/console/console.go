// Package console is the browser face of `rulehook dev`: one embedded page (plain HTML, CSS and
// JavaScript, no build step, nothing loaded from elsewhere) that shows the emulated tenant's users
// and drives the whole loop: a login through the real Action, a play through the app API, faults
// in the tenant and in Redis, and the audit trail as it grows.
//
// The page is served at "/" and its JSON endpoints under "/dev/"; both exist only in dev, which
// mounts Handler in front of the service's own routes. The package knows nothing of how dev is
// built: it talks to a Backend that cmd/rulehook implements with the dev stack's parts. It imports
// the standard library only.
package console

import (
	"context"
	"encoding/json"
	"errors"
)

// Backend is what the console drives. cmd/rulehook implements it on the dev stack.
type Backend interface {
	// Users lists the emulated tenant's users with their play counts.
	Users(ctx context.Context) ([]User, error)
	// CreateUser adds a user to the emulated tenant; ErrInvalid wraps a bad request.
	CreateUser(ctx context.Context, u NewUser) (User, error)
	// Login sets the play count when Plays is not nil, then runs one login through the real Action.
	Login(ctx context.Context, req LoginRequest) (LoginResult, error)
	// RecordPlay records one play for the user through POST /v1/plays with a dev app token.
	RecordPlay(ctx context.Context, userID string) (PlayResult, error)
	// SetFaults replaces the faults in force.
	SetFaults(ctx context.Context, f Faults) error
	// Status reports the faults, the write path's state and the settings dev runs with.
	Status(ctx context.Context) Status
	// History returns the user's audit trail, newest first.
	History(ctx context.Context, userID string) ([]json.RawMessage, error)
}

// ErrInvalid marks an error caused by the request; the console answers it with 400.
var ErrInvalid = errors.New("invalid request")

// User is one user of the emulated tenant as the console lists it.
type User struct {
	ID          string   `json:"user_id"`
	Roles       []string `json:"roles"`
	DisplayName *string  `json:"display_name"` // nil: user_metadata has none
	Plays       *int64   `json:"plays"`        // nil: no count recorded in Redis
}

// NewUser is what "create a user" sends.
type NewUser struct {
	ID          string   `json:"user_id"`
	Roles       []string `json:"roles"`
	DisplayName string   `json:"display_name"`
}

// LoginRequest is what "Log in" sends.
type LoginRequest struct {
	UserID string `json:"user_id"`
	Plays  *int64 `json:"plays"` // nil leaves the count as it is
}

// LoginResult is everything one login showed: the callout's own answer, the claims the Action
// set, the metadata before and after, and who wrote it.
type LoginResult struct {
	Callout      json.RawMessage `json:"callout"` // rulehook's answer; null when the Action got none
	IDRoles      any             `json:"id_token_roles"`
	AccessRoles  any             `json:"access_token_roles"`
	ClaimName    string          `json:"claim_name"`
	Before       Metadata        `json:"before"`
	After        Metadata        `json:"after"`
	WrittenBy    string          `json:"written_by"`
	Denied       bool            `json:"denied"`
	DenyReason   string          `json:"deny_reason,omitempty"`
	ActionLogs   []string        `json:"action_logs"`
	PlaysAtLogin *int64          `json:"plays"`
}

// Metadata is a user's two metadata objects.
type Metadata struct {
	AppMetadata  map[string]any `json:"app_metadata"`
	UserMetadata map[string]any `json:"user_metadata"`
}

// PlayResult is rulehook's answer to one recorded play.
type PlayResult struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// Faults are the failures a developer can switch on. Tenant is "", "429", "5xx" or "hang".
type Faults struct {
	Tenant      string `json:"tenant"`
	RedisPaused bool   `json:"redis_paused"`
}

// Tenant fault values.
const (
	FaultNone        = ""
	FaultRateLimited = "429"
	FaultServerError = "5xx"
	FaultHang        = "hang"
)

// Valid reports whether f names known faults.
func (f Faults) Valid() bool {
	switch f.Tenant {
	case FaultNone, FaultRateLimited, FaultServerError, FaultHang:
		return true
	}
	return false
}

// Status is the state the console shows beside the users.
type Status struct {
	Faults   Faults   `json:"faults"`
	Redis    string   `json:"redis"`       // "ok", or what failed
	Queue    *int64   `json:"queue_depth"` // nil when it could not be read
	Gate     string   `json:"gate"`        // "open", "closed until …", "paced until …"
	Breaker  string   `json:"breaker"`     // closed, half-open, open
	Writes   Writes   `json:"writes"`
	Settings Settings `json:"settings"`
}

// Writes counts the Management API writer's outcomes since dev started.
type Writes struct {
	Written int64 `json:"written"`
	Queued  int64 `json:"queued"`
	Applied int64 `json:"applied"`
	Failed  int64 `json:"failed"`
}

// Settings are the rule and write settings dev runs with.
type Settings struct {
	Threshold          int64  `json:"threshold"`
	DefaultDisplayName string `json:"default_display_name"`
	WriteMode          string `json:"write_mode"`
	FailurePolicy      string `json:"failure_policy"`
	RulehookURL        string `json:"rulehook_url"`
	TenantURL          string `json:"tenant_url"`
}
