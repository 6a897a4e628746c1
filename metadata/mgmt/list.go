package mgmt

import (
	"context"
	"fmt"
	"net/http"

	"github.com/auth0/go-auth0/v3/management"
	"github.com/auth0/go-auth0/v3/management/option"

	"github.com/rulehook/rulehook/metadata"
)

// MaxPerPage is the largest page GET /api/v2/users serves.
const MaxPerPage = 100

// ListUsers reads one page of the tenant's users (GET /api/v2/users with page, per_page and
// include_totals), page counted from 0, perPage between 1 and MaxPerPage, in the tenant's default
// deterministic order. Only user_id, app_metadata and user_metadata are asked for: no email
// crosses this package. Each user is decoded with metadata.DecodeUser (exact keys, CONTRACT rule
// 7); a page holding a user that does not decode (no user_id, metadata that is not an object) is
// a tenant error (metadata.ErrUnavailable). total is the tenant's user count as the API reports it.
//
// Auth0 serves this listing from its search index, which lags writes by a few seconds, and lets a
// client page through its first 1000 users only (a later page answers 400, here an error wrapping
// metadata.ErrInvalid).
//
// The call goes through the rate budget (with ctx's priority: run a walk under
// WithPriority(ctx, Background) so that it yields to logins) and the circuit breaker like every
// other. The error
// wraps metadata.ErrInvalid for a bad page or perPage (nothing sent) or a 4xx answer,
// metadata.ErrRateLimited (a *metadata.RateLimitError with the reset) on 429 or while the gate is
// closed, and metadata.ErrUnavailable on 5xx, timeouts, network errors or while the breaker is open.
func (w *Writer) ListUsers(ctx context.Context, page, perPage int) (users []metadata.User, total int, err error) {
	if page < 0 || perPage < 1 || perPage > MaxPerPage {
		return nil, 0, fmt.Errorf("%w: mgmt: list users: page %d, per page %d (want page >= 0, 1 <= per page <= %d)",
			metadata.ErrInvalid, page, perPage, MaxPerPage)
	}
	if err := w.gate.ready(ctx, PriorityOf(ctx)); err != nil {
		return nil, 0, fmt.Errorf("mgmt: list users page %d: %w", page, notSent(ctx, "GET users", err))
	}
	callCtx, cancel, ok := w.callContext(ctx, 0)
	if !ok {
		return nil, 0, fmt.Errorf("%w: mgmt: no time left to list users", metadata.ErrUnavailable)
	}
	defer cancel()

	fields, include, totals := "user_id,app_metadata,user_metadata", true, true
	req := &management.ListUsersRequestParameters{
		Fields:        &fields,
		IncludeFields: &include,
		IncludeTotals: &totals,
		PerPage:       &perPage,
	}
	req.SetPage(&page)
	var results []*management.UserResponseSchema
	err = w.call(callCtx, "GET users", func(ctx context.Context, opts ...option.RequestOption) (int, http.Header, error) {
		p, err := w.api.Users.List(ctx, req, opts...)
		if err != nil {
			return 0, nil, err
		}
		results = p.Results
		if p.Response != nil {
			total = int(p.Response.GetTotal())
		}
		return p.StatusCode, p.Header, nil
	})
	if err == nil {
		users, err = decodeUsers(results)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("mgmt: list users page %d: %w", page, err)
	}
	return users, total, nil
}

func decodeUsers(results []*management.UserResponseSchema) ([]metadata.User, error) {
	users := make([]metadata.User, 0, len(results))
	for _, raw := range results {
		if raw == nil {
			continue
		}
		u, err := checkedUser("GET users", "", raw.String()) // the user's JSON as it came
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, nil
}
