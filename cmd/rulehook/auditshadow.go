package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/redisstore"
)

// shadowSamples is how many user ids the shadow summary names per kind of disagreement.
const shadowSamples = 5

// shadowReport is what `rulehook audit --shadow` prints.
type shadowReport struct {
	Since         time.Time           `json:"since"`
	Logins        int64               `json:"logins"`
	Agreed        int64               `json:"agreed"`
	AgreementRate float64             `json:"agreement_rate"`
	Disagreements map[string]int64    `json:"disagreements"`
	Examples      map[string][]string `json:"examples"`
}

// parseSince reads --since: an RFC 3339 time, or a duration back from now ("24h"). Empty is as
// far back as shadow counts are kept.
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return now.Add(-redisstore.ShadowTTL), nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, usageErrorf("audit: --since %q: want an RFC 3339 time (2026-11-30T09:00:00Z) or a duration (24h)", v)
	}
	return t, nil
}

// shadowSummary reads the shadow-mode counts since since and a few user ids per kind from the
// audit trail's would-be changes.
func shadowSummary(ctx context.Context, store *redisstore.Store, since, now time.Time) (shadowReport, error) {
	st, err := store.ShadowStats(ctx, since, now)
	if err != nil {
		return shadowReport{}, fmt.Errorf("read the shadow counts: %w", err)
	}
	rep := shadowReport{Since: since.UTC().Truncate(time.Hour), Logins: st.Logins, Agreed: st.Agreed,
		Disagreements: map[string]int64{}, Examples: map[string][]string{}}
	if st.Logins > 0 {
		rep.AgreementRate = float64(st.Agreed) / float64(st.Logins)
	}
	for _, k := range metadata.ShadowKinds {
		rep.Disagreements[k] = st.Disagreements[k]
		rep.Examples[k] = []string{}
	}
	entries, err := store.Audit(ctx, "", redisstore.MaxAuditRead)
	if err != nil {
		return shadowReport{}, fmt.Errorf("read the audit trail: %w", err)
	}
	for _, e := range entries {
		if e.Reason != metadata.ReasonShadow || e.Time.Before(rep.Since) {
			continue
		}
		id := metadata.LogID(e.UserID)
		for _, k := range kindsOf(e.Changes) {
			if ex := rep.Examples[k]; len(ex) < shadowSamples && !slices.Contains(ex, id) {
				rep.Examples[k] = append(ex, id)
			}
		}
	}
	return rep, nil
}

// kindsOf tells the kinds of disagreement from an audit entry's changes.
func kindsOf(changes []metadata.Change) []string {
	var out []string
	for _, c := range changes {
		switch {
		case c.Object == metadata.ObjectUserMetadata && c.Key == metadata.DisplayNameKey:
			out = append(out, metadata.ShadowDisplayName)
		case c.Object == metadata.ObjectAppMetadata && c.Key == metadata.RolesKey:
			after := metadata.User{AppMetadata: map[string]any{metadata.RolesKey: c.After}}.Roles()
			if slices.Contains(after, metadata.RolePlaylistEditor) {
				out = append(out, metadata.ShadowPromote)
			} else {
				out = append(out, metadata.ShadowDemote)
			}
		}
	}
	return out
}

func (r shadowReport) print(w io.Writer, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	fmt.Fprintf(w, "shadow mode since %s (counted by the hour)\n", r.Since.Format(time.RFC3339))
	if r.Logins == 0 {
		fmt.Fprintln(w, "no logins seen in shadow mode")
		return nil
	}
	fmt.Fprintf(w, "logins seen   %d\n", r.Logins)
	fmt.Fprintf(w, "agreed        %d (%.1f%%)\n", r.Agreed, 100*r.AgreementRate)
	fmt.Fprintf(w, "disagreed     %d\n", r.Logins-r.Agreed)
	for _, k := range metadata.ShadowKinds {
		line := fmt.Sprintf("  %-12s %d", k, r.Disagreements[k])
		if ex := r.Examples[k]; len(ex) > 0 {
			line += "   e.g. " + strings.Join(ex, ", ")
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w, "each would-be change, before and after: rulehook audit --user ID")
	return nil
}
