package mgmt

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

const (
	// downloadTimeout bounds the download of an export file (a 100,000-user export is a few MB).
	downloadTimeout = 5 * time.Minute
	// maxExportBytes bounds the gzipped file kept on disk.
	maxExportBytes = 4 << 30
	// maxExportLine bounds one user's line, and so the memory a line can take: Auth0 caps a
	// user's metadata far below it.
	maxExportLine = 16 << 20
)

// fileClient downloads export files: a plain client, since the location is a signed link to a
// storage host that must not see the Management API token nor go through its gate.
var fileClient = &http.Client{Transport: http.DefaultTransport}

// OpenExport downloads a completed export's file at once (its location is valid for 60 seconds)
// and returns a stream of its users: the gzipped file goes to an unlinked temporary file (under
// $TMPDIR; nothing is left behind, even when the process is killed), and the stream gunzips and
// decodes it one NDJSON line at a time, so the tenant is never in memory whole. Each user holds
// the exact keys user_id, app_metadata and user_metadata (a "Roles" key is not "roles").
//
// The location is fetched without the Management API token: it is a signed link to another
// host. It must be https (http only for a loopback host). Errors wrap metadata.ErrExpired when
// the link was refused (403: expired, ask ExportJob for a fresh one), metadata.ErrInvalid for a
// location that is not acceptable, another 4xx or no writable $TMPDIR, and metadata.ErrUnavailable on 5xx, network or
// disk errors. The stream's Next wraps metadata.ErrUnavailable for a file that is not gzipped
// NDJSON of users, naming the line.
func (w *Writer) OpenExport(ctx context.Context, location string) (metadata.UserStream, error) {
	u, err := url.Parse(location)
	if err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		return nil, fmt.Errorf("%w: mgmt: export location is not an https URL", metadata.ErrInvalid)
	}
	f, err := os.CreateTemp("", "rulehook-export-*.gz")
	if err != nil { // a local problem that trying again does not mend
		return nil, fmt.Errorf("%w: mgmt: export needs a writable $TMPDIR: %w", metadata.ErrInvalid, err)
	}
	_ = os.Remove(f.Name()) // unlinked: the open file lives until Close
	if err := download(ctx, u, f); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: mgmt: export: %w", metadata.ErrUnavailable, err)
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: mgmt: export file is not gzipped: %w", metadata.ErrUnavailable, err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 64<<10), maxExportLine)
	return &exportStream{file: f, sc: sc}, nil
}

// download copies the file at u into f.
func download(ctx context.Context, u *url.URL, f *os.File) error {
	ctx, cancel := context.WithTimeout(ctx, downloadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("%w: mgmt: export location: %w", metadata.ErrInvalid, err)
	}
	resp, err := fileClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: mgmt: download export: %w", metadata.ErrUnavailable, transportError(err))
	}
	defer resp.Body.Close()
	switch s := resp.StatusCode; {
	case s == http.StatusForbidden:
		return fmt.Errorf("%w: mgmt: download export: answered 403 (the location lives 60 s)", metadata.ErrExpired)
	case s >= 500:
		return fmt.Errorf("%w: mgmt: download export: answered %d", metadata.ErrUnavailable, s)
	case s != http.StatusOK:
		return fmt.Errorf("%w: mgmt: download export: answered %d", metadata.ErrInvalid, s)
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, maxExportBytes+1))
	switch {
	case err != nil:
		return fmt.Errorf("%w: mgmt: download export: %w", metadata.ErrUnavailable, transportError(err))
	case n > maxExportBytes:
		return fmt.Errorf("%w: mgmt: export file larger than %d bytes", metadata.ErrInvalid, int64(maxExportBytes))
	}
	return nil
}

// exportStream is an open export file read line by line.
type exportStream struct {
	file *os.File
	sc   *bufio.Scanner
	line int
}

// Next implements metadata.UserStream.
func (s *exportStream) Next() (metadata.User, error) {
	for s.sc.Scan() {
		s.line++
		if len(s.sc.Bytes()) == 0 {
			continue
		}
		// A line that is not a user is the tenant's fault, not the caller's: ErrUnavailable only.
		u, err := metadata.DecodeUser(s.sc.Bytes())
		if err != nil {
			return metadata.User{}, fmt.Errorf("%w: mgmt: export line %d: %v", metadata.ErrUnavailable, s.line, err)
		}
		return u, nil
	}
	if err := s.sc.Err(); err != nil {
		return metadata.User{}, fmt.Errorf("%w: mgmt: export after line %d: %w", metadata.ErrUnavailable, s.line, err)
	}
	return metadata.User{}, io.EOF
}

// Close implements metadata.UserStream.
func (s *exportStream) Close() error { return s.file.Close() }
