package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rulehook/rulehook/metadata/testkit"
)

// devProc is a `rulehook dev` run through run(), as the process would, on a free port.
type devProc struct {
	state string // its state file
	url   string
	out   *testkit.SyncBuffer
	stop  func() error
}

// startDevProc starts dev with env (LISTEN_ADDR defaults to a free port) and waits for its banner.
func startDevProc(t *testing.T, state string, env map[string]string) *devProc {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	if env["LISTEN_ADDR"] == "" {
		env["LISTEN_ADDR"] = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &devProc{state: state, out: &testkit.SyncBuffer{}}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"dev", "--state", state}, envOf(env), d.out, &testkit.SyncBuffer{}) }()
	stopped := false
	d.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Errorf("dev returned %v after a clean stop; want nil", err)
		}
	})
	testkit.WaitFor(t, func() error {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("dev stopped at start: %v\n%s", err, d.out)
		default:
		}
		if !strings.Contains(d.out.String(), "Try, in another terminal") {
			return errNotReady
		}
		return nil
	})
	st, err := readDevState(state)
	if err != nil {
		t.Fatal(err)
	}
	d.url = st.RulehookURL
	return d
}

// TestReadmeQuickStart runs every command of the README's quick start against a dev, as a user
// would paste them (with this dev's --state and URL instead of the defaults), and checks what
// the README says they show.
func TestReadmeQuickStart(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := quickStartCommands(t, string(b))
	state := filepath.Join(t.TempDir(), "dev.json")
	var d *devProc
	var outputs []string
	for _, line := range lines {
		switch {
		case line == "go run ./cmd/rulehook dev":
			d = startDevProc(t, state, map[string]string{"REDIS_URL": "redis://ignored:1"})
			if banner := d.out.String(); !strings.Contains(banner, "ignored (dev sets these itself): REDIS_URL") {
				t.Errorf("dev banner does not report the ignored REDIS_URL:\n%s", banner)
			}
			checkBannerMatchesReadme(t, d, lines)
		case line == "go test ./...":
			// this suite
		case d == nil:
			t.Fatalf("quick start runs %q before `go run ./cmd/rulehook dev`", line)
		case strings.HasPrefix(line, "go run ./cmd/rulehook "):
			outputs = append(outputs, runPasted(t, d, line))
		case strings.HasPrefix(line, "curl "):
			outputs = append(outputs, curlPasted(t, d, line))
		default:
			t.Errorf("quick start line %q is neither a rulehook command nor curl; this test cannot run it", line)
		}
	}
	all := strings.Join(outputs, "\n")
	for _, want := range []string{
		`https://music.example.com/roles = ["playlist_editor"]`, // login
		"written by rulehook: one Management API PATCH",
		`app_metadata.roles: (absent) -> ["playlist_editor"]`, // audit
		"200 150",                     // GET /playlists/getPlays with the dev token
		`200 {"displayName":"Alice"}`, // PUT /displayName
	} {
		if !strings.Contains(all, want) {
			t.Errorf("quick start outputs lack %q:\n%s", want, all)
		}
	}
	audit := runPasted(t, d, "go run ./cmd/rulehook audit --user 'auth0|alice'")
	if want := `user_metadata.displayName: "user" -> "Alice"`; !strings.Contains(audit, want) {
		t.Errorf("audit after the PUT lacks %q (the real before):\n%s", want, audit)
	}
}

// checkBannerMatchesReadme: every command dev suggests is one of the README's (with this dev's
// --state and URL in place of the defaults).
func checkBannerMatchesReadme(t *testing.T, d *devProc, readme []string) {
	t.Helper()
	_, try, _ := strings.Cut(d.out.String(), "Try, in another terminal")
	n := 0
	for _, l := range strings.Split(try, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "go run ") && !strings.HasPrefix(l, "curl ") {
			continue
		}
		n++
		l = strings.ReplaceAll(strings.ReplaceAll(l, " --state "+d.state, ""), d.url, "http://127.0.0.1:8080")
		if !slices.Contains(readme, l) {
			t.Errorf("dev suggests %q, which the README's quick start does not show", l)
		}
	}
	if n < 3 {
		t.Errorf("dev suggests %d commands; want login, audit and the app API:\n%s", n, try)
	}
}

// quickStartCommands are the lines of the sh blocks between "## Quick start" and the next section.
func quickStartCommands(t *testing.T, readme string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "\n## Quick start\n")
	if !ok {
		t.Fatal("README has no Quick start section")
	}
	section, _, _ := strings.Cut(rest, "\n## ")
	var out []string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		for _, l := range strings.Split(strings.TrimSpace(block[1]), "\n") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	if len(out) < 5 {
		t.Fatalf("quick start has %d commands: %q; want dev, login, audit, the app API and the tests", len(out), out)
	}
	return out
}

// runPasted runs a `go run ./cmd/rulehook ...` line against d and returns what it printed.
func runPasted(t *testing.T, d *devProc, line string) string {
	t.Helper()
	args := shellSplit(t, strings.TrimPrefix(line, "go run ./cmd/rulehook "))
	args = append(args[:1], append([]string{"--state", d.state}, args[1:]...)...)
	code, out, errs := rulehook(t, nil, args...)
	if code != 0 {
		t.Fatalf("%s: exit %d\n%s%s", line, code, out, errs)
	}
	return out
}

var commandSubst = regexp.MustCompile(`\$\(go run \./cmd/rulehook ([^)]*)\)`)

// curlPasted performs a curl line (-X, -H, -d, URL) against d, with $(go run ./cmd/rulehook ...)
// substituted by that command's output, and returns "status body".
func curlPasted(t *testing.T, d *devProc, line string) string {
	t.Helper()
	method, body, url := http.MethodGet, "", ""
	var headers []string
	words := shellSplit(t, strings.TrimPrefix(line, "curl "))
	for i := 0; i < len(words); i++ {
		w := commandSubst.ReplaceAllStringFunc(words[i], func(m string) string {
			return strings.TrimSpace(runPasted(t, d, "go run ./cmd/rulehook "+commandSubst.FindStringSubmatch(m)[1]))
		})
		switch w {
		case "-X":
			i++
			method = words[i]
		case "-H":
			i++
			headers = append(headers, commandSubst.ReplaceAllStringFunc(words[i], func(m string) string {
				return strings.TrimSpace(runPasted(t, d, "go run ./cmd/rulehook "+commandSubst.FindStringSubmatch(m)[1]))
			}))
		case "-d":
			i++
			body, method = words[i], map[bool]string{true: method, false: http.MethodPost}[method != http.MethodGet]
		default:
			url = strings.Replace(w, "http://127.0.0.1:8080", d.url, 1)
		}
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	if _, err := fmt.Fprint(&sb, resp.StatusCode, " "); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	sb.Write(buf[:n])
	if resp.StatusCode/100 != 2 {
		t.Errorf("%s = %s; want a 2xx", line, sb.String())
	}
	return strings.TrimSpace(sb.String())
}

// shellSplit splits a pasted line into words as sh would for the quoting the README uses:
// '...' and "..." (a $(...) inside stays as text, for the caller to substitute).
func shellSplit(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			w.WriteByte(c)
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		t.Fatalf("unterminated quote in %q", s)
	}
	if in {
		words = append(words, w.String())
	}
	return words
}
