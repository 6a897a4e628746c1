package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

// Sources of the users, for Options.Source.
const (
	// SourceAuto reads the listing when the tenant has at most 1,000 users (all the listing
	// reaches) and a users-export job above that, going by the listing's total.
	SourceAuto = "auto"
	// SourceList pages through GET /api/v2/users: at most the tenant's first 1,000 users.
	SourceList = "list"
	// SourceExport reads every user through a users-export job.
	SourceExport = "export"
)

// Defaults of the export job's polling.
const (
	DefaultExportPoll    = time.Second
	DefaultExportPollMax = 30 * time.Second
	// linkAttempts bounds the downloads of one run: a location lives 60 s, so one that expired
	// or failed is read afresh from the job, a few times.
	linkAttempts = 4
)

// Exporter reads every user of the tenant through a users-export job (mgmt.Writer implements
// it). StartExport creates the job; ExportJob reads its state (the error wraps
// metadata.ErrNotFound once the tenant forgot it); OpenExport downloads a completed job's location
// at once and streams its users (the error wraps metadata.ErrExpired when the link expired).
// Errors wrapping metadata.ErrRateLimited and metadata.ErrUnavailable are retried like the
// listing's.
type Exporter interface {
	StartExport(ctx context.Context) (metadata.ExportJob, error)
	ExportJob(ctx context.Context, id string) (metadata.ExportJob, error)
	OpenExport(ctx context.Context, location string) (metadata.UserStream, error)
}

// exportDefaults checks and fills in the export options, adding the problems to errs.
func (o Options) exportDefaults(errs []error) (Options, []error) {
	switch o.Source {
	case "":
		o.Source = SourceAuto
	case SourceAuto, SourceList, SourceExport:
	default:
		errs = append(errs, fmt.Errorf("source must be %s, %s or %s, got %q", SourceAuto, SourceList, SourceExport, o.Source))
	}
	if o.ExportPoll == 0 {
		o.ExportPoll = DefaultExportPoll
	}
	if o.ExportPollMax == 0 {
		o.ExportPollMax = max(DefaultExportPollMax, o.ExportPoll)
	}
	if o.ExportPoll < 0 || o.ExportPollMax < o.ExportPoll {
		errs = append(errs, fmt.Errorf("export polling must be positive, at most its maximum: %s, %s", o.ExportPoll, o.ExportPollMax))
	}
	return o, errs
}

// exporter returns the dependency that reads exports: Export, or Users when it can.
func (d Deps) exporter() Exporter {
	if d.Export != nil {
		return d.Export
	}
	e, _ := d.Users.(Exporter)
	return e
}

