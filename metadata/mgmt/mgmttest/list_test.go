package mgmttest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/auth0/go-auth0/v3/management"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

func putUsers(s *mgmttest.Server, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("auth0|u%04d", i)
	}
	for _, i := range rand.Perm(n) {
		s.PutUser(mgmttest.User{ID: ids[i], AppMetadata: obj{"i": i}})
	}
	return ids
}

func TestListUsersPagesInUserIDOrder(t *testing.T) {
	s := newServer(t)
	want := putUsers(s, 230)
	m := newClient(t, s, 2*time.Second)
	ctx := context.Background()
	page, err := m.Users.List(ctx, &management.ListUsersRequestParameters{PerPage: management.Int(100)})
	if err != nil {
		t.Fatalf("Users.List: %v", err)
	}
	first := page.Response
	if first.GetStart() != 0 || first.GetLimit() != 100 || first.GetLength() != 100 || first.GetTotal() != 230 {
		t.Errorf("first page = start %v limit %v length %v total %v; want 0 100 100 230",
			first.GetStart(), first.GetLimit(), first.GetLength(), first.GetTotal())
	}
	var got []string
	it := page.Iterator()
	for it.Next(ctx) {
		got = append(got, it.Current().GetUserID())
	}
	if err := it.Err(); err != nil {
		t.Fatalf("iterating: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed %d users (first %q); want all %d sorted by user_id", len(got), got[:min(3, len(got))], len(want))
	}
	// go-auth0's pager asks for one page past the end to learn that it is empty.
	if got, want := s.Count(http.MethodGet, "/api/v2/users"), 4; got != want {
		t.Errorf("list requests = %d; want %d", got, want)
	}
}

func TestListUsersQueryRules(t *testing.T) {
	s := newServer(t, mgmttest.WithListLimit(100))
	putUsers(s, 230)
	tok := accessToken(t, s)
	base := s.URL() + "/api/v2/users?"
	tests := []struct {
		name, query string
		wantStatus  int
		wantCode    string
	}{
		{"per_page above 100", "per_page=101", 400, "invalid_body"},
		{"negative page", "page=-1", 400, "invalid_body"},
		{"page inside the list limit", "page=0&per_page=100&include_totals=true", 200, ""},
		{"page beyond the list limit", "page=1&per_page=100&include_totals=true", 400, "invalid_paging"},
		{"search is not emulated", "q=email:x", 400, "invalid_body"},
	}
	for _, tc := range tests {
		resp := do(t, "GET", base+tc.query, nil, tok)
		if resp.Status != tc.wantStatus || (tc.wantCode != "" && resp.Body["errorCode"] != tc.wantCode) {
			t.Errorf("%s: GET ?%s = %d %s; want %d %s", tc.name, tc.query, resp.Status, resp.Raw, tc.wantStatus, tc.wantCode)
		}
	}
	resp := do(t, "GET", base+"per_page=3&page=1", nil, tok)
	if resp.Status != 200 || resp.Raw[0] != '[' {
		t.Errorf("without include_totals: %d %.40s; want a bare array", resp.Status, resp.Raw)
	}
}

func TestListUsersExactlyAtTheListLimit(t *testing.T) {
	s := newServer(t, mgmttest.WithListLimit(100))
	putUsers(s, 100)
	m := newClient(t, s, 2*time.Second)
	ctx := context.Background()
	page, err := m.Users.List(ctx, &management.ListUsersRequestParameters{PerPage: management.Int(50)})
	if err != nil {
		t.Fatalf("Users.List: %v", err)
	}
	n, it := 0, page.Iterator()
	for it.Next(ctx) {
		n++
	}
	if err := it.Err(); err != nil || n != 100 {
		t.Errorf("listed %d users (%v); want 100 (the empty page past the end is not an error)", n, err)
	}
}
