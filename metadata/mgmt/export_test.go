package mgmt

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
)

func newExportEnv(t *testing.T, opts ...mgmttest.Option) *env {
	t.Helper()
	tenant := mgmttest.New(append([]mgmttest.Option{mgmttest.WithExportPolls(2)}, opts...)...)
	t.Cleanup(tenant.Close)
	e := &env{t: t, tenant: tenant, redis: redistest.Start(t), audit: &auditLog{}}
	e.store, e.rdb = e.redis.Open(t)
	e.w = e.newWriter()
	return e
}

// awaitJob reads the job until it is done and returns the reads and the last state.
func (e *env) awaitJob(id string) (int, metadata.ExportJob) {
	e.t.Helper()
	for reads := 1; reads < 10; reads++ {
		job, err := e.w.ExportJob(context.Background(), id)
		if err != nil {
			e.t.Fatalf("ExportJob: %v", err)
		}
		if job.Status == metadata.ExportCompleted || job.Status == metadata.ExportFailed {
			return reads, job
		}
	}
	e.t.Fatalf("job %s not done after 10 reads", id)
	return 0, metadata.ExportJob{}
}

func readAll(t *testing.T, s metadata.UserStream) []metadata.User {
	t.Helper()
	var out []metadata.User
	for {
		u, err := s.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("Next after %d users: %v", len(out), err)
		}
		out = append(out, u)
	}
}

