package bench

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestBodiesAreNoChangeEvents(t *testing.T) {
	users, err := buildUsers(3)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range users {
		if got, want := u.sub, UserID(i); got != want {
			t.Errorf("users[%d].sub = %q; want %q", i, got, want)
		}
		if !bytes.Contains(u.body, []byte(`"app_metadata":{"roles":[]}`)) {
			t.Errorf("users[%d] body has no empty roles list: %s", i, u.body)
		}
		var ev event
		if err := json.Unmarshal(u.body, &ev); err != nil {
			t.Fatalf("users[%d] body: %v", i, err)
		}
		if ev.User.UserID != u.sub || ev.User.UserMetadata.DisplayName == "" || ev.Transaction.ID == "" {
			t.Errorf("users[%d] event = %+v; want user_id %q, a displayName and a transaction id", i, ev, u.sub)
		}
		sum := sha256.Sum256(u.body)
		if got, want := u.bsh, base64.RawURLEncoding.EncodeToString(sum[:]); got != want {
			t.Errorf("users[%d].bsh = %q; want %q", i, got, want)
		}
	}
	if got, want := UserID(42), "bench|000042"; got != want {
		t.Errorf("UserID(42) = %q; want %q", got, want)
	}
}

func TestSignedTokenHasContractClaims(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	users, _ := buildUsers(1)
	sg, err := newSigner(key, "https://tenant.example/", "https://rulehook.example", users)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	sg.now = func() time.Time { return now }
	tok, err := sg.sign(0)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	want := map[string]any{
		"iss": "https://tenant.example/", "aud": "https://rulehook.example", "sub": "bench|000000",
		"iat": float64(now.Unix()), "exp": float64(now.Unix() + 60), "bsh": users[0].bsh,
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v; want %v", k, claims[k], v)
		}
	}
	tok2, _ := sg.sign(0)
	c2 := jwt.MapClaims{}
	jwt.ParseWithClaims(tok2, c2, func(*jwt.Token) (any, error) { return key, nil }, jwt.WithTimeFunc(func() time.Time { return now }))
	if claims["jti"] == "" || claims["jti"] == c2["jti"] {
		t.Errorf("jti = %v then %v; want two distinct non-empty ids", claims["jti"], c2["jti"])
	}
}

// BenchmarkSign measures what signing costs the client per request; BenchmarkSignWithClaims is
// the straightforward jwt.NewWithClaims path it replaces, for comparison.
func BenchmarkSign(b *testing.B) {
	users, _ := buildUsers(100)
	sg, _ := newSigner([]byte(strings.Repeat("k", 32)), "https://tenant.example/", "https://rulehook.example", users)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := sg.sign(i % len(users)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkSignWithClaims(b *testing.B) {
	users, _ := buildUsers(100)
	key := []byte(strings.Repeat("k", 32))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		u := users[i%len(users)]
		now := time.Now()
		c := jwt.MapClaims{"iss": "https://tenant.example/", "aud": "https://rulehook.example", "sub": u.sub,
			"iat": now.Unix(), "exp": now.Unix() + 60, "jti": strconv.Itoa(i), "bsh": u.bsh}
		if _, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
