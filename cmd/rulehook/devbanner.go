package main

import (
	"fmt"
	"io"
	"strings"
)

// printDevBanner says where a dev listens, what it runs with, and what to try.
func printDevBanner(w io.Writer, d *devStack) {
	st, cfg := d.st, d.cfg
	fmt.Fprintln(w, "!! rulehook dev: embedded Redis and an emulated Auth0 tenant, throwaway secrets.")
	fmt.Fprintln(w, "!! NOT FOR PRODUCTION: nothing is persisted; use `rulehook serve` with real Redis and a real tenant.")
	fmt.Fprintf(w, "\n  console           %s/  (open it in a browser: users, logins, plays, faults, history)\n", st.RulehookURL)
	fmt.Fprintf(w, "  rulehook          %s  (POST /v1/post-login, app API, /healthz, /readyz, /metrics)\n", st.RulehookURL)
	fmt.Fprintf(w, "  redis (embedded)  %s\n", st.RedisURL)
	fmt.Fprintf(w, "  tenant (emulated) %s  (domain %s; /oauth/token, /api/v2/users, /.well-known/jwks.json)\n", st.TenantURL, st.Domain)
	fmt.Fprintf(w, "  app API audience  %s  (`rulehook token --user ID` prints a token for it)\n", st.APIAudience)
	fmt.Fprintf(w, "  rules             playlist_editor at %d plays, default displayName %q, WRITE_MODE=%s, FAILURE_POLICY=%s\n",
		cfg.Policy.Threshold, cfg.Policy.DefaultDisplayName, st.WriteMode, st.FailurePolicy)
	fmt.Fprintf(w, "  state file        %s  (read by login, token, audit and reconcile)\n", d.statePath)
	if d.replaced != "" {
		fmt.Fprintf(w, "  (replaced a stale state file %s)\n", d.replaced)
	}
	if len(d.ignored) > 0 {
		fmt.Fprintf(w, "\n  ignored (dev sets these itself): %s\n", strings.Join(d.ignored, ", "))
	}
	state := ""
	if d.statePath != defaultDevStatePath() {
		state = " --state " + d.statePath
	}
	fmt.Fprintf(w, "\nTry, in another terminal (login needs node):\n\n")
	fmt.Fprintf(w, "  go run ./cmd/rulehook login%s --user 'auth0|alice' --plays 150\n", state)
	fmt.Fprintf(w, "  go run ./cmd/rulehook audit%s --user 'auth0|alice'\n", state)
	fmt.Fprintf(w, "  curl -H \"Authorization: Bearer $(go run ./cmd/rulehook token%s --user 'auth0|alice')\" %s/playlists/getPlays\n\n", state, st.RulehookURL)
}
