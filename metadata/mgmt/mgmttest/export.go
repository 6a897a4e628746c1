package mgmttest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// The users-export job, as Auth0 documents and answers it:
//   - POST /api/v2/jobs/users-exports creates a job and answers 200 with it, "status": "pending"
//     (go-auth0's recording test/data/recordings/TestJobManager_ExportUsers.yaml: a 200, not a
//     201, with type, status, connection_id, format, limit, fields, connection, created_at and an
//     id "job_" + 16 letters and digits). The body may hold connection_id (^con_[A-Za-z0-9]{16}$),
//     format ("json" or "csv"), limit (>= 1) and at most 30 fields, each a name with an optional
//     export_as; CSV cannot export a whole app_metadata or user_metadata (Auth0 docs, "Bulk User
//     Exports", https://auth0.com/docs/manage-users/user-migration/bulk-user-exports).
//   - GET /api/v2/jobs/{id} answers the job (docs: "Get a job",
//     https://auth0.com/docs/api/management/v2/jobs/get-jobs-by-id: status, type, id,
//     created_at, connection_id, location, percentage_done, time_left_seconds, format,
//     status_details). The job is not done at once: it stays "pending"/"processing" for
//     WithExportPolls reads, then is "completed" with a location, or "failed" with the reason in
//     status_details (FailNextExport).
//   - location is a signed link to a gzipped file on another host, valid for 60 seconds; reading
//     the job again within 24 hours gives a fresh link (docs, "Bulk User Exports": "The download
//     link is valid for 60 seconds. If this time period expires, you have 24 hours to call it
//     again before the job expires."). The JSON format is NDJSON, one user per line (same page:
//     "Auth0's export files use the NDJSON format"). See export_file.go.
//
// The 404 for an unknown job and the 400 for an unknown connection are the emulator's own texts.

// Defaults of the export job; each has an Option.
const (
	// DefaultExportPolls is how many reads of a job answer pending or processing before it is done.
	DefaultExportPolls = 3
	// DefaultExportLinkTTL is how long a location stays valid (Auth0: 60 s).
	DefaultExportLinkTTL = 60 * time.Second
	// ConnectionID is the id of the emulated database connection, Username-Password-Authentication,
	// that holds the "auth0|" users.
	ConnectionID = "con_MgmtTestUPAuth01"
	// maxExportFields is the most fields a job may name (docs: "You can export up to 30 fields").
	maxExportFields = 30
	// jobTTL is how long a job can be read after it was created (docs: 24 hours).
	jobTTL = 24 * time.Hour
)

// WithExportPolls sets how many reads of a users-export job (GET /api/v2/jobs/{id}) answer
// "pending" or "processing" before the job is completed (default DefaultExportPolls; n < 1 means 1,
// done at the first read).
func WithExportPolls(n int) Option { return func(c *config) { c.exportPolls = max(n, 1) } }

// WithClock sets the clock of the users-export jobs (link expiry, job age); default time.Now.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

var connectionIDPattern = regexp.MustCompile(`^con_[A-Za-z0-9]{16}$`)

// exportField is one entry of a job's fields.
type exportField struct {
	Name     string `json:"name"`
	ExportAs string `json:"export_as,omitempty"`
}

// exportJob is one users-export job.
type exportJob struct {
	id, format, connectionID string
	limit                    int
	fields                   []exportField
	created                  time.Time
	reads                    int
	failWith                 string // the status_details of a job made to fail; "" for one that completes
	file                     []byte // the gzipped export, rendered when the job completes
}

// exports holds the tenant's export jobs and the test hooks that shape the next ones.
type exports struct {
	mu         sync.Mutex
	jobs       map[string]*exportJob
	failNext   []string
	expireNext int
	key        []byte // signs locations
}

func newExports() *exports {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &exports{jobs: map[string]*exportJob{}, key: key}
}

// FailNextExport makes the next users-export job created fail, once its reads are done, with
// message as its status_details.
func (s *Server) FailNextExport(message string) {
	s.ex.mu.Lock()
	defer s.ex.mu.Unlock()
	s.ex.failNext = append(s.ex.failNext, message)
}

// ExpireNextLinks makes the next n locations handed out already expired, as a link is when the
// client waited too long before downloading it.
func (s *Server) ExpireNextLinks(n int) {
	s.ex.mu.Lock()
	defer s.ex.mu.Unlock()
	s.ex.expireNext += n
}

// ExportJobs returns how many users-export jobs were created.
func (s *Server) ExportJobs() int {
	s.ex.mu.Lock()
	defer s.ex.mu.Unlock()
	return len(s.ex.jobs)
}

// createExport answers POST /api/v2/jobs/users-exports.
func (s *Server) createExport(w http.ResponseWriter, r *http.Request) {
	job, msg := parseExportBody(r)
	if msg != "" {
		invalidBody(w, msg)
		return
	}
	if job.connectionID != "" && job.connectionID != ConnectionID {
		apiError(w, http.StatusBadRequest, "invalid_body", "mgmttest: connection "+job.connectionID+" does not exist")
		return
	}
	job.id, job.created = "job_"+randomAlnum(16), s.cfg.now()
	s.ex.mu.Lock()
	if len(s.ex.failNext) > 0 {
		job.failWith, s.ex.failNext = s.ex.failNext[0], s.ex.failNext[1:]
	}
	s.ex.jobs[job.id] = job
	s.ex.mu.Unlock()
	writeJSON(w, http.StatusOK, job.json("pending", nil))
}

