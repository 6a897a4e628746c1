package webhook

import (
	"encoding/json"
	"strings"
	"testing"
)

// jsonValidCases are inputs on both sides of each rule of the grammar.
var jsonValidCases = []string{
	``, ` `, `{}`, ` { } `, `[]`, `[ ]`, `{"a":1}`, `{"a" : [1, 2.5, -0.1e+3, true, false, null]}`,
	`{"a":1,}`, `[1,]`, `{,}`, `[,1]`, `{"a"}`, `{"a":}`, `{1:2}`, `{"a":1 "b":2}`, `[1 2]`,
	`"x"`, `"\"\\\/\b\f\n\r\t\u00e9"`, `"\x"`, `"\u00g0"`, `"\u00e"`, "\"a\x01\"", "\"\xff\xfe\"",
	`"unterminated`, `0`, `-0`, `01`, `-`, `1.`, `.5`, `1e`, `1e+`, `1E5`, `-1.0E-5`, `+1`,
	`true`, `tru`, `truex`, `nul`, `null `, `nullnull`, `[true,false,null]`, `[tru]`, `{} {}`,
	`[[[]]]`, `[[[]]`, `[]]`, `{"a":{"b":{"c":[{}]}}}`, `{"a":{"b":}}`, "\t\n\r 1 \t\n\r", "\v1",
	`{"user":{"user_id":"auth0|alice","app_metadata":{"roles":["admin"]}},"transaction":{"id":"t"}}`,
}

func TestValidJSONMatchesEncodingJSON(t *testing.T) {
	for _, in := range jsonValidCases {
		if got, want := validJSON([]byte(in)), json.Valid([]byte(in)); got != want {
			t.Errorf("validJSON(%q) = %v, want %v (json.Valid)", in, got, want)
		}
	}
}

func TestValidJSONDepth(t *testing.T) {
	for _, depth := range []int{maxJSONDepth, maxJSONDepth + 1} {
		for _, open := range []string{"[", `{"k":`} {
			closer := map[string]string{"[": "]", `{"k":`: "}"}[open]
			in := []byte(strings.Repeat(open, depth) + "1" + strings.Repeat(closer, depth))
			if got, want := validJSON(in), json.Valid(in); got != want {
				t.Errorf("depth %d of %s: got %v, want %v (json.Valid)", depth, open, got, want)
			}
		}
	}
}

// FuzzValidJSON holds validJSON to json.Valid: the same verdict on every input.
func FuzzValidJSON(f *testing.F) {
	for _, in := range jsonValidCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := validJSON(in), json.Valid(in); got != want {
			t.Fatalf("validJSON(%q) = %v, want %v (json.Valid)", in, got, want)
		}
	})
}

// BenchmarkValidJSON compares validJSON with json.Valid on a callout's event.
func BenchmarkValidJSON(b *testing.B) {
	body := eventBody(b, alice, map[string]any{"roles": []any{"admin", "playlist_editor"}}, map[string]any{"displayName": "J"})
	for _, bc := range []struct {
		name  string
		valid func([]byte) bool
	}{{"validJSON", validJSON}, {"json.Valid", json.Valid}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if !bc.valid(body) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
