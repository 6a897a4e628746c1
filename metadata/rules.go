package metadata

import "slices"

// Policy holds the settings of the rules.
type Policy struct {
	// Threshold is the play count from which a user is a playlist editor (PLAYLIST_EDITOR_THRESHOLD).
	Threshold int64
	// DefaultDisplayName is given to a user who has no display name (DEFAULT_DISPLAY_NAME).
	DefaultDisplayName string
}

// DefaultPolicy is the sample's: 100 plays, display name "user".
var DefaultPolicy = Policy{Threshold: 100, DefaultDisplayName: "user"}

// Validate returns an error wrapping ErrInvalid when the policy cannot be applied.
func (p Policy) Validate() error {
	if p.Threshold < 1 {
		return invalidf("threshold must be at least 1, got %d", p.Threshold)
	}
	name, err := NormalizeDisplayName(p.DefaultDisplayName)
	if err != nil {
		return err
	}
	if name != p.DefaultDisplayName {
		return invalidf("default display name has surrounding spaces")
	}
	return nil
}

// Input is what one login knows.
type Input struct {
	User User
	// Plays is the user's recorded play count; it is ignored unless PlaysKnown.
	Plays int64
	// PlaysKnown is true only for a count that was read and is recorded. It is false when the
	// count could not be read (an outage: rule 5) or is not recorded at all (rule 6: the key is
	// absent, for a new user or after Redis was emptied, restored or evicted keys). Either way
	// playlist_editor stays exactly as it is: neither removed nor granted.
	PlaysKnown bool
	// PlaysAbsent reports, with PlaysKnown false, that the count was read and is not recorded,
	// rather than unreadable. It changes no role; it sets Decision.KeptUnrecorded.
	PlaysAbsent bool
}

// PlayCount is a user's play count as a store reads it.
type PlayCount struct {
	// N is the count; 0 when not Recorded.
	N int64
	// Recorded is false when no count is stored for the user (the key is absent).
	Recorded bool
}

// WithPlays returns in with a count that was read: known when recorded, absent otherwise.
func (in Input) WithPlays(c PlayCount) Input {
	in.Plays, in.PlaysKnown, in.PlaysAbsent = c.N, c.Recorded, !c.Recorded
	if !c.Recorded {
		in.Plays = 0
	}
	return in
}

// Decision is the outcome of the rules for one login.
type Decision struct {
	// Roles is the user's full role list after this login; never nil.
	Roles []string
	// Patch holds only the top-level keys this login changes; empty when nothing changes.
	Patch Patch
	// Promoted and Demoted report a change of the playlist_editor role.
	Promoted, Demoted bool
	// NamedByDefault reports that displayName is set to the policy's default.
	NamedByDefault bool
	// RolesUntouched reports that app_metadata.roles holds a value that is neither an array nor a
	// string, which the rules leave alone.
	RolesUntouched bool
	// KeptUnrecorded reports a user who holds playlist_editor while no play count is recorded
	// (Input.PlaysAbsent): the role is kept (rule 6), and an operator may want to restore counts.
	KeptUnrecorded bool
}

// Changed reports whether the decision changes anything.
func (d Decision) Changed() bool { return !d.Patch.IsEmpty() }

// Decide applies the rules of the sample, corrected:
//  1. playlist_editor is held exactly when a recorded count is >= Threshold; a count that is
//     unreadable or not recorded changes no role; every other role is kept as it is.
//  2. displayName is set to DefaultDisplayName only when it is missing, null or "".
//  3. the patch carries only what changes, as whole top-level values.
func (p Policy) Decide(in Input) Decision {
	var d Decision
	raw, rolesOK := in.User.rawRoles()
	d.RolesUntouched = !rolesOK
	d.Roles = stringsOf(raw)

	if rolesOK && in.PlaysKnown {
		has := slices.Contains(d.Roles, RolePlaylistEditor)
		want := in.Plays >= p.Threshold
		switch {
		case want && !has:
			raw = append(slices.Clip(raw), RolePlaylistEditor)
			d.Promoted = true
		case !want && has:
			raw = slices.DeleteFunc(slices.Clone(raw), func(v any) bool { return v == RolePlaylistEditor })
			d.Demoted = true
		}
		if d.Promoted || d.Demoted {
			d.Roles = stringsOf(raw)
			d.Patch.AppMetadata = map[string]any{RolesKey: raw}
		}
	}

	d.KeptUnrecorded = in.PlaysAbsent && !in.PlaysKnown && slices.Contains(d.Roles, RolePlaylistEditor)

	if _, has := in.User.DisplayName(); !has {
		d.Patch.UserMetadata = map[string]any{DisplayNameKey: p.DefaultDisplayName}
		d.NamedByDefault = true
	}
	return d
}
