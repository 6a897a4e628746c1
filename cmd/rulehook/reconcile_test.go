package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
)

func TestReconcileWritesOnlyUsersWhoDiffer(t *testing.T) {
	redis := redistest.Start(t)
	tenant := mgmttest.New()
	t.Cleanup(tenant.Close)
	for i := range 30 {
		id := fmt.Sprintf("auth0|r%02d", i)
		u := mgmttest.User{ID: id, UserMetadata: map[string]any{"displayName": "R"}, AppMetadata: map[string]any{"roles": []any{"admin"}}}
		plays := "5"
		if i%3 == 0 { // every third user crossed the threshold since their last login
			plays = "150"
		}
		tenant.PutUser(u)
		if _, err := redis.Do("SET", "rulehook:{"+id+"}:plays", plays); err != nil {
			t.Fatal(err)
		}
	}
	getenv := envOf(tenantEnv(tenant, map[string]string{"REDIS_URL": redis.URL(), "LOG_LEVEL": "warn"}))

	var dry bytes.Buffer
	if err := run(context.Background(), []string{"reconcile", "--dry-run", "--rate", "100"}, getenv, &dry, &dry); err != nil {
		t.Fatalf("reconcile --dry-run: %v\n%s", err, dry.String())
	}
	if n := tenant.Count(http.MethodPatch, "/api/v2/users"); n != 0 {
		t.Fatalf("PATCH requests after a dry run = %d; want 0", n)
	}
	if got := strings.Count(dry.String(), "app_metadata.roles"); got != 10 {
		t.Errorf("dry run planned %d role changes; want 10:\n%s", got, dry.String())
	}

	var out bytes.Buffer
	if err := run(context.Background(), []string{"reconcile", "--rate", "100"}, getenv, &out, &out); err != nil {
		t.Fatalf("reconcile: %v\n%s", err, out.String())
	}
	if n := tenant.Count(http.MethodPatch, "/api/v2/users"); n != 10 {
		t.Errorf("PATCH requests = %d; want 10 (only the users who crossed the threshold)", n)
	}
	if u, _ := tenant.User("auth0|r03"); join(rolesOf(u)) != "admin,playlist_editor" {
		t.Errorf("auth0|r03 roles = %v; want admin,playlist_editor", rolesOf(u))
	}
	if !strings.Contains(out.String(), "10 written") {
		t.Errorf("summary lacks '10 written':\n%s", out.String())
	}
}

func TestReconcileSourceFlag(t *testing.T) {
	redis := redistest.Start(t)
	tenant := mgmttest.New(mgmttest.WithExportPolls(1))
	t.Cleanup(tenant.Close)
	for i := range 12 {
		id := fmt.Sprintf("auth0|x%02d", i)
		tenant.PutUser(mgmttest.User{ID: id, AppMetadata: map[string]any{"roles": []any{"admin"}}})
		if _, err := redis.Do("SET", "rulehook:{"+id+"}:plays", "150"); err != nil {
			t.Fatal(err)
		}
	}
	getenv := envOf(tenantEnv(tenant, map[string]string{"REDIS_URL": redis.URL(), "LOG_LEVEL": "warn"}))

	var bad bytes.Buffer
	err := run(context.Background(), []string{"reconcile", "--source", "everything"}, getenv, &bad, &bad)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), `source must be auto, list or export, got "everything"`) {
		t.Errorf("reconcile --source everything = %v; want a usage error naming the sources", err)
	}

	var out bytes.Buffer
	if err := run(context.Background(), []string{"reconcile", "--source", "export", "--rate", "100"}, getenv, &out, &out); err != nil {
		t.Fatalf("reconcile --source export: %v\n%s", err, out.String())
	}
	if got := tenant.ExportJobs(); got != 1 {
		t.Errorf("export jobs = %d; want 1", got)
	}
	if got := tenant.Count(http.MethodPatch, "/api/v2/users/"); got != 12 {
		t.Errorf("PATCH requests = %d; want 12", got)
	}
	if !strings.Contains(out.String(), "started users-export job job_") || !strings.Contains(out.String(), "12 written") {
		t.Errorf("output lacks the job or the summary:\n%s", out.String())
	}
}
