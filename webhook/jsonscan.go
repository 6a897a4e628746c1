package webhook

import (
	"encoding/json"
	"unicode/utf8"
)

// A small walker over JSON that validJSON (jsonvalid.go) has already accepted. The callout's
// token claims and its event are read with it instead of encoding/json's reflection for two
// reasons: speed (the hot path reads a handful of keys out of a few hundred bytes), and
// exactness (encoding/json matches struct fields case-insensitively, while Auth0's keys are
// case-sensitive: CONTRACT rule 7). Every function assumes valid JSON; on anything else its
// result is unspecified but it never reads out of bounds.

// skipSpace returns the index of the first non-space byte of b at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just after the string whose opening quote is at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index just after the value that starts at b[i] (no leading space).
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for ; i < len(b); i++ { // number, true, false, null
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
}

// members calls fn with the raw key (quotes included) and the raw value of each member of the
// object b, in order, until fn returns false. It returns false when b is not an object or fn
// stopped it.
func members(b []byte, fn func(key, val []byte) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	for i = skipSpace(b, i+1); i < len(b) && b[i] == '"'; {
		k := skipString(b, i)
		key := b[i:k]
		v := skipSpace(b, skipSpace(b, k)+1) // past the ':'
		end := skipValue(b, v)
		if !fn(key, b[v:end]) {
			return false
		}
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return true
}

// plainString returns the text of the raw JSON string s when it needs no unescaping: no
// backslash, and valid UTF-8 (encoding/json replaces invalid bytes).
func plainString(s []byte) ([]byte, bool) {
	if len(s) < 2 || s[0] != '"' {
		return nil, false
	}
	in := s[1 : len(s)-1]
	for _, c := range in {
		if c == '\\' || c < 0x20 {
			return nil, false
		}
		if c >= utf8.RuneSelf {
			return in, utf8.Valid(in)
		}
	}
	return in, true
}

// keyIs reports whether the raw JSON string key, once unescaped, is exactly name.
func keyIs(key []byte, name string) bool {
	if in, ok := plainString(key); ok {
		return string(in) == name
	}
	var s string
	return json.Unmarshal(key, &s) == nil && s == name
}

// stringOf returns the raw JSON string s as a Go string, as encoding/json would decode it.
func stringOf(s []byte) (string, bool) {
	if in, ok := plainString(s); ok {
		return string(in), true
	}
	var out string
	err := json.Unmarshal(s, &out)
	return out, err == nil
}

// isNull reports whether the raw JSON value is null.
func isNull(v []byte) bool { return string(v) == "null" }

// elements calls fn with each raw element of the array b, in order, until fn returns false. It
// returns false when b is not an array or fn stopped it.
func elements(b []byte, fn func(val []byte) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return false
	}
	for i = skipSpace(b, i+1); i < len(b) && b[i] != ']'; {
		end := skipValue(b, i)
		if !fn(b[i:end]) {
			return false
		}
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return true
}