// getJob answers GET /api/v2/jobs/{id}: each read moves the job on.
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	now := s.cfg.now()
	s.ex.mu.Lock()
	job, ok := s.ex.jobs[r.PathValue("id")]
	if ok && now.Sub(job.created) > jobTTL {
		delete(s.ex.jobs, job.id)
		ok = false
	}
	if !ok {
		s.ex.mu.Unlock()
		apiError(w, http.StatusNotFound, "", "mgmttest: the job does not exist")
		return
	}
	job.reads++
	reads, done, failWith := job.reads, job.reads > s.cfg.exportPolls, job.failWith
	s.ex.mu.Unlock()

	switch {
	case !done:
		status, pct := "processing", 100*(reads-1)/s.cfg.exportPolls
		if reads == 1 && s.cfg.exportPolls > 1 {
			status = "pending" // not started yet
		}
		writeJSON(w, http.StatusOK, job.json(status, map[string]any{
			"percentage_done": pct, "time_left_seconds": s.cfg.exportPolls - reads + 1,
		}))
	case failWith != "":
		writeJSON(w, http.StatusOK, job.json("failed", map[string]any{"status_details": failWith}))
	default:
		s.renderExport(job)
		writeJSON(w, http.StatusOK, job.json("completed", map[string]any{"location": s.exportLink(job, now)}))
	}
}

// json is the job as the API answers it, with status and the extra fields.
func (j *exportJob) json(status string, extra map[string]any) map[string]any {
	m := map[string]any{
		"type": "users_export", "status": status, "id": j.id, "format": j.format,
		"created_at": timestamp(j.created),
	}
	if j.connectionID != "" { // the recording names the connection along with its id
		m["connection_id"], m["connection"] = j.connectionID, "Username-Password-Authentication"
	}
	if j.limit > 0 {
		m["limit"] = j.limit
	}
	if len(j.fields) > 0 {
		m["fields"] = j.fields
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// parseExportBody validates a users-export body; msg is Auth0's 400 message when it is refused.
func parseExportBody(r *http.Request) (job *exportJob, msg string) {
	raw, err := io.ReadAll(r.Body)
	var keys map[string]json.RawMessage
	if err != nil || json.Unmarshal(raw, &keys) != nil || keys == nil {
		return nil, "Invalid request payload JSON format"
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if k != "connection_id" && k != "format" && k != "limit" && k != "fields" {
			return nil, fmt.Sprintf("Payload validation error: 'Additional properties not allowed: %s'.", k)
		}
	}
	var body struct {
		ConnectionID *string       `json:"connection_id"`
		Format       *string       `json:"format"`
		Limit        *int          `json:"limit"`
		Fields       []exportField `json:"fields"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, "Payload validation error: " + err.Error()
	}
	job = &exportJob{format: "csv", fields: body.Fields}
	if c := body.ConnectionID; c != nil && !connectionIDPattern.MatchString(*c) {
		return nil, fmt.Sprintf("Payload validation error: 'String does not match pattern ^con_[A-Za-z0-9]{16}$: %s' on property connection_id.", *c)
	} else if c != nil {
		job.connectionID = *c
	}
	if body.Format != nil {
		job.format = *body.Format
	}
	if job.format != "json" && job.format != "csv" {
		return nil, fmt.Sprintf("Payload validation error: 'No enum match for: %q' on property format.", job.format)
	}
	if l := body.Limit; l != nil && *l < 1 {
		return nil, fmt.Sprintf("Payload validation error: 'Value %d is less than minimum 1' on property limit.", *l)
	} else if l != nil {
		job.limit = *l
	}
	return job, checkExportFields(job.format, job.fields)
}

// checkExportFields applies Auth0's rules on the fields of an export.
func checkExportFields(format string, fields []exportField) string {
	if len(fields) > maxExportFields {
		return fmt.Sprintf("Payload validation error: 'Array is too long (%d), maximum %d' on property fields.", len(fields), maxExportFields)
	}
	for _, f := range fields {
		switch {
		case f.Name == "" || len(f.Name) > 100 || len(f.ExportAs) > 100:
			return "Payload validation error: 'Missing required property: name' on property fields."
		case format == "csv" && (f.Name == "app_metadata" || f.Name == "user_metadata"):
			return "mgmttest: a CSV export cannot hold the whole " + f.Name + "; name its fields (" + f.Name + ".key) or use the json format"
		case format == "json" && strings.Contains(f.Name, "."):
			return "mgmttest: nested fields in a json export are not emulated; name the root property (" + strings.SplitN(f.Name, ".", 2)[0] + ")"
		}
	}
	return ""
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomAlnum returns n random letters and digits, the shape of Auth0's job ids.
func randomAlnum(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}
