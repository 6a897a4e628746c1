package mgmttest_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auth0/go-auth0/v3/management"
	"github.com/auth0/go-auth0/v3/management/client"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// createExport asks the tenant for a users-export job of the fields given, as JSON lines.
func createExport(t *testing.T, m *client.Management, fields ...string) *management.CreateExportUsersResponseContent {
	t.Helper()
	req := &management.CreateExportUsersRequestContent{Format: management.JobFileFormatEnumJSON.Ptr()}
	for _, f := range fields {
		req.Fields = append(req.Fields, &management.CreateExportUsersFields{Name: f})
	}
	job, err := m.Jobs.UsersExports.Create(context.Background(), req)
	if err != nil {
		t.Fatalf("UsersExports.Create: %v", err)
	}
	return job
}

// finishedJob reads the job until it has completed or failed.
func finishedJob(t *testing.T, m *client.Management, id string) *management.GetJobResponseContent {
	t.Helper()
	for {
		j, err := m.Jobs.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("Jobs.Get(%s): %v", id, err)
		}
		if s := j.GetStatus(); s == "completed" || s == "failed" {
			return j
		}
	}
}

// readExport downloads location without a token and returns its gunzipped lines.
func readExport(t *testing.T, location string) (int, []string) {
	t.Helper()
	resp, err := http.Get(location)
	if err != nil {
		t.Fatalf("GET location: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, []string{string(body)}
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("the export is not gzipped: %v", err)
	}
	var lines []string
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading the export: %v", err)
	}
	return resp.StatusCode, lines
}

func TestExportJobTakesPollsThenServesNDJSON(t *testing.T) {
	s := newServer(t, mgmttest.WithExportPolls(2))
	s.PutUser(mgmttest.User{ID: "auth0|a", Email: "a@example.com", AppMetadata: obj{"Roles": []any{"x"}}})
	s.PutUser(mgmttest.User{ID: "google-oauth2|b", UserMetadata: obj{"displayName": "B"}})
	m := newClient(t, s, 2*time.Second)
	ctx := context.Background()

	job := createExport(t, m, "user_id", "app_metadata", "user_metadata")
	if job.GetStatus() != "pending" || job.GetType() != "users_export" || !regexp.MustCompile(`^job_[A-Za-z0-9]{16}$`).MatchString(job.GetID()) {
		t.Errorf("created job = status %q type %q id %q; want pending users_export job_<16>", job.GetStatus(), job.GetType(), job.GetID())
	}
	var got []string
	for range 3 {
		j, err := m.Jobs.Get(ctx, job.GetID())
		if err != nil {
			t.Fatalf("Jobs.Get: %v", err)
		}
		got = append(got, j.GetStatus())
		if j.GetStatus() == "completed" {
			status, lines := readExport(t, j.GetLocation())
			if status != 200 {
				t.Fatalf("GET location = %d %v; want 200", status, lines)
			}
			want := []string{
				`{"app_metadata":{"Roles":["x"]},"user_id":"auth0|a"}`,
				`{"user_id":"google-oauth2|b","user_metadata":{"displayName":"B"}}`,
			}
			if strings.Join(lines, "\n") != strings.Join(want, "\n") {
				t.Errorf("export lines = %q; want %q (only the fields asked for, no email)", lines, want)
			}
		}
	}
	if want := "pending processing completed"; strings.Join(got, " ") != want {
		t.Errorf("statuses read = %q; want %q", strings.Join(got, " "), want)
	}
}

func TestExportLocationExpiresAfterSixtySeconds(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	s := newServer(t, mgmttest.WithExportPolls(1), mgmttest.WithClock(clock.Now))
	s.PutUser(mgmttest.User{ID: "auth0|a"})
	m := newClient(t, s, 2*time.Second)
	ctx := context.Background()
	job := createExport(t, m, "user_id")
	location := finishedJob(t, m, job.GetID()).GetLocation()
	clock.Add(59 * time.Second)
	if status, _ := readExport(t, location); status != 200 {
		t.Errorf("GET location after 59 s = %d; want 200", status)
	}
	clock.Add(2 * time.Second)
	status, body := readExport(t, location)
	if status != http.StatusForbidden || !strings.Contains(body[0], "<Code>AccessDenied</Code>") {
		t.Errorf("GET location after 61 s = %d %q; want 403 AccessDenied", status, body)
	}
	if status, _ := readExport(t, strings.Replace(location, "Signature=", "Signature=00", 1)); status != http.StatusForbidden {
		t.Errorf("GET location with a tampered signature = %d; want 403", status)
	}

	j, err := m.Jobs.Get(ctx, job.GetID()) // within 24 hours: a fresh link
	if err != nil {
		t.Fatal(err)
	}
	if status, lines := readExport(t, j.GetLocation()); status != 200 || len(lines) != 1 {
		t.Errorf("GET of a fresh location = %d with %d lines; want 200 with 1", status, len(lines))
	}
	clock.Add(25 * time.Hour)
	if _, err := m.Jobs.Get(ctx, job.GetID()); statusOf(err) != http.StatusNotFound {
		t.Errorf("Jobs.Get after 25 hours: %v; want 404", err)
	}
}

