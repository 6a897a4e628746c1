package metadata

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of the app API's data, per user.
const (
	MaxDisplayNameRunes = 64
	MaxGenreRunes       = 64
	MaxSongNameRunes    = 200
	MaxSongsPerUser     = 1000
)

// Song is one row of the sample's songs table, scoped to its owner.
type Song struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// NormalizeDisplayName trims s and returns it, or an error wrapping ErrInvalid when it is empty,
// longer than MaxDisplayNameRunes, not UTF-8, or holds a control character or a Unicode format
// character (category Cf: bidi overrides such as U+202E, zero-width ones such as U+200B), which
// would let a name display as something it is not.
func NormalizeDisplayName(s string) (string, error) {
	return normalizeText("displayName", s, MaxDisplayNameRunes)
}

// NormalizeGenre does for a favourite genre what NormalizeDisplayName does for a name.
func NormalizeGenre(s string) (string, error) { return normalizeText("genre", s, MaxGenreRunes) }

// NormalizeSongName does for a song name what NormalizeDisplayName does for a name.
func NormalizeSongName(s string) (string, error) { return normalizeText("name", s, MaxSongNameRunes) }

func normalizeText(field, s string, maxRunes int) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalidf("%s is not valid UTF-8", field)
	}
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0:
		return "", invalidf("%s is empty", field)
	case n > maxRunes:
		return "", invalidf("%s is longer than %d characters", field, maxRunes)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", invalidf("%s contains a control character", field)
	case strings.IndexFunc(s, isFormat) >= 0:
		return "", invalidf("%s contains an invisible format character (bidi override, zero-width)", field)
	}
	return s, nil
}

// DisplayNamePatch is the patch that sets the user's own display name and nothing else.
func DisplayNamePatch(name string) Patch {
	return Patch{UserMetadata: map[string]any{DisplayNameKey: name}}
}

// isFormat reports a Unicode format character (category Cf).
func isFormat(r rune) bool { return unicode.Is(unicode.Cf, r) }
