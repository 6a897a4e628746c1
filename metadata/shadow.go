package metadata

import "time"

// Shadow mode (WRITE_MODE=shadow): rulehook decides every login as it would in management mode,
// writes nothing to the tenant, and records where its decision differs from what the user
// already has (what the old Rules made).

// ReasonShadow is the Reason of an audit entry recording a change rulehook would have made.
const ReasonShadow = "shadow"

// Kinds of disagreement, the change label of rulehook_shadow_disagreements_total.
const (
	ShadowPromote     = "promote"
	ShadowDemote      = "demote"
	ShadowDisplayName = "display_name"
)

// ShadowKinds lists every kind of disagreement, in a fixed order.
var ShadowKinds = []string{ShadowPromote, ShadowDemote, ShadowDisplayName}

// Disagreements returns the kinds of change d would make, in ShadowKinds order; none when rulehook
// agrees with the user's current state.
func (d Decision) Disagreements() []string {
	var out []string
	if d.Promoted {
		out = append(out, ShadowPromote)
	}
	if d.Demoted {
		out = append(out, ShadowDemote)
	}
	if d.NamedByDefault {
		out = append(out, ShadowDisplayName)
	}
	return out
}

// ShadowLogin is one login decided in shadow mode.
type ShadowLogin struct {
	UserID    string
	Time      time.Time
	RequestID string
	// Kinds are the Disagreements of the decision; empty when rulehook agrees.
	Kinds []string
	// Changes are what the decision would have written, with the values before and after.
	Changes []Change
}

// ShadowStats counts the logins seen in shadow mode over a time span.
type ShadowStats struct {
	Logins, Agreed int64
	// Disagreements counts logins by kind; one login can disagree in two kinds.
	Disagreements map[string]int64
}
