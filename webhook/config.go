package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rulehook/rulehook/metadata"
)

// Write modes (WRITE_MODE).
const (
	// WriteModeManagement: rulehook PATCHes the user through the Management API.
	WriteModeManagement = "management"
	// WriteModeAction: rulehook only answers; the Action persists the patches.
	WriteModeAction = "action"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultCalloutDeadline = 2 * time.Second
	DefaultMaxBodyBytes    = 262144
	// DefaultMaxBodyMemoryBytes bounds the callout bodies held in memory at once: 16 bodies of
	// the largest size, or some ten thousand of the Action's usual 0.5 KB.
	DefaultMaxBodyMemoryBytes = 4 << 20
)

// Token rules shared by the callout and the app API.
const (
	// ClockLeeway is the clock skew tolerated on exp, iat and nbf.
	ClockLeeway = 30 * time.Second
	// MaxCalloutLifetime bounds exp - iat of a callout token.
	MaxCalloutLifetime = 300 * time.Second
	// MinSecretBytes is the shortest HS256 key accepted (CALLOUT_SECRET, legacy secret).
	MinSecretBytes = 32
)

// Config is the edge's configuration. New validates it all at once.
type Config struct {
	// Policy holds the rules' settings (threshold, default display name).
	Policy metadata.Policy
	// WriteMode is WriteModeManagement, WriteModeAction or WriteModeShadow. Shadow mode costs
	// every login a second Redis round trip (its hourly counts), beside the login's own one.
	WriteMode string
	// FailOpen selects FAILURE_POLICY=open: answer 200 with the current roles when Redis or the
	// Management API fail. False answers 503 instead.
	FailOpen bool

	// CalloutSecrets are the HS256 keys of callout tokens, the current one first, then the
	// previous one during a rotation. Each at least MinSecretBytes.
	CalloutSecrets [][]byte
	// CalloutAudience and CalloutIssuer are the expected aud and iss of callout tokens.
	CalloutAudience string
	CalloutIssuer   string
	// CalloutDeadline bounds the whole callout, and every dependency call of the app API.
	// Zero means DefaultCalloutDeadline.
	CalloutDeadline time.Duration
	// MaxBodyBytes bounds every request body. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxBodyMemoryBytes bounds the bytes of callout bodies held in memory at once, across the
	// process (MAX_BODY_MEMORY_BYTES). A callout reserves its declared length (MaxBodyBytes when
	// unknown) only after its token is verified; past the budget it is answered 503 at once.
	// Zero means DefaultMaxBodyMemoryBytes (or twice MaxBodyBytes when larger); it must be at
	// least twice MaxBodyBytes, as bodies above 64 KiB may use only half of it.
	MaxBodyMemoryBytes int64

	// APIKeyfunc returns the RSA public key of an app API token (see JWKSKeyfunc). Nil turns
	// RS256 app tokens off.
	APIKeyfunc jwt.Keyfunc
	// APIAudience and APIIssuer are the expected aud and iss of RS256 app tokens; both are
	// required when APIKeyfunc is set.
	APIAudience string
	APIIssuer   string
	// LegacySecret turns on the seed's HS256 app tokens (signed with the client secret). Empty
	// means off.
	LegacySecret []byte
	// LegacyAudience is the expected aud of legacy tokens (the client id); required with
	// LegacySecret.
	LegacyAudience string
	// LegacyIssuer, when set, is the expected iss of legacy tokens; empty skips the check, as the
	// seed's own API did.
	LegacyIssuer string

	// Logger receives JSON logs. Nil discards them.
	Logger *slog.Logger
	// Registry receives the edge's metrics and is served on /metrics. Nil creates one; see
	// Server.Registry to add more collectors.
	Registry *prometheus.Registry
	// Version is reported by rulehook_build_info. Empty reads the module version.
	Version string
	// Now is the clock used to check token times. Nil means time.Now.
	Now func() time.Time
}

// LoginStore claims a callout's jti and reads the play count in one round trip
// (redisstore.Store). BeginLogin returns metadata.ErrReplay when the jti was seen before, and a
// count that is not Recorded when the key is absent (CONTRACT rule 6).
type LoginStore interface {
	BeginLogin(ctx context.Context, userID, jti string, ttl time.Duration) (metadata.PlayCount, error)
}

// PlayStore reads and records play counts (redisstore.Store). RecordPlay returns the new count.
type PlayStore interface {
	Plays(ctx context.Context, userID string) (int64, error)
	RecordPlay(ctx context.Context, userID string) (int64, error)
}

// AppStore holds the app API's per-user data (redisstore.Store). FavGenre returns
// metadata.ErrNotFound when unset; AddSong returns metadata.ErrLimit at the per-user bound.
type AppStore interface {
	FavGenre(ctx context.Context, userID string) (string, error)
	SetFavGenre(ctx context.Context, userID, genre string) error
	Songs(ctx context.Context, userID string) ([]metadata.Song, error)
	AddSong(ctx context.Context, userID, name string) (metadata.Song, error)
}

// Writer writes a patch through the Management API, or queues it (mgmt.Writer). An error means
// the write was neither made nor queued.
type Writer interface {
	Write(ctx context.Context, w metadata.Write) (metadata.Outcome, error)
}

// UserReader reads a user from the Management API (mgmt.Writer); metadata.ErrNotFound when absent.
type UserReader interface {
	User(ctx context.Context, id string) (metadata.User, error)
}

