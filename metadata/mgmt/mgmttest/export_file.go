package mgmttest

import (
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The export file and its link. Auth0 hands out a location such as
// https://user-exports.auth0.com/job_coRQCC3MHztpuTlo/auth0docs.csv.gz?Expires=...&Signature=...
// (docs, "Bulk User Exports": "The name of your tenant is also the name of your file"): a signed
// link to a gzipped file on a storage host, read without the Management API token. The emulator
// serves it at URL()+"/exports/{job}/{tenant}.{format}.gz" with an Expires (Unix seconds) and an
// HMAC Signature; an expired or tampered link answers 403 with an XML AccessDenied body, as a
// signed storage URL does. The JSON file is NDJSON: one user object per line, holding only the
// fields asked for (all of the user's when none were).

// renderExport writes the job's file once, from the users as they are now.
func (s *Server) renderExport(job *exportJob) {
	s.ex.mu.Lock()
	done := job.file != nil
	s.ex.mu.Unlock()
	if done {
		return
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	s.mu.Lock()
	ids := make([]string, 0, len(s.users))
	for id := range s.users {
		if job.connectionID == "" || strings.HasPrefix(id, "auth0|") {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if job.limit > 0 && len(ids) > job.limit {
		ids = ids[:job.limit]
	}
	if job.format == "csv" {
		writeExportCSV(zw, job.fields, ids, s.users)
	} else {
		enc := json.NewEncoder(zw) // Encode ends each value with a newline: NDJSON
		for _, id := range ids {
			_ = enc.Encode(exportedUser(s.users[id].json(), job.fields))
		}
	}
	s.mu.Unlock()
	_ = zw.Close()
	s.ex.mu.Lock()
	job.file = buf.Bytes()
	s.ex.mu.Unlock()
}

// exportedUser keeps the fields named (all of them when none are).
func exportedUser(user map[string]any, fields []exportField) map[string]any {
	if len(fields) == 0 {
		return user
	}
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		if v, ok := user[f.Name]; ok {
			out[f.Name] = v
		}
	}
	return out
}

// writeExportCSV writes a header of the fields' export_as (or names) and a row per user. Nested
// names (user_metadata.country) are looked up by path. Strings are escaped as the docs say Auth0
// does against CSV injection: prefixed with a single quote, inner double quotes doubled, wrapped in
// double quotes.
func writeExportCSV(zw *gzip.Writer, fields []exportField, ids []string, users map[string]*userRecord) {
	if len(fields) == 0 {
		fields = []exportField{{Name: "user_id"}, {Name: "email"}, {Name: "name"}, {Name: "created_at"}}
	}
	head := make([]string, len(fields))
	for i, f := range fields {
		head[i] = f.Name
		if f.ExportAs != "" {
			head[i] = f.ExportAs
		}
	}
	fmt.Fprintln(zw, strings.Join(head, ","))
	for _, id := range ids {
		user := users[id].json()
		cells := make([]string, len(fields))
		for i, f := range fields {
			cells[i] = csvCell(lookupPath(user, f.Name))
		}
		fmt.Fprintln(zw, strings.Join(cells, ","))
	}
}

func lookupPath(m map[string]any, path string) any {
	var v any = m
	for _, part := range strings.Split(path, ".") {
		if raw, ok := v.(json.RawMessage); ok { // stored metadata comes as its encoding
			v = nil
			_ = json.Unmarshal(raw, &v)
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[part]
	}
	return v
}

func csvCell(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return `"'` + strings.ReplaceAll(t, `"`, `""`) + `"`
	}
	b, _ := json.Marshal(v)
	return `"` + strings.ReplaceAll(string(b), `"`, `""`) + `"`
}

// exportLink mints a fresh signed location for the job, valid for the link TTL (or already
// expired when ExpireNextLinks asked for it).
func (s *Server) exportLink(job *exportJob, now time.Time) string {
	expires := now.Add(DefaultExportLinkTTL)
	s.ex.mu.Lock()
	if s.ex.expireNext > 0 {
		s.ex.expireNext--
		expires = now.Add(-time.Second)
	}
	s.ex.mu.Unlock()
	path := "/exports/" + job.id + "/" + s.tenantName() + "." + job.format + ".gz"
	exp := strconv.FormatInt(expires.Unix(), 10)
	return s.URL() + path + "?Expires=" + exp + "&Signature=" + s.ex.sign(path, exp)
}

func (e *exports) sign(path, expires string) string {
	mac := hmac.New(sha256.New, e.key)
	mac.Write([]byte(path + "\n" + expires))
	return hex.EncodeToString(mac.Sum(nil))
}

// tenantName is the first label of the domain: "rulehook-dev" for rulehook-dev.local.
func (s *Server) tenantName() string {
	name, _, _ := strings.Cut(s.cfg.domain, ".")
	return name
}

// downloadExport answers GET /exports/{job}/{file}: the gzipped file, without a token, while the
// link's signature holds and it has not expired.
func (s *Server) downloadExport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	exp, sig := q.Get("Expires"), q.Get("Signature")
	sec, err := strconv.ParseInt(exp, 10, 64)
	want := s.ex.sign(r.URL.Path, exp)
	if err != nil || !hmac.Equal([]byte(sig), []byte(want)) {
		accessDenied(w, "Access denied")
		return
	}
	if !s.cfg.now().Before(time.Unix(sec, 0)) {
		accessDenied(w, "Request has expired")
		return
	}
	s.ex.mu.Lock()
	job, ok := s.ex.jobs[r.PathValue("job")]
	var file []byte
	if ok {
		file = job.file
	}
	s.ex.mu.Unlock()
	if file == nil || r.PathValue("file") != s.tenantName()+"."+job.format+".gz" {
		accessDenied(w, "Access denied")
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Length", strconv.Itoa(len(file)))
	_, _ = w.Write(file)
}

// accessDenied is a signed storage URL's refusal.
func accessDenied(w http.ResponseWriter, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<Error><Code>AccessDenied</Code><Message>%s</Message></Error>\n", message)
}
