package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDevThenPrintedLoginShowsEditor is the README's quick start: `rulehook dev`, then the login
// command it prints, for a user with 150 plays.
func TestDevThenPrintedLoginShowsEditor(t *testing.T) {
	state := filepath.Join(t.TempDir(), "dev.json")
	env := map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "REDIS_URL": "redis://ignored:1"}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(context.Background())
	out, logs := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"dev", "--state", state}, getenv, out, logs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev returned %v after a clean stop; want nil", err)
		}
	})
	waitFor(t, 10*time.Second, func() error {
		if !strings.Contains(out.String(), "rulehook login") {
			return errNotReady
		}
		return nil
	})
	banner := out.String()
	for _, want := range []string{"NOT FOR PRODUCTION", "ignored (dev sets these itself): REDIS_URL", "--state " + state} {
		if !strings.Contains(banner, want) {
			t.Errorf("dev banner lacks %q:\n%s", want, banner)
		}
	}

	// The printed command, as a user would paste it.
	line := banner[strings.Index(banner, "go run ./cmd/rulehook login"):]
	line = strings.TrimSpace(line[:strings.Index(line, "\n")])
	args := strings.Fields(strings.TrimPrefix(line, "go run ./cmd/rulehook "))
	for i, a := range args {
		args[i] = strings.Trim(a, "'")
	}
	var login syncBuffer
	if err := run(context.Background(), args, getenv, &login, &login); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, login.String())
	}
	var bad syncBuffer
	err := run(context.Background(), []string{"login", "--state", state, "--user", "google-oauth2|1"}, getenv, &bad, &bad)
	if err == nil || !strings.Contains(err.Error(), "auth0|alice") {
		t.Errorf("login of a user the emulated tenant cannot create = %v; want a usage error naming the id form", err)
	}
	got := login.String()
	for _, want := range []string{
		`https://music.example.com/roles = ["playlist_editor"]`,
		`after   app_metadata   {"roles":["playlist_editor"]}`,
		"written by rulehook",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("login output lacks %q:\n%s", want, got)
		}
	}
}