func TestExportStreamsEveryUserWithExactKeys(t *testing.T) {
	e := newExportEnv(t)
	e.tenant.PutUser(mgmttest.User{ID: "auth0|a", Email: "a@example.com",
		AppMetadata: map[string]any{"Roles": []any{"admin"}}, UserMetadata: map[string]any{"displayName": "A"}})
	e.tenant.PutUser(mgmttest.User{ID: "auth0|b"})
	ctx := context.Background()

	job, err := e.w.StartExport(ctx)
	if err != nil || job.Status != metadata.ExportPending {
		t.Fatalf("StartExport = %+v, %v; want a pending job", job, err)
	}
	var body string
	for _, r := range e.tenant.Requests() {
		if r.Path == "/api/v2/jobs/users-exports" {
			body = r.Body
		}
	}
	if want := `{"format":"json","fields":[{"name":"user_id"},{"name":"app_metadata"},{"name":"user_metadata"}]}`; strings.TrimSpace(body) != want {
		t.Errorf("POST users-exports body = %s; want %s", body, want)
	}
	reads, done := e.awaitJob(job.ID)
	if reads != 3 || done.Status != metadata.ExportCompleted || done.Location == "" {
		t.Fatalf("job after %d reads = %+v; want completed with a location after 3", reads, done)
	}
	s, err := e.w.OpenExport(ctx, done.Location)
	if err != nil {
		t.Fatalf("OpenExport: %v", err)
	}
	defer s.Close()
	got := readAll(t, s)
	want := []metadata.User{
		{ID: "auth0|a", AppMetadata: map[string]any{"Roles": []any{"admin"}}, UserMetadata: map[string]any{"displayName": "A"}},
		{ID: "auth0|b"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("exported users = %#v; want %#v", got, want)
	}
}

func TestExportFailedJobCarriesTheTenantsReason(t *testing.T) {
	e := newExportEnv(t)
	e.tenant.FailNextExport("Export failed: internal error")
	job, err := e.w.StartExport(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, done := e.awaitJob(job.ID)
	if done.Status != metadata.ExportFailed || done.Details != "Export failed: internal error" {
		t.Errorf("job = %+v; want failed with the tenant's status_details", done)
	}
}

func TestExportErrors(t *testing.T) {
	e := newExportEnv(t)
	ctx := context.Background()
	e.tenant.ExpireNextLinks(1)
	job, err := e.w.StartExport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, done := e.awaitJob(job.ID)
	if _, err := e.w.OpenExport(ctx, done.Location); !errors.Is(err, metadata.ErrExpired) {
		t.Errorf("OpenExport(expired link) = %v; want ErrExpired", err)
	}
	if _, err := e.w.ExportJob(ctx, "job_DoesNotExist0001"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("ExportJob(unknown) = %v; want ErrNotFound", err)
	}
	before := len(e.tenant.Requests())
	if _, err := e.w.ExportJob(ctx, "../users/auth0|a"); !errors.Is(err, metadata.ErrInvalid) {
		t.Errorf("ExportJob(not an id) = %v; want ErrInvalid", err)
	}
	if _, err := e.w.OpenExport(ctx, "http://example.com/x.json.gz"); !errors.Is(err, metadata.ErrInvalid) {
		t.Errorf("OpenExport(plain http to another host) = %v; want ErrInvalid", err)
	}
	if got := len(e.tenant.Requests()); got != before {
		t.Errorf("requests sent for refused arguments = %d; want 0", got-before)
	}
	e.tenant.SetFault("POST", "/api/v2/jobs/users-exports", mgmttest.Fault{Status: 503, Times: 1})
	if _, err := e.w.StartExport(ctx); !errors.Is(err, metadata.ErrUnavailable) {
		t.Errorf("StartExport on 503 = %v; want ErrUnavailable", err)
	}
	e.tenant.SetFault("POST", "/api/v2/jobs/users-exports", mgmttest.Fault{Status: 429, Times: 1})
	if _, err := e.w.StartExport(ctx); !errors.Is(err, metadata.ErrRateLimited) {
		t.Errorf("StartExport on 429 = %v; want ErrRateLimited", err)
	}
}

// TestExportStreamRefusesBadFiles serves hand-made files: the emulator only writes good ones.
func TestExportStreamRefusesBadFiles(t *testing.T) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(s))
		_ = zw.Close()
		return b.Bytes()
	}
	w := newExportEnv(t).w
	for _, tc := range []struct {
		name    string
		file    []byte
		openErr bool
		want    string
	}{
		{"not gzipped", []byte(`{"user_id":"auth0|a"}`), true, "not gzipped"},
		{"not json", gz("{\"user_id\":\"auth0|a\"}\nnope\n"), false, "line 2: invalid: user: not a JSON object"},
		{"no user_id", gz(`{"User_Id":"auth0|a"}`), false, "line 1: invalid: user: user_id is absent"},
		{"metadata not an object", gz(`{"user_id":"auth0|a","app_metadata":[1]}`), false, "line 1: invalid: user: app_metadata is not an object"},
		{"cut short", gz("{\"user_id\":\"auth0|a\"}\n")[:20], false, "mgmt: export"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(tc.file) }))
		s, err := w.OpenExport(context.Background(), srv.URL+"/x.json.gz")
		if tc.openErr {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: OpenExport = %v; want an error with %q", tc.name, err, tc.want)
			}
			srv.Close()
			continue
		}
		if err != nil {
			t.Fatalf("%s: OpenExport: %v", tc.name, err)
		}
		var last error
		for last == nil {
			_, last = s.Next()
		}
		if !errors.Is(last, metadata.ErrUnavailable) || !strings.Contains(last.Error(), tc.want) {
			t.Errorf("%s: Next = %v; want ErrUnavailable with %q", tc.name, last, tc.want)
		}
		s.Close()
		srv.Close()
	}
}

func TestExportNeedsAWritableTempDir(t *testing.T) {
	e := newExportEnv(t, mgmttest.WithExportPolls(1))
	job, err := e.w.StartExport(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, done := e.awaitJob(job.ID)
	t.Setenv("TMPDIR", t.TempDir()+"/missing")
	if _, err := e.w.OpenExport(context.Background(), done.Location); !errors.Is(err, metadata.ErrInvalid) || !strings.Contains(err.Error(), "writable $TMPDIR") {
		t.Errorf("OpenExport without a writable TMPDIR = %v; want ErrInvalid naming $TMPDIR", err)
	}
}