// walk reads every user from the source the checkpoint or the options name, and handles them.
func (r *runner) walk(ctx context.Context) error {
	src, err := r.source(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.st.source = src
	r.mu.Unlock()
	if src == SourceList {
		return r.pages(ctx)
	}
	r.listed = nil // an export is a snapshot: no user comes twice, and 100,000 ids need no map
	return r.exportPages(ctx)
}

// source picks where the users come from: the interrupted run's source, the one the options
// force, or, automatically, the export when the listing's total is above what it reaches.
func (r *runner) source(ctx context.Context) (string, error) {
	want, resumed := r.opts.Source, r.st.source
	if r.sum.Resumed && resumed == "" {
		resumed = SourceList // a checkpoint from before exports
	}
	switch {
	case resumed != "" && want != SourceAuto && want != resumed:
		return "", fmt.Errorf("%w: reconcile: checkpoint %q is of a run reading the %s; resume it with --source %s or start over with Restart",
			metadata.ErrInvalid, r.opts.Name, sourceName(resumed), resumed)
	case resumed == SourceList || want == SourceList:
		return SourceList, nil
	case r.deps.Export == nil && (want == SourceExport || resumed == SourceExport):
		return "", fmt.Errorf("%w: reconcile: no exporter to read a users export", metadata.ErrInvalid)
	}
	perPage := r.st.perPage // a fresh run's first page, which the listing reuses
	if want == SourceExport || resumed == SourceExport {
		perPage = 1 // only the total, for the progress
	}
	users, total, err := r.list(ctx, 0, perPage)
	if err != nil && want == SourceAuto && resumed == "" {
		return "", err
	}
	r.probe = &probedPage{page: 0, users: users, total: total}
	r.mu.Lock()
	r.sum.Total = total
	r.mu.Unlock()
	if want == SourceExport || resumed == SourceExport {
		return SourceExport, nil
	}
	if total <= auth0ListLimit {
		return SourceList, nil
	}
	if r.deps.Export == nil {
		return "", fmt.Errorf("%w: reconcile: the tenant has %d users, more than the %d the listing reaches, and no exporter",
			metadata.ErrInvalid, total, auth0ListLimit)
	}
	r.note("reconcile: %d users, more than the %d the listing reaches: reading them through a users-export job", total, auth0ListLimit)
	return SourceExport, nil
}

// probedPage is the page read to choose the source; the listing starts with it.
type probedPage struct {
	page  int
	users []metadata.User
	total int
}

// probed hands the listing the page read to choose the source, once.
func (r *runner) probed(page int) ([]metadata.User, int, bool) {
	p := r.probe
	r.probe = nil
	if p == nil || p.page != page {
		return nil, 0, false
	}
	return p.users, p.total, true
}

func sourceName(src string) string {
	if src == SourceExport {
		return "users export"
	}
	return "listing"
}

// exportPages reads the export's users in chunks of PerPage, each handled like a listing page,
// starting past the chunks the checkpoint records as done.
func (r *runner) exportPages(ctx context.Context) error {
	stream, err := r.openExport(ctx)
	if err != nil {
		return err
	}
	defer stream.Close()
	for skip := r.st.page * r.st.perPage; skip > 0; skip-- {
		if _, err := stream.Next(); err != nil {
			return fmt.Errorf("reconcile: skip the %d users done: %w", r.st.page*r.st.perPage, eofToUnexpected(err))
		}
	}
	for {
		users, readErr := nextChunk(stream, r.st.perPage)
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			return fmt.Errorf("reconcile: read users export: %w", readErr)
		}
		if len(users) > 0 {
			if err := r.page(ctx, users); err != nil {
				return err
			}
			r.mu.Lock()
			r.st.next()
			err = r.saveLocked(ctx)
			r.mu.Unlock()
			if err != nil {
				return err
			}
		}
		if readErr != nil {
			return nil
		}
	}
}

// freshen decides again, on the user as the tenant has them now, a user whose export record
// differs from the rules: the export is a snapshot minutes or hours old, and a write made from it
// could undo what changed since (a role another tool added, a login's own write). ok is false
// when nothing is to be written any more; the user is counted then. A user read afresh already
// (inFlight), a run reading the listing, or one without a Fresh reader keeps the decision given.
func (r *runner) freshen(ctx context.Context, in metadata.Input, d metadata.Decision, inFlight bool) (metadata.Input, metadata.Decision, bool) {
	if r.st.source != SourceExport || inFlight || r.deps.Fresh == nil {
		return in, d, true
	}
	u, ok := r.reread(ctx, in.User.ID)
	if !ok {
		return in, d, false
	}
	in.User = u
	if d = r.opts.Policy.Decide(in); !d.Changed() {
		r.count(&r.sum.Unchanged, u.ID, false)
		return in, d, false
	}
	return in, d, true
}

// nextChunk reads up to n users; the error is io.EOF after the last one.
func nextChunk(s metadata.UserStream, n int) ([]metadata.User, error) {
	users := make([]metadata.User, 0, n)
	for len(users) < n {
		u, err := s.Next()
		if err != nil {
			return users, err
		}
		users = append(users, u)
	}
	return users, nil
}

func eofToUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: the export holds fewer users than the checkpoint", io.ErrUnexpectedEOF)
	}
	return err
}
