package mgmttest

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
)

// page reads ?page and ?per_page (defaults 0 and perPageDefault, per_page at most 100); on a bad
// value it answers 400 and returns false.
func page(w http.ResponseWriter, r *http.Request, perPageDefault int) (pageNo, perPage int, ok bool) {
	q := r.URL.Query()
	pageNo, perPage = 0, perPageDefault
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			invalidBody(w, fmt.Sprintf("Query validation error: 'Expected type integer >= 0 but found %q' on property page.", v))
			return 0, 0, false
		}
		pageNo = n
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			invalidBody(w, fmt.Sprintf("Query validation error: 'Expected integer between 1 and 100 but found %q' on property per_page.", v))
			return 0, 0, false
		}
		perPage = n
	}
	return pageNo, perPage, true
}

// window returns the bounds of page pageNo of perPage items out of n.
func window(pageNo, perPage, n int) (start, end int) {
	start = min(pageNo*perPage, n)
	return start, min(start+perPage, n)
}

// writePage answers the page pageNo (perPage long) of items under key, as the Actions endpoints
// do: {key: [...], "total", "page", "per_page"}.
func writePage[T any](w http.ResponseWriter, key string, items []T, pageNo, perPage int, toJSON func(T) map[string]any) {
	start, end := window(pageNo, perPage, len(items))
	out := make([]map[string]any, 0, end-start)
	for _, it := range items[start:end] {
		out = append(out, toJSON(it))
	}
	writeJSON(w, http.StatusOK, map[string]any{key: out, "total": len(items), "page": pageNo, "per_page": perPage})
}

// listUsers answers GET /api/v2/users: users sorted by user_id, paged with page and per_page
// (default 50, at most 100), as {"start","limit","length","total","users"} with
// include_totals=true or as a bare array otherwise. Like Auth0 it only pages through the first
// ListLimit users (docs, "View Search Results by Page", Limitation: "Auth0 limits the total number
// of users you can retrieve to 1000",
// https://auth0.com/docs/manage-users/user-search/view-search-results-by-page): a page starting
// beyond answers 400 invalid_paging, "You can only page through the first 1000 records", and the
// users-export job (export.go) reads the rest. Search (q) is not emulated and answers 400.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("q") != "" {
		invalidBody(w, "mgmttest: user search (q) is not emulated")
		return
	}
	pageNo, perPage, ok := page(w, r, 50)
	if !ok {
		return
	}
	s.mu.Lock()
	ids := make([]string, 0, len(s.users))
	for id := range s.users {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	total := len(ids)
	reachable := total
	if s.cfg.listLimit > 0 {
		reachable = min(total, s.cfg.listLimit)
	}
	if s.cfg.listLimit > 0 && pageNo*perPage >= s.cfg.listLimit && total > s.cfg.listLimit {
		s.mu.Unlock()
		apiError(w, http.StatusBadRequest, "invalid_paging", fmt.Sprintf(
			"You can only page through the first %d records. See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation",
			s.cfg.listLimit))
		return
	}
	start, end := window(pageNo, perPage, reachable)
	users := make([]map[string]any, 0, end-start)
	for _, id := range ids[start:end] {
		users = append(users, selectFields(r, s.users[id].json()))
	}
	s.mu.Unlock()

	if q.Get("include_totals") != "true" {
		writeJSON(w, http.StatusOK, users)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"start": pageNo * perPage, "limit": perPage, "length": len(users), "total": total, "users": users,
	})
}
