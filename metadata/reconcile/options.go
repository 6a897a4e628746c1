package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

// Defaults applied by Run to zero Options fields.
const (
	// DefaultRate is the Auth0 free tier's Management API limit, in writes per second.
	DefaultRate          = 2.0
	DefaultPerPage       = 100
	DefaultConcurrency   = 4
	DefaultName          = "default"
	DefaultProgressEvery = time.Second
	// MaxPerPage is the largest page the Management API serves.
	MaxPerPage = 100
	// maxNameLen bounds a checkpoint name.
	maxNameLen = 64
)

// Lister reads the tenant's users one page at a time (mgmt.Writer implements it). total is the
// tenant's user count. Errors wrap the metadata sentinels: Run waits and retries on
// metadata.ErrRateLimited (until the *metadata.RateLimitError's reset) and, a few times, on
// metadata.ErrUnavailable; any other error stops the run.
type Lister interface {
	ListUsers(ctx context.Context, page, perPage int) (users []metadata.User, total int, err error)
}

// PlayReader reads a user's play count (redisstore.Store implements it). A count that is not
// Recorded leaves the user's roles as they are (CONTRACT rule 6), and so does an error.
type PlayReader interface {
	PlayCount(ctx context.Context, userID string) (metadata.PlayCount, error)
}

// Writer writes one user's metadata change, or queues it for a later retry (mgmt.Writer implements
// it, auditing every change it writes). An error means neither happened.
type Writer interface {
	Write(ctx context.Context, w metadata.Write) (metadata.Outcome, error)
}

// UserReader reads one user directly, not through the lagging search index (mgmt.Writer
// implements it). The error wraps metadata.ErrNotFound when the user is gone.
type UserReader interface {
	User(ctx context.Context, id string) (metadata.User, error)
}

// Checkpointer stores a run's checkpoint under a name (redisstore.Store implements it).
// Checkpoint returns "" and a nil error, or an error wrapping metadata.ErrNotFound, when there is
// none.
type Checkpointer interface {
	Checkpoint(ctx context.Context, name string) (string, error)
	SetCheckpoint(ctx context.Context, name, value string) error
	ClearCheckpoint(ctx context.Context, name string) error
}

// RateGate reports the writer's rate-limit feedback: closed while the Management API asked for a
// pause (a 429 with X-RateLimit-Reset, or X-RateLimit-Remaining nearly spent), and until when.
// A zero or past reset while closed means "ask again shortly". Run does not start a write or a
// listing while the gate is closed.
type RateGate interface {
	Gate() (closed bool, reset time.Time)
}

// GateFunc adapts a function to RateGate. With an mgmt.Writer w:
//
//	reconcile.GateFunc(func() (bool, time.Time) {
//		g := w.Stats().Gate
//		return g.Closed || g.Paced, g.Reset
//	})
type GateFunc func() (closed bool, reset time.Time)

// Gate calls f.
func (f GateFunc) Gate() (bool, time.Time) { return f() }

// Deps are what Run reads and writes through.
type Deps struct {
	// Users lists the tenant's users; required.
	Users Lister
	// Export reads users through a users-export job, for tenants above the listing's 1,000 users.
	// When nil, Users is used if it implements Exporter.
	Export Exporter
	// Plays reads play counts; required.
	Plays PlayReader
	// Writer writes the changes; required unless Options.DryRun.
	Writer Writer
	// Checkpoints keeps the checkpoint; required unless Options.DryRun (a dry run neither reads
	// nor writes it).
	Checkpoints Checkpointer
	// Fresh re-reads a user whose write an interrupted run had started. When nil, Users or Writer
	// is used if it implements UserReader; when none does, such a user is skipped (never written
	// twice, possibly left for the next run or login).
	Fresh UserReader
	// Gate is the writer's rate-limit feedback. When nil, Writer is used if it implements
	// RateGate; with none, Run relies on Options.Rate and on the writer queueing what a 429 refuses.
	Gate RateGate
	// Logger receives a record per user not reconciled and per unreadable play count: the user id
	// (hashed when it holds an '@', as enterprise ids can embed an email) and the error, never
	// metadata values; nil discards them.
	Logger *slog.Logger
}

