package mgmt

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/auth0/go-auth0/v3/management"
	"github.com/auth0/go-auth0/v3/management/option"

	"github.com/rulehook/rulehook/metadata"
)

// exportFields are the only fields an export asks for: no email crosses this package.
var exportFields = []string{"user_id", "app_metadata", "user_metadata"}

var jobIDPattern = regexp.MustCompile(`^job_[A-Za-z0-9]{1,64}$`)

// StartExport creates a users-export job over every user of the tenant (POST
// /api/v2/jobs/users-exports, format json, fields user_id, app_metadata and user_metadata). The
// tenant answers at once with a pending job; ExportJob follows it and OpenExport reads its file.
//
// The call goes through the rate-limit gate and the circuit breaker like every other. Errors wrap
// metadata.ErrInvalid on a 4xx answer, metadata.ErrRateLimited (a *metadata.RateLimitError) on 429
// or while the gate is closed, and metadata.ErrUnavailable on 5xx, timeouts, network errors or
// while the breaker is open.
func (w *Writer) StartExport(ctx context.Context) (metadata.ExportJob, error) {
	format := management.JobFileFormatEnumJSON
	req := &management.CreateExportUsersRequestContent{Format: &format}
	for _, f := range exportFields {
		req.Fields = append(req.Fields, &management.CreateExportUsersFields{Name: f})
	}
	var job metadata.ExportJob
	err := w.jobCall(ctx, "POST users-exports", func(ctx context.Context, opts ...option.RequestOption) (int, http.Header, error) {
		resp, err := w.api.Jobs.UsersExports.WithRawResponse.Create(ctx, req, opts...)
		if err != nil {
			return 0, nil, err
		}
		job = metadata.ExportJob{ID: resp.Body.GetID(), Status: resp.Body.GetStatus()}
		return resp.StatusCode, resp.Header, nil
	})
	if err == nil && !jobIDPattern.MatchString(job.ID) {
		err = fmt.Errorf("%w: the tenant answered a job id that is not one", metadata.ErrUnavailable)
	}
	if err != nil {
		return metadata.ExportJob{}, fmt.Errorf("mgmt: start users export: %w", err)
	}
	return job, nil
}

// ExportJob reads a job (GET /api/v2/jobs/{id}): its status, the download location once
// completed (valid for 60 seconds; a later read gives a fresh one), the progress while it runs,
// and for a failed job the tenant's reason in Details. The errors are StartExport's, plus
// metadata.ErrNotFound on 404 (an unknown job, or one older than Auth0 keeps: 24 hours) and
// metadata.ErrInvalid for an id that is not a job id (nothing sent).
func (w *Writer) ExportJob(ctx context.Context, id string) (metadata.ExportJob, error) {
	if !jobIDPattern.MatchString(id) {
		return metadata.ExportJob{}, fmt.Errorf("%w: mgmt: %q is not a job id", metadata.ErrInvalid, id)
	}
	var job metadata.ExportJob
	err := w.jobCall(ctx, "GET job", func(ctx context.Context, opts ...option.RequestOption) (int, http.Header, error) {
		resp, err := w.api.Jobs.WithRawResponse.Get(ctx, id, opts...)
		if err != nil {
			return 0, nil, err
		}
		b := resp.Body
		job = metadata.ExportJob{
			ID: id, Status: b.GetStatus(), Location: b.GetLocation(), Details: b.GetStatusDetails(),
			PercentDone: b.GetPercentageDone(), TimeLeft: time.Duration(b.GetTimeLeftSeconds()) * time.Second,
		}
		return resp.StatusCode, resp.Header, nil
	})
	if err != nil {
		return metadata.ExportJob{}, fmt.Errorf("mgmt: read job %s: %w", id, err)
	}
	return job, nil
}

// jobCall makes one job call within the writer's per-call timeout.
func (w *Writer) jobCall(ctx context.Context, op string, do apiCall) error {
	callCtx, cancel, ok := w.callContext(ctx, 0)
	if !ok {
		return fmt.Errorf("%w: no time left for %s", metadata.ErrUnavailable, op)
	}
	defer cancel()
	return w.call(callCtx, op, do)
}
