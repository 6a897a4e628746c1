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
// longer than MaxDisplayNameRunes, not UTF-8, or holds a control character, a bidi control
// (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) or an invisible format character with
// no use in plain text (soft hyphen U+00AD, zero-width space U+200B, U+2060–U+2064, the deprecated
// U+206A–U+206F, U+FEFF, the annotation marks U+FFF9–U+FFFB, the musical beam and slur controls
// U+1D173–U+1D17A, the tags U+E0001 and U+E0020–U+E007F), which would let a name display as
// something it is not. The other format characters (Unicode category Cf) are allowed: the zero-width
// joiner U+200D that emoji sequences need, the zero-width non-joiner U+200C that Persian and Indic
// text need, and the visible or script-bound ones (Arabic number signs, U+180E, Egyptian and
// Duployan format controls).
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

// isFormat reports a format character that NormalizeDisplayName refuses.
func isFormat(r rune) bool { return unicode.Is(refusedFormat, r) }

// refusedFormat holds the bidi controls and invisible format characters of Unicode category Cf
// listed at NormalizeDisplayName; ZWNJ U+200C and ZWJ U+200D are not among them.
var refusedFormat = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x00AD, Hi: 0x00AD, Stride: 1}, // soft hyphen
		{Lo: 0x061C, Hi: 0x061C, Stride: 1}, // Arabic letter mark
		{Lo: 0x200B, Hi: 0x200B, Stride: 1}, // zero-width space
		{Lo: 0x200E, Hi: 0x200F, Stride: 1}, // left-to-right and right-to-left marks
		{Lo: 0x202A, Hi: 0x202E, Stride: 1}, // bidi embeddings and overrides
		{Lo: 0x2060, Hi: 0x2064, Stride: 1}, // word joiner, invisible operators
		{Lo: 0x2066, Hi: 0x206F, Stride: 1}, // bidi isolates, deprecated format characters
		{Lo: 0xFEFF, Hi: 0xFEFF, Stride: 1}, // zero-width no-break space (byte-order mark)
		{Lo: 0xFFF9, Hi: 0xFFFB, Stride: 1}, // interlinear annotation marks
	},
	R32: []unicode.Range32{
		{Lo: 0x1D173, Hi: 0x1D17A, Stride: 1}, // musical beam, tie, slur and phrase controls
		{Lo: 0xE0001, Hi: 0xE0001, Stride: 1}, // language tag
		{Lo: 0xE0020, Hi: 0xE007F, Stride: 1}, // tag characters
	},
	LatinOffset: 1,
}