func TestExportJobFailsWithItsMessage(t *testing.T) {
	s := newServer(t, mgmttest.WithExportPolls(1))
	s.FailNextExport("Internal error exporting users")
	m := newClient(t, s, 2*time.Second)
	j := finishedJob(t, m, createExport(t, m, "user_id").GetID())
	if status := j.GetStatus(); status != "failed" || j.GetStatusDetails() != "Internal error exporting users" || j.GetLocation() != "" {
		t.Errorf("job = %q details %q location %q; want failed with the message and no location", status, j.GetStatusDetails(), j.GetLocation())
	}
}

func TestExportRefusesWhatAuth0Refuses(t *testing.T) {
	s := newServer(t)
	tok := accessToken(t, s)
	tooMany := make([]map[string]string, 31)
	for i := range tooMany {
		tooMany[i] = map[string]string{"name": fmt.Sprintf("user_metadata.f%d", i)}
	}
	for _, tc := range []struct {
		name string
		body any
		want string
	}{
		{"whole metadata in csv", map[string]any{"format": "csv", "fields": []any{map[string]string{"name": "app_metadata"}}}, "cannot hold the whole app_metadata"},
		{"unknown format", map[string]any{"format": "xml"}, "No enum match"},
		{"unknown property", map[string]any{"format": "json", "query": "x"}, "Additional properties not allowed: query"},
		{"more than 30 fields", map[string]any{"format": "csv", "fields": tooMany}, "maximum 30"},
		{"bad connection id", map[string]any{"connection_id": "Username-Password-Authentication"}, "does not match pattern"},
		{"zero limit", map[string]any{"limit": 0}, "less than minimum 1"},
		{"field without a name", map[string]any{"fields": []any{map[string]string{"export_as": "x"}}}, "Missing required property: name"},
		{"not json", "{", "Invalid request payload JSON format"},
	} {
		resp := do(t, "POST", s.URL()+"/api/v2/jobs/users-exports", tc.body, tok)
		if msg, _ := resp.Body["message"].(string); resp.Status != 400 || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: POST users-exports = %d %s; want 400 with %q", tc.name, resp.Status, resp.Raw, tc.want)
		}
	}
	if resp := do(t, "POST", s.URL()+"/api/v2/jobs/users-exports", map[string]any{"format": "json"}, ""); resp.Status != 401 {
		t.Errorf("POST users-exports without a token = %d; want 401", resp.Status)
	}
	if got := s.ExportJobs(); got != 0 {
		t.Errorf("ExportJobs() = %d after refused requests; want 0", got)
	}
}

func TestExportCSVEscapesLikeAuth0AndFiltersByConnection(t *testing.T) {
	s := newServer(t, mgmttest.WithExportPolls(1))
	s.PutUser(mgmttest.User{ID: "auth0|a", UserMetadata: obj{"country": `=cmd"x`}})
	s.PutUser(mgmttest.User{ID: "github|b"})
	tok := accessToken(t, s)
	resp := do(t, "POST", s.URL()+"/api/v2/jobs/users-exports", map[string]any{
		"connection_id": mgmttest.ConnectionID, "format": "csv",
		"fields": []any{map[string]string{"name": "user_id"}, map[string]string{"name": "user_metadata.country", "export_as": "country"}},
	}, tok)
	if resp.Status != 200 {
		t.Fatalf("POST users-exports = %d %s", resp.Status, resp.Raw)
	}
	id, _ := resp.Body["id"].(string)
	var job rawResponse
	for job.Body["status"] != "completed" {
		job = do(t, "GET", s.URL()+"/api/v2/jobs/"+id, nil, tok)
	}
	_, lines := readExport(t, job.Body["location"].(string))
	want := []string{`user_id,country`, `"'auth0|a","'=cmd""x"`}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("csv lines = %q; want %q", lines, want)
	}
	var v map[string]any
	_ = json.Unmarshal([]byte(job.Raw), &v)
	if v["connection_id"] != mgmttest.ConnectionID || v["format"] != "csv" {
		t.Errorf("job = %s; want its connection_id and format", job.Raw)
	}
}
