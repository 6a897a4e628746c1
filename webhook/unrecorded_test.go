package webhook

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rulehook/rulehook/metadata/redisstore"
)

// TestStackLostCountsNeverDemote holds CONTRACT rule 6 on the login path against a real
// redis-server that loses its data: restarted empty, FLUSHALL, or evicting under maxmemory with
// allkeys-lru. An editor keeps the role and nothing is PATCHed for it; the answer says plays 0 and
// nothing degraded. A count that is recorded again still decides.
func TestStackLostCountsNeverDemote(t *testing.T) {
	editor := map[string]any{"roles": []any{"admin", "playlist_editor"}}
	named := map[string]any{"displayName": "A"}
	lose := map[string]func(t *testing.T, s *stack){
		"restart empty": func(t *testing.T, s *stack) {
			s.redis.Restart()
			waitStatus(t, s.srv.Handler(), "/readyz", 200)
		},
		"FLUSHALL": func(t *testing.T, s *stack) {
			if err := s.rdb.FlushAll(context.Background()).Err(); err != nil {
				t.Fatalf("FLUSHALL: %v", err)
			}
		},
		"eviction": func(t *testing.T, s *stack) {
			ctx, filler := context.Background(), strings.Repeat("x", 64<<10)
			for i := 0; s.rdb.Exists(ctx, redisstore.PlaysKey(alice)).Val() == 1; i++ {
				if i > 2000 {
					t.Fatalf("the play count was never evicted")
				}
				s.rdb.Set(ctx, fmt.Sprintf("filler:%d", i), filler, 0)
			}
		},
	}
	for name, lost := range lose {
		t.Run(name, func(t *testing.T) {
			var args []string
			if name == "eviction" {
				args = []string{"--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"}
			}
			s := newStackArgs(t, nil, args...)
			h := s.srv.Handler()
			s.seed(t, alice, 150, editor, named)
			lost(t, s)

			a := decodeAnswer(t, serve(h, s.callout(t, alice, editor, named).request(t)))
			if !jsonEqual(a.Roles, []string{"admin", "playlist_editor"}) || len(a.Degraded) != 0 ||
				a.Plays == nil || *a.Plays != 0 || a.WrittenBy != "none" {
				t.Errorf("answer with the count lost = %s; want the role kept, plays 0, nothing written or degraded", a.Raw)
			}
			if n := s.patches(); n != 0 {
				t.Errorf("PATCHes with the count lost = %d; want 0", n)
			}
			if err := s.rdb.Set(context.Background(), redisstore.PlaysKey(alice), "5", 0).Err(); err != nil {
				t.Fatalf("SET: %v", err)
			}
			a = decodeAnswer(t, serve(h, s.callout(t, alice, editor, named).request(t)))
			if !jsonEqual(a.Roles, []string{"admin"}) {
				t.Errorf("answer with a recorded 5 = %s; want the demotion the rules ask for", a.Raw)
			}
		})
	}
}

// TestStackNewUserNotPromotedWithoutCount: a user with no recorded count is not promoted, even
// with a threshold of 1, and still gets the default displayName.
func TestStackNewUserNotPromotedWithoutCount(t *testing.T) {
	s := newStack(t, func(c *Config) { c.Policy.Threshold = 1 })
	s.seed(t, alice, 0, map[string]any{}, map[string]any{})
	s.rdb.Del(context.Background(), redisstore.PlaysKey(alice))
	a := decodeAnswer(t, serve(s.srv.Handler(), s.callout(t, alice, map[string]any{}, map[string]any{}).request(t)))
	if len(a.Roles) != 0 || len(a.AppMetadata) != 0 || a.UserMetadata["displayName"] != "user" {
		t.Errorf("answer for a user with no count = %s; want no role, the default name", a.Raw)
	}
}

// TestStackReadyzWarnsAboutEviction: /readyz stays 200 on an evicting Redis, and its body says
// why that is dangerous; it says nothing under noeviction or when CONFIG is refused.
func TestStackReadyzWarnsAboutEviction(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"noeviction", nil, "ok"},
		{"allkeys-lru", []string{"--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"}, "ok\nwarning: redis maxmemory-policy is \"allkeys-lru\""},
		{"CONFIG refused", []string{"--rename-command", "CONFIG", ""}, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStackArgs(t, nil, tt.args...)
			rec := serve(s.srv.Handler(), httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if got := rec.Body.String(); rec.Code != 200 || !strings.HasPrefix(got, tt.want) || (tt.want == "ok" && got != "ok") {
				t.Errorf("readyz = %d %q; want 200 %q...", rec.Code, got, tt.want)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("readyz X-Content-Type-Options = %q; want nosniff", got)
			}
		})
	}
}

// TestEvictionWarningTellsWhatEachPolicyEvicts: volatile-* policies evict only keys with a TTL
// (replay ids, leases), never play counts, which have none; the others may evict play counts.
func TestEvictionWarningTellsWhatEachPolicyEvicts(t *testing.T) {
	for policy, want := range map[string]string{
		"":             "",
		"noeviction":   "",
		"volatile-lru": "play counts have none",
		"allkeys-lru":  "play counts included",
	} {
		got := EvictionWarning(policy)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("EvictionWarning(%q) = %q; want it to say %q", policy, got, want)
		}
	}
}
