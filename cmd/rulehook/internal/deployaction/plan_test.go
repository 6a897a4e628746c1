package deployaction

import (
	"slices"
	"testing"
)

func TestFingerprint(t *testing.T) {
	base := map[string]string{"CALLOUT_SECRET": "k0123456789012345678901234567890123", "FAILURE_POLICY": "open"}
	fp := fingerprint(base)
	if again := fingerprint(map[string]string{"FAILURE_POLICY": "open", "CALLOUT_SECRET": base["CALLOUT_SECRET"]}); again != fp {
		t.Errorf("fingerprint depends on map order: %s != %s", again, fp)
	}
	for _, other := range []map[string]string{
		{"CALLOUT_SECRET": base["CALLOUT_SECRET"], "FAILURE_POLICY": "closed"},
		{"CALLOUT_SECRET": base["CALLOUT_SECRET"] + "x", "FAILURE_POLICY": "open"},
		{"CALLOUT_SECRET": base["CALLOUT_SECRET"], "FAILURE_POLICY": "open", "TIMEOUT_MS": ""},
		{"CALLOUT_SECRET": base["CALLOUT_SECRET"], "FAILURE_POLICYo": "pen"},
	} {
		if fingerprint(other) == fp {
			t.Errorf("fingerprint(%v) = fingerprint(%v); want different", other, base)
		}
	}
}

func TestSplitCode(t *testing.T) {
	for _, src := range []string{"exports.x = 1;\n", "exports.x = 1;", "", "a\n// rulehook deploy-action: secrets fingerprint v1 old\nb\n"} {
		code := deployedCode(src, "abc123")
		gotSrc, gotFP := splitCode(code)
		if gotSrc != withNewline(src) || gotFP != "abc123" {
			t.Errorf("splitCode(deployedCode(%q)) = %q, %q; want %q, abc123", src, gotSrc, gotFP, withNewline(src))
		}
	}
	if src, fp := splitCode("exports.x = 1;\n"); src != "exports.x = 1;\n" || fp != "" {
		t.Errorf("splitCode(hand-made code) = %q, %q; want the code and no fingerprint", src, fp)
	}
}

func TestPlanBindings(t *testing.T) {
	a := Binding{ActionID: "a", ActionName: "a", DisplayName: "a"}
	b := Binding{ActionID: "b", ActionName: "b", DisplayName: "b"}
	me := Binding{ActionID: "me", ActionName: "me", DisplayName: "mine"}
	fresh := Binding{ActionID: "me", ActionName: "me", DisplayName: "me"}
	tests := []struct {
		name        string
		before      []Binding
		want        []Binding
		wantChanged bool
	}{
		{"empty", nil, []Binding{fresh}, true},
		{"appended", []Binding{a, b}, []Binding{a, b, fresh}, true},
		{"kept in place", []Binding{a, me, b}, []Binding{a, me, b}, false},
		{"duplicates dropped", []Binding{me, a, me, b, me}, []Binding{me, a, b}, true},
	}
	for _, tt := range tests {
		got, changed := planBindings(tt.before, "me", "me")
		if !slices.Equal(got, tt.want) || changed != tt.wantChanged {
			t.Errorf("%s: planBindings = %v, %v; want %v, %v", tt.name, got, changed, tt.want, tt.wantChanged)
		}
	}
}
