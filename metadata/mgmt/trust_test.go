package mgmt

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

// TestWorkerDoesNotTrustABadUserBody: a GET that answers 200 with a body that is not the user
// asked for ({}, another user_id, metadata that is not an object) is a tenant error. The entry is
// retried later and never acted on; once the tenant answers sanely, the write is applied with the
// user's own roles and displayName kept.
func TestWorkerDoesNotTrustABadUserBody(t *testing.T) {
	for name, body := range map[string]string{
		"empty object":        `{}`,
		"another user":        `{"user_id":"auth0|other","app_metadata":{},"user_metadata":{}}`,
		"metadata not object": `{"user_id":"auth0|body","app_metadata":"x","user_metadata":{}}`,
		"exact keys only":     `{"User_Id":"auth0|body","app_metadata":{},"user_metadata":{}}`,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			id := "auth0|body"
			e.tenant.PutUser(tenantUser(id, []any{"admin"}, "Own"))
			e.setPlays(id, 150)
			e.tenant.SetFault(http.MethodGet, "/api/v2/users/"+id, mgmttest.Fault{Status: http.StatusOK, Body: body})
			if err := e.w.Rerun(context.Background(), id, metadata.ReasonPlay, "req-1"); err != nil {
				t.Fatalf("Rerun: %v", err)
			}
			e.startWorker(e.w, "w1")
			testkit.WaitUntil(t, "three GETs of the user", func() bool {
				return e.tenant.Count(http.MethodGet, "/api/v2/users/"+id) >= 3
			})
			if n := e.tenant.Count(http.MethodPatch, "/api/v2/users/"); n != 0 {
				t.Fatalf("PATCHes after a GET answered %s: %d; want 0", body, n)
			}
			if d := e.depth(); d != 1 {
				t.Errorf("queue depth = %d; want the entry kept", d)
			}
			e.tenant.ClearFaults()
			testkit.WaitUntil(t, "the entry applied", func() bool { return e.depth() == 0 })
			u := e.user(id)
			if got := roles(u); !slices.Equal(got, []any{"admin", "playlist_editor"}) || u.UserMetadata["displayName"] != "Own" {
				t.Errorf("user after the tenant recovered = %v / %v; want [admin playlist_editor] and Own kept",
					got, u.UserMetadata["displayName"])
			}
		})
	}
}

// TestUserAndListingMatchKeysExactly holds CONTRACT rule 7 for the worker's GET and reconcile's
// listing: "Roles" is not "roles" and "DisplayName" is not "displayName".
func TestUserAndListingMatchKeysExactly(t *testing.T) {
	e := newEnv(t)
	id := "auth0|keys"
	e.tenant.PutUser(mgmttest.User{ID: id, AppMetadata: map[string]any{"roles": []any{"admin"}, "Roles": []any{}},
		UserMetadata: map[string]any{"displayName": "", "DisplayName": "x"}})
	u, err := e.w.User(context.Background(), id)
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	users, _, err := e.w.ListUsers(context.Background(), 0, 10)
	if err != nil || len(users) != 1 {
		t.Fatalf("ListUsers = %v, %v; want the one user", users, err)
	}
	for what, got := range map[string]metadata.User{"User": u, "ListUsers": users[0]} {
		if r := got.Roles(); !slices.Equal(r, []string{"admin"}) {
			t.Errorf("%s roles = %v; want [admin] (Roles is another key)", what, r)
		}
		if _, has := got.DisplayName(); has {
			t.Errorf("%s: displayName found; want none (\"\", and DisplayName is another key)", what)
		}
	}
}

// TestBadUserBodyIsUnavailableNotInvalid: a 200 whose user does not decode is the tenant's fault,
// ErrUnavailable; never ErrInvalid, which says the caller's request was bad (reconcile reports it
// as a usage error).
func TestBadUserBodyIsUnavailableNotInvalid(t *testing.T) {
	e := newEnv(t)
	id := "auth0|body"
	e.tenant.PutUser(tenantUser(id, nil, nil))
	e.tenant.SetFault(http.MethodGet, "/api/v2/users/"+id, mgmttest.Fault{Status: http.StatusOK, Body: `{}`})
	e.tenant.SetFault(http.MethodGet, "/api/v2/users", mgmttest.Fault{Status: http.StatusOK,
		Body: `{"start":0,"limit":10,"length":1,"total":1,"users":[{}]}`})
	_, err := e.w.User(context.Background(), id)
	_, _, listErr := e.w.ListUsers(context.Background(), 0, 10)
	for what, err := range map[string]error{"User": err, "ListUsers": listErr} {
		if !errors.Is(err, metadata.ErrUnavailable) || errors.Is(err, metadata.ErrInvalid) {
			t.Errorf("%s answered a user {} = %v; want ErrUnavailable, not ErrInvalid", what, err)
		}
	}
}

// logBuffer collects a Writer's JSON log lines.
type logBuffer struct{ testkit.SyncBuffer }

// errorLines returns the ERROR lines that contain s.
func (l *logBuffer) errorLines(s string) int {
	n := 0
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) && strings.Contains(line, s) {
			n++
		}
	}
	return n
}

func capture(logs *logBuffer) func(*Config) {
	return func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(logs, nil)) }
}
