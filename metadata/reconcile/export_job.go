package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

// JobFailedError reports a users-export job the tenant gave up on, with its reason.
type JobFailedError struct {
	JobID   string
	Details string // the tenant's status_details
}

func (e *JobFailedError) Error() string {
	if e.Details == "" {
		return fmt.Sprintf("users-export job %s failed (the tenant gave no reason)", e.JobID)
	}
	return fmt.Sprintf("users-export job %s failed: %s", e.JobID, e.Details)
}

// openExport returns the stream of the run's export: the job the checkpoint names, or a new one,
// polled until completed and downloaded at once. A location that expired (or a download that
// failed) is read afresh from the job, up to linkAttempts times.
func (r *runner) openExport(ctx context.Context) (metadata.UserStream, error) {
	for attempt := 1; ; attempt++ {
		job, err := r.completedJob(ctx)
		if err != nil {
			return nil, err
		}
		s, err := r.deps.Export.OpenExport(ctx, job.Location)
		if err == nil {
			return s, nil
		}
		retry := errors.Is(err, metadata.ErrExpired) || errors.Is(err, metadata.ErrUnavailable)
		if !retry || attempt >= linkAttempts || ctx.Err() != nil {
			return nil, fmt.Errorf("reconcile: download users export %s (%d attempts): %w", job.ID, attempt, err)
		}
		r.note("reconcile: download of users export %s failed (%v); asking the job for a fresh link", job.ID, err)
	}
}

// completedJob polls the run's job, with a backoff from ExportPoll to ExportPollMax, until it is
// completed. A job that failed is dropped from the checkpoint (the next run starts another) and
// reported as a *JobFailedError; a job the tenant forgot (24 hours old) is replaced by a new one.
func (r *runner) completedJob(ctx context.Context) (metadata.ExportJob, error) {
	delay := r.opts.ExportPoll
	for {
		id, err := r.jobID(ctx)
		if err != nil {
			return metadata.ExportJob{}, err
		}
		var job metadata.ExportJob
		err = r.retry(ctx, "read users-export job "+id, func(ctx context.Context) (err error) {
			job, err = r.deps.Export.ExportJob(ctx, id)
			return err
		})
		switch {
		case errors.Is(err, metadata.ErrNotFound):
			r.note("reconcile: users-export job %s is gone; starting another from the first user", id)
			if err := r.dropJob(ctx); err != nil {
				return metadata.ExportJob{}, err
			}
			continue
		case err != nil:
			return metadata.ExportJob{}, err
		case job.Status == metadata.ExportCompleted && job.Location != "":
			return job, nil
		case job.Status == metadata.ExportFailed:
			if err := r.dropJob(ctx); err != nil {
				return metadata.ExportJob{}, err
			}
			return metadata.ExportJob{}, fmt.Errorf("reconcile: %w", &JobFailedError{JobID: id, Details: job.Details})
		}
		r.note("reconcile: users-export job %s %s, %d%% done, %s left by the tenant's estimate; next look in %s",
			id, job.Status, job.PercentDone, job.TimeLeft, delay)
		if err := metadata.Sleep(ctx, delay); err != nil {
			return metadata.ExportJob{}, err
		}
		delay = min(2*delay, r.opts.ExportPollMax)
	}
}

// jobID returns the run's job, starting one (and saving it in the checkpoint) when there is none.
func (r *runner) jobID(ctx context.Context) (string, error) {
	r.mu.Lock()
	id := r.st.jobID
	r.mu.Unlock()
	if id != "" {
		return id, nil
	}
	var job metadata.ExportJob
	err := r.retry(ctx, "start a users-export job", func(ctx context.Context) (err error) {
		job, err = r.deps.Export.StartExport(ctx)
		return err
	})
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	r.st.jobID = job.ID
	err = r.saveLocked(ctx)
	r.mu.Unlock()
	r.note("reconcile: started users-export job %s", job.ID)
	return job.ID, err
}

// dropJob forgets the run's job. Its position means nothing in another job's file, so the run
// starts again from the first user; those written already no longer differ and are not written
// again.
func (r *runner) dropJob(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.jobID, r.st.page, r.base = "", 0, 0
	return r.saveLocked(ctx)
}

// retry makes one call to the tenant (the listing's pages, the re-reads, the export job's calls)
// once the gate is open, waiting out rate limits (until the reset) and trying again, a few times
// with a growing pause, when the tenant is unavailable. Other errors come back wrapped as
// "reconcile: what: err".
func (r *runner) retry(ctx context.Context, what string, call func(context.Context) error) error {
	failures, waits := 0, 0
	for {
		if err := r.waitGate(ctx); err != nil {
			return err
		}
		err := call(ctx)
		var rl *metadata.RateLimitError
		switch {
		case err == nil || ctx.Err() != nil:
			return errors.Join(err, ctx.Err())
		case errors.As(err, &rl) && waits < rateLimitedListWaits:
			waits++
			r.notePause(rl.Reset)
			err = metadata.Sleep(ctx, min(max(time.Until(rl.Reset), gatePoll), maxGateWait))
		case errors.Is(err, metadata.ErrUnavailable) && failures+1 < listAttempts:
			failures++
			err = metadata.Sleep(ctx, time.Duration(failures)*time.Second)
		default:
			return fmt.Errorf("reconcile: %s: %w", what, err)
		}
		if err != nil {
			return err
		}
	}
}

// note writes one line to Progress.
func (r *runner) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.opts.Progress != nil {
		fmt.Fprintf(r.opts.Progress, format+"\n", args...)
	}
}
