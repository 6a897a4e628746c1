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
	env := map[string]string{
		"REDIS_URL": redis.URL(), "AUTH0_DOMAIN": tenant.Domain(), "AUTH0_MANAGEMENT_URL": tenant.URL(),
		"AUTH0_CLIENT_ID": tenant.ClientID(), "AUTH0_CLIENT_SECRET": tenant.ClientSecret(), "LOG_LEVEL": "warn",
	}
	getenv := func(k string) string { return env[k] }

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