// Options configure a Run. Zero values take the defaults named on each field.
type Options struct {
	// Policy holds the rules; it must be valid (metadata.Policy.Validate).
	Policy metadata.Policy
	// Rate is the most writes started per second, evenly spaced (default DefaultRate).
	Rate float64
	// PerPage is the listing's page size, 1..MaxPerPage (default DefaultPerPage). A resumed run
	// keeps the page size of the run it resumes.
	PerPage int
	// Concurrency is the most writes in flight at once (default DefaultConcurrency); Rate still
	// bounds how fast they start.
	Concurrency int
	// Name names the checkpoint, so that separate runs (other tenants, say) do not share one:
	// letters, digits, '-', '_' and '.', at most 64 (default DefaultName).
	Name string
	// DryRun reads everything and writes nothing: no metadata, no checkpoint. The changes a real
	// run would make go to Changes, and Summary.Planned counts the users.
	DryRun bool
	// Restart clears a checkpoint left by an interrupted run and starts from the first page.
	Restart bool
	// Changes, when set, receives one line per changed key:
	// "<user_id> <object>.<key>: <before> -> <after> (planned|written|queued)", values as JSON,
	// "(absent)" for a missing key.
	Changes io.Writer
	// Unrecorded, when set, receives one line per user who holds playlist_editor while no play
	// count is recorded for them (a Redis emptied, restored or evicting keys): "<user_id>
	// app_metadata.roles: holds playlist_editor, no play count recorded (kept)". Such a user is
	// never demoted and nothing is written for their role; Summary.Unrecorded counts them.
	Unrecorded io.Writer
	// Progress, when set, receives a progress line every ProgressEvery and a last one at the end:
	// users processed of the total, written, queued, unchanged, failed, skipped, write rate, ETA.
	Progress io.Writer
	// ProgressEvery is the time between progress lines (default DefaultProgressEvery).
	ProgressEvery time.Duration
	// Source is where the users come from: SourceAuto (default), SourceList or SourceExport. A
	// resumed run keeps the source of the run it resumes.
	Source string
	// ExportPoll is the first wait between two reads of a users-export job, doubled after each
	// up to ExportPollMax (defaults DefaultExportPoll, DefaultExportPollMax).
	ExportPoll, ExportPollMax time.Duration
}

// withDefaults returns o with its zero fields filled in, or an error wrapping metadata.ErrInvalid
// listing every problem.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	if err := o.Policy.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("policy: %w", err))
	}
	if o.Rate == 0 {
		o.Rate = DefaultRate
	}
	if o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) {
		errs = append(errs, fmt.Errorf("rate must be a positive number of writes per second, got %v", o.Rate))
	}
	if o.PerPage == 0 {
		o.PerPage = DefaultPerPage
	}
	if o.PerPage < 1 || o.PerPage > MaxPerPage {
		errs = append(errs, fmt.Errorf("per page must be between 1 and %d, got %d", MaxPerPage, o.PerPage))
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("concurrency must be positive, got %d", o.Concurrency))
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	if !validName(o.Name) {
		errs = append(errs, fmt.Errorf("name %q: use at most %d letters, digits, '-', '_' or '.'", o.Name, maxNameLen))
	}
	if o.ProgressEvery == 0 {
		o.ProgressEvery = DefaultProgressEvery
	}
	if o.ProgressEvery < 0 {
		errs = append(errs, fmt.Errorf("progress interval must be positive, got %s", o.ProgressEvery))
	}
	o, errs = o.exportDefaults(errs)
	if len(errs) > 0 {
		return o, fmt.Errorf("%w: reconcile options: %w", metadata.ErrInvalid, errors.Join(errs...))
	}
	return o, nil
}

func validName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}

// withDefaults fills in the optional dependencies from the required ones and checks the rest.
func (d Deps) withDefaults(dryRun bool) (Deps, error) {
	var errs []error
	if d.Users == nil {
		errs = append(errs, errors.New("a user lister is required"))
	}
	if d.Plays == nil {
		errs = append(errs, errors.New("a play reader is required"))
	}
	if !dryRun && d.Writer == nil {
		errs = append(errs, errors.New("a writer is required"))
	}
	if !dryRun && d.Checkpoints == nil {
		errs = append(errs, errors.New("a checkpointer is required"))
	}
	if d.Fresh == nil {
		if r, ok := d.Users.(UserReader); ok {
			d.Fresh = r
		} else if r, ok := d.Writer.(UserReader); ok {
			d.Fresh = r
		}
	}
	if d.Gate == nil {
		if g, ok := d.Writer.(RateGate); ok {
			d.Gate = g
		}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	d.Export = d.exporter()
	if len(errs) > 0 {
		return d, fmt.Errorf("%w: reconcile deps: %w", metadata.ErrInvalid, errors.Join(errs...))
	}
	return d, nil
}
