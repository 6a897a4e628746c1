package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/rulehook/rulehook/cmd/rulehook/internal/console"
	"github.com/rulehook/rulehook/metadata/testkit"
	"github.com/rulehook/rulehook/webhook/openapitest"
)

// The dev console, driven through a real headless Chromium (Debian's chromium package; .ci/run
// installs it) against a real `rulehook dev`.

// startDevConsole runs `rulehook dev` on a free port and returns the console's URL.
func startDevConsole(t *testing.T, extra map[string]string) string {
	t.Helper()
	env := map[string]string{"LISTEN_ADDR": "127.0.0.1:0"}
	for k, v := range extra {
		env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	out, logs := &testkit.SyncBuffer{}, &testkit.SyncBuffer{}
	done := make(chan error, 1)
	state := filepath.Join(t.TempDir(), "dev.json")
	go func() {
		done <- run(ctx, []string{"dev", "--state", state}, func(k string) string { return env[k] }, out, logs)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev returned %v after a clean stop; want nil", err)
		}
	})
	consoleLine := regexp.MustCompile(`console\s+(http://\S+/)`)
	var url string
	testkit.WaitFor(t, func() error {
		m := consoleLine.FindStringSubmatch(out.String())
		if m == nil {
			return errNotReady
		}
		url = m[1]
		return nil
	})
	return url
}

// newBrowser starts headless Chromium with the flags this closed network needs and returns a
// context for chromedp actions, bounded by timeout.
func newBrowser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Fatal("no chromium found (PATH or /usr/bin/chromium): install Debian's chromium package, as .ci/run does")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(bctx, timeout)
	t.Cleanup(func() { cancel(); cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	return ctx
}

func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// pollTimeout bounds one wait for the page; generous, for a loaded 2-core machine.
const pollTimeout = 60 * time.Second

// waitText waits until the element's text contains want, and fails the test with what it shows
// otherwise.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	js := fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel)
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](fmt.Sprintf(`(%s).includes(%q)`, js, want), chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(pollTimeout)))
	if err != nil {
		got, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Evaluate[string](js))
		t.Fatalf("%s shows %q; want it to contain %q (%v)", sel, got, want, err)
	}
}

// pick sets the value of a select or number field as a user's choice does, with the input and
// change events the page listens to.
func pick(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		el.focus();
		el.value = %q;
		if (el.value !== %q) throw new Error('cannot set ' + %q + ' to ' + %q);
		el.dispatchEvent(new Event('input', {bubbles: true}));
		el.dispatchEvent(new Event('change', {bubbles: true}));
	})()`, sel, value, value, sel, value))
}

// setField types into a text field, as a user does.
func setField(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.Clear(sel), chromedp.SendKeys(sel, value))
}

func TestConsoleDrivesALoginAPlayAndAFault(t *testing.T) {
	url := startDevConsole(t, nil)
	ctx := newBrowser(t, 3*time.Minute)

	// Create a user, give her 150 plays, log in through the real Action.
	err := chromedp.Do(ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible("#create-form"),
		setField("#new-id", "auth0|dana"),
		setField("#new-roles", "admin"),
		chromedp.Click("#create-btn"),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#create-msg", "created auth0|dana")
	waitText(t, ctx, "#users tbody", "auth0|dana")
	login := func(user, plays string) {
		t.Helper()
		waitText(t, ctx, "#user-select", user)
		err := chromedp.Do(ctx,
			pick("#user-select", user),
			pick("#plays", plays),
			chromedp.Click("#login-btn"),
		)
		if err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "#login-msg", "logged in "+user)
	}
	login("auth0|dana", "150")
	waitText(t, ctx, "#result-id-roles", `["admin","playlist_editor"]`)
	waitText(t, ctx, "#result-access-roles", `["admin","playlist_editor"]`)
	waitText(t, ctx, "#result-after", `"playlist_editor"`)
	waitText(t, ctx, "#result-written-by", "rulehook")
	waitText(t, ctx, "#history", "app_metadata.roles")

	// A play across the threshold promotes without a login.
	err = chromedp.Do(ctx, setField("#new-id", "auth0|erin"), chromedp.Click("#create-btn"))
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#create-msg", "created auth0|erin")
	login("auth0|erin", "99")
	waitText(t, ctx, "#result-id-roles", "[]")
	if err := chromedp.Do(ctx, chromedp.Click("#play-btn")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#play-msg", "100 plays")
	waitText(t, ctx, "#history-user", "auth0|erin")
	waitText(t, ctx, "#history", `app_metadata.roles: (none) → ["playlist_editor"]`)
	waitText(t, ctx, "#users tbody", "playlist_editor") // dana's, and now erin's too
	erinRow := `#users tbody tr:nth-child(2)`
	waitText(t, ctx, erinRow, "playlist_editor")

	// The tenant answers 429: the login is degraded and its write queued; cleared, it lands.
	if err := chromedp.Do(ctx, chromedp.Click("#fault-429")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#status-gate", "open") // nothing has called the tenant yet
	login("auth0|erin", "10")
	waitText(t, ctx, "#result-degraded", "management_api")
	waitText(t, ctx, "#result-id-roles", "[]")
	waitText(t, ctx, "#status-queue", "1 pending")
	waitText(t, ctx, erinRow, "playlist_editor") // not demoted in the tenant yet
	shot(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Click("#fault-none")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#status-queue", "0 pending")
	waitText(t, ctx, erinRow, "(none)")
	waitText(t, ctx, "#history", `app_metadata.roles: ["playlist_editor"] → []`)
}

// shot takes a screenshot of the console; with RULEHOOK_UPDATE_SCREENSHOT=1 it replaces the one
// the README shows.
func shot(t *testing.T, ctx context.Context) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "console.png")
	if os.Getenv("RULEHOOK_UPDATE_SCREENSHOT") == "1" {
		path = filepath.Join("internal", "console", "testdata", "console.png")
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(png), "\x89PNG") {
		t.Errorf("screenshot is not a PNG")
	}
}