// Rerunner queues a re-run of the rules for a user whose play count crossed the threshold.
type Rerunner interface {
	Rerun(ctx context.Context, userID, reason, requestID string) error
}

// Pinger reports whether Redis answers (redisstore.Store).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are the adapters the edge calls. Logins, Plays, App and Pinger are required; Writer is
// required in WriteModeManagement; Users is required with Writer. Without Writer and Users the
// displayName routes answer 501. Rerunner may be nil. Shadow is required in WriteModeShadow.
type Deps struct {
	Logins   LoginStore
	Plays    PlayStore
	App      AppStore
	Writer   Writer
	Users    UserReader
	Rerunner Rerunner
	Pinger   Pinger
	Shadow   ShadowRecorder
}

// validate applies defaults to cfg and returns every problem at once, or nil.
func (cfg *Config) validate(deps Deps) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	cfg.checkCallout(bad)
	cfg.checkAppAuth(bad)
	cfg.checkDeps(deps, bad)
	if len(errs) > 0 {
		return fmt.Errorf("webhook config: %w", errors.Join(errs...))
	}
	cfg.applyDefaults()
	return nil
}

// checkCallout reports the problems of the rules, the write mode and the callout's settings.
func (cfg *Config) checkCallout(bad func(format string, args ...any)) {
	if err := cfg.Policy.Validate(); err != nil {
		bad("policy: %w", err)
	}
	switch cfg.WriteMode {
	case WriteModeManagement, WriteModeAction, WriteModeShadow:
	default:
		bad("write mode %q: want %q, %q or %q", cfg.WriteMode, WriteModeManagement, WriteModeAction, WriteModeShadow)
	}
	if len(cfg.CalloutSecrets) == 0 {
		bad("callout secret: required")
	}
	for i, s := range cfg.CalloutSecrets {
		if len(s) < MinSecretBytes {
			bad("callout secret %d: %d bytes, want at least %d", i, len(s), MinSecretBytes)
		}
	}
	if cfg.CalloutAudience == "" {
		bad("callout audience: required")
	}
	if cfg.CalloutIssuer == "" {
		bad("callout issuer: required")
	}
	if cfg.CalloutDeadline < 0 {
		bad("callout deadline %s: must be positive", cfg.CalloutDeadline)
	}
	if cfg.MaxBodyBytes < 0 {
		bad("max body bytes %d: must be positive", cfg.MaxBodyBytes)
	}
	maxBody := cfg.MaxBodyBytes
	if maxBody == 0 {
		maxBody = DefaultMaxBodyBytes
	}
	if cfg.MaxBodyMemoryBytes < 0 || (cfg.MaxBodyMemoryBytes > 0 && cfg.MaxBodyMemoryBytes < 2*maxBody) {
		bad("max body memory bytes %d: must be at least twice the max body bytes (%d)", cfg.MaxBodyMemoryBytes, maxBody)
	}
}

// checkAppAuth reports the problems of the app API's token settings, RS256 and legacy HS256.
func (cfg *Config) checkAppAuth(bad func(format string, args ...any)) {
	if cfg.APIKeyfunc != nil && cfg.APIAudience == "" {
		bad("api audience: required with RS256 app tokens")
	}
	if cfg.APIKeyfunc != nil && cfg.APIIssuer == "" {
		bad("api issuer: required with RS256 app tokens")
	}
	if len(cfg.LegacySecret) > 0 && len(cfg.LegacySecret) < MinSecretBytes {
		bad("legacy secret: %d bytes, want at least %d", len(cfg.LegacySecret), MinSecretBytes)
	}
	if len(cfg.LegacySecret) > 0 && cfg.LegacyAudience == "" {
		bad("legacy audience: required with the legacy secret")
	}
	for _, k := range cfg.CalloutSecrets {
		if len(cfg.LegacySecret) > 0 && bytes.Equal(k, cfg.LegacySecret) {
			bad("legacy secret: equal to a callout secret, so a callout token would pass as an app token")
		}
	}
}

// checkDeps reports the dependencies that are missing, or that the write mode needs.
func (cfg *Config) checkDeps(deps Deps, bad func(format string, args ...any)) {
	if deps.Logins == nil {
		bad("deps: Logins is required")
	}
	if deps.Plays == nil {
		bad("deps: Plays is required")
	}
	if deps.App == nil {
		bad("deps: App is required")
	}
	if deps.Pinger == nil {
		bad("deps: Pinger is required")
	}
	if cfg.WriteMode == WriteModeManagement && deps.Writer == nil {
		bad("deps: Writer is required in %s write mode", WriteModeManagement)
	}
	if cfg.WriteMode == WriteModeShadow && deps.Shadow == nil {
		bad("deps: Shadow is required in %s write mode", WriteModeShadow)
	}
	if (deps.Writer == nil) != (deps.Users == nil) {
		bad("deps: Writer and Users go together")
	}
}

// applyDefaults fills the settings left zero.
func (cfg *Config) applyDefaults() {
	if cfg.CalloutDeadline == 0 {
		cfg.CalloutDeadline = DefaultCalloutDeadline
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxBodyMemoryBytes == 0 {
		cfg.MaxBodyMemoryBytes = max(DefaultMaxBodyMemoryBytes, 2*cfg.MaxBodyBytes)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
}
