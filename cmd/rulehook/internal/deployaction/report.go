package deployaction

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// printPlan writes the plan, one line per subject. Secrets appear by name only.
func printPlan(c config, p plan) {
	w := c.Progress
	if c.DryRun {
		fmt.Fprintln(w, "dry run: reading only, nothing will be changed")
	}
	tenant := c.base.String()
	if c.Domain != "" && c.Domain != c.base.Host {
		tenant = c.Domain + " at " + tenant
	}
	fmt.Fprintf(w, "tenant: %s\n", tenant)

	line := fmt.Sprintf("action %s: %s", quote(c.Name), p.Change)
	switch p.Change {
	case ChangeCreate:
		line += fmt.Sprintf(" (%s %s, %s)", TriggerID, TriggerVersion, c.Runtime)
	case ChangeUpdate:
		line += " (" + strings.Join(p.Reasons, "; ") + ")"
	}
	fmt.Fprintln(w, line)
	fmt.Fprintf(w, "secrets: %s (names only; values are never shown)\n", joinNames(slices.Sorted(maps.Keys(c.Secrets))))

	switch {
	case p.Deployed:
		fmt.Fprintln(w, "deploy: a new version")
	case p.current != nil && !p.current.DeployedLive:
		fmt.Fprintf(w, "deploy: version %d is still deploying; waiting for it\n", p.Version)
	default:
		fmt.Fprintf(w, "deploy: not needed, version %d is deployed and current\n", p.Version)
	}

	if p.BindingsChanged {
		fmt.Fprintf(w, "%s bindings: %s → %s\n", TriggerID, bindingList(p.BindingsBefore), bindingList(p.BindingsAfter))
	} else {
		fmt.Fprintf(w, "%s bindings: %s (unchanged)\n", TriggerID, bindingList(p.BindingsBefore))
	}
}

// bindingList renders bindings in order: their display names, and the action's name when it
// differs.
func bindingList(list []Binding) string {
	if len(list) == 0 {
		return "(none)"
	}
	parts := make([]string, 0, len(list))
	for _, b := range list {
		s := quote(b.DisplayName)
		if b.ActionName != "" && b.ActionName != b.DisplayName {
			s += " (action " + quote(b.ActionName) + ")"
		}
		if b.ActionID == "" {
			s += " (new)"
		}
		parts = append(parts, s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// triggerList renders an Action's supported triggers, e.g. "post-login v3".
func triggerList(a action) string {
	parts := make([]string, 0, len(a.Triggers))
	for _, t := range a.Triggers {
		parts = append(parts, strings.TrimSpace(string(t.ID)+" "+t.GetVersion()))
	}
	if len(parts) == 0 {
		return "no trigger"
	}
	return strings.Join(parts, ", ")
}

// nameDiff returns the names in want but not in have, and those in have but not in want.
func nameDiff(have []string, want map[string]string) (added, removed []string) {
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if !slices.Contains(have, name) {
			added = append(added, name)
		}
	}
	for _, name := range have {
		if _, ok := want[name]; !ok {
			removed = append(removed, name)
		}
	}
	return added, removed
}

func joinNames(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

func quote(s string) string { return strconv.Quote(s) }

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