// TestConsoleIsAccessible checks what a keyboard and a screen-reader user need: every control has
// a label, the page can be driven from the keyboard alone, and at 200 % zoom (a 1280 px window
// seen as 640 CSS px) nothing needs a horizontal scroll.
func TestConsoleIsAccessible(t *testing.T) {
	url := startDevConsole(t, nil)
	ctx := newBrowser(t, 2*time.Minute)
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible("#create-form")); err != nil {
		t.Fatal(err)
	}
	unlabelled, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('input, select, button, textarea')]
		.filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
		.map((el) => el.outerHTML)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(unlabelled) > 0 {
		t.Errorf("controls without a label: %v", unlabelled)
	}

	// Keyboard only: type a user id, Tab to the button, Enter creates the user.
	err = chromedp.Do(ctx,
		chromedp.Focus("#new-id"),
		chromedp.KeyEvent("auth0|kim"),
		chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Tab),
	)
	if err != nil {
		t.Fatal(err)
	}
	focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`))
	if err != nil || focused != "create-btn" {
		t.Fatalf("after three Tabs from the user id the focus is on %q (%v); want create-btn", focused, err)
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#create-msg", "created auth0|kim")

	// 200 % zoom.
	err = chromedp.Do(ctx, chromedp.EmulateViewport(640, 900), chromedp.Navigate(url), chromedp.WaitVisible("#create-form"))
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#users tbody", "auth0|kim")
	widths, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`))
	if err != nil {
		t.Fatal(err)
	}
	if widths[0] > widths[1] {
		t.Errorf("at 640 CSS px the page is %d px wide; want no horizontal scroll", widths[0])
	}
}

// TestServeHasNoConsole: the console and its endpoints exist only in dev; serve answers them as
// any unknown route.
func TestServeHasNoConsole(t *testing.T) {
	s := startStack(t, nil)
	for _, path := range []string{"/", "/dev/console.js", "/dev/api/users", "/dev/api/status"} {
		resp, err := http.Get(s.url + path) // not s.client: these are outside the OpenAPI document on purpose
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("serve: GET %s = %d; want 404", path, resp.StatusCode)
		}
	}
}

// TestConsoleLoginWithRedisPaused: with Redis paused from the console, a login that leaves the
// play count as it is runs through the Action and shows rulehook's degraded answer (roles kept,
// nothing written), as the README promises; the console itself does not fail on the paused Redis.
func TestConsoleLoginWithRedisPaused(t *testing.T) {
	base := startDevConsole(t, nil)
	call := func(method, path, body string, out any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+strings.TrimPrefix(path, "/"), strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s = %d %s; want 200", method, path, resp.StatusCode, raw)
		}
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatalf("%s %s: %s: %v", method, path, raw, err)
			}
		}
	}
	call(http.MethodPost, "/dev/api/users", `{"user_id":"auth0|pia","roles":["admin"],"display_name":"Pia"}`, nil)
	call(http.MethodPut, "/dev/api/faults", `{"tenant":"","redis_paused":true}`, nil)
	var res console.LoginResult
	call(http.MethodPost, "/dev/api/login", `{"user_id":"auth0|pia"}`, &res)
	a, err := openapitest.DecodeAnswer(res.Callout)
	if err != nil {
		t.Fatalf("callout answer %s: %v", res.Callout, err)
	}
	if !slices.Equal(a.Roles, []string{"admin"}) || !slices.Equal(a.Degraded, []string{"redis"}) || a.Plays != nil {
		t.Errorf("callout answer = %s; want roles [admin] kept, degraded [redis], plays null", a)
	}
	if res.WrittenBy != "none" || res.Denied || res.PlaysAtLogin != nil {
		t.Errorf("login = written_by %q, denied %v, plays %v; want none, not denied, no count", res.WrittenBy, res.Denied, res.PlaysAtLogin)
	}
}
