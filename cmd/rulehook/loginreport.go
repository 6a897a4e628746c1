package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

func printLoginReport(w io.Writer, st devState, r loginReport) {
	claim := st.ClaimNamespace + "/roles"
	fmt.Fprintf(w, "login of %s through actions/post-login.js -> %s\n", r.UserID, st.RulehookURL)
	if r.Plays != nil {
		fmt.Fprintf(w, "  plays in redis         %d\n", *r.Plays)
	} else {
		fmt.Fprintln(w, "  plays in redis         not recorded (a missing count never demotes)")
	}
	if r.Created {
		fmt.Fprintln(w, "  user                   created in the emulated tenant")
	}
	fmt.Fprintf(w, "  before  app_metadata   %s\n", compactMap(r.Before.AppMetadata))
	fmt.Fprintf(w, "          user_metadata  %s\n", compactMap(r.Before.UserMetadata))
	if r.Denied {
		fmt.Fprintf(w, "  DENIED  %s\n", r.DenyReason)
	} else {
		fmt.Fprintf(w, "  claims  id token       %s = %s\n", claim, compactMap(r.IDClaims[claim]))
		fmt.Fprintf(w, "          access token   %s = %s\n", claim, compactMap(r.AccessClaim[claim]))
	}
	if r.After != nil {
		fmt.Fprintf(w, "  after   app_metadata   %s\n", compactMap(r.After.AppMetadata))
		fmt.Fprintf(w, "          user_metadata  %s\n", compactMap(r.After.UserMetadata))
	}
	switch r.WrittenBy {
	case wroteAction:
		fmt.Fprintf(w, "  written by the Action (api.user.setAppMetadata/setUserMetadata): %s %s\n",
			compactMap(r.ActionSet.AppMetadata), compactMap(r.ActionSet.UserMetadata))
	case wroteRulehook:
		fmt.Fprintln(w, "  written by rulehook: one Management API PATCH")
	case wroteQueued:
		fmt.Fprintln(w, "  queued by rulehook: the PATCH failed, the retry-queue worker applies it")
	default:
		fmt.Fprintln(w, "  nothing written (no change: no Management API call)")
	}
	if len(r.Unused) > 0 {
		fmt.Fprintf(w, "  note: %s apply only to a new user; %s exists, so they were not used\n", strings.Join(r.Unused, " and "), r.UserID)
	}
	for _, l := range r.Logs {
		fmt.Fprintf(w, "  action log: %s\n", l)
	}
}

// compactMap is v as compact JSON, with an empty object as {}.
func compactMap(v any) string {
	if m, ok := v.(map[string]any); ok && len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
