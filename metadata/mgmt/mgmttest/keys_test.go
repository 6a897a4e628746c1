package mgmttest_test

import (
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

// fetchJWKS reads the tenant's JWKS over HTTP and parses its RSA keys by kid, by hand.
func fetchJWKS(t *testing.T, s *mgmttest.Server) map[string]*rsa.PublicKey {
	t.Helper()
	resp := do(t, "GET", s.JWKSURL(), nil, "")
	if resp.Status != 200 {
		t.Fatalf("GET jwks = %d", resp.Status)
	}
	keys := map[string]*rsa.PublicKey{}
	list, _ := resp.Body["keys"].([]any)
	for _, k := range list {
		jwk, _ := k.(map[string]any)
		if jwk["kty"] != "RSA" || jwk["alg"] != "RS256" || jwk["use"] != "sig" {
			t.Fatalf("jwk = %v; want an RS256 signing key", jwk)
		}
		n, err1 := base64.RawURLEncoding.DecodeString(jwk["n"].(string))
		e, err2 := base64.RawURLEncoding.DecodeString(jwk["e"].(string))
		if err1 != nil || err2 != nil {
			t.Fatalf("jwk n/e are not base64url: %v %v", err1, err2)
		}
		keys[jwk["kid"].(string)] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	return keys
}

// verify checks a token the way an RS256 verifier with a JWKS should.
func verify(keys map[string]*rsa.PublicKey, issuer, token string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("unknown kid %q", kid)
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(issuer), jwt.WithExpirationRequired(),
		jwt.WithAudience("https://api.example.com/"))
	return claims, err
}

func TestMintVerifiesAgainstJWKS(t *testing.T) {
	s := newServer(t)
	keys := fetchJWKS(t, s)
	if _, ok := keys[s.KeyID()]; !ok || len(keys) != 1 {
		t.Fatalf("JWKS kids = %v; want exactly %q", keys, s.KeyID())
	}
	if !keys[s.KeyID()].Equal(s.PublicKey()) {
		t.Fatalf("JWKS key differs from PublicKey()")
	}
	tok := s.Mint(map[string]any{"sub": "auth0|1", "aud": "https://api.example.com/", "scope": "read:plays"})
	claims, err := verify(keys, s.Issuer(), tok)
	if err != nil {
		t.Fatalf("verify(Mint) = %v; want a valid token", err)
	}
	if claims["sub"] != "auth0|1" || claims["iss"] != "https://rulehook-dev.local/" || claims["scope"] != "read:plays" {
		t.Errorf("claims = %v; want sub, the default issuer and the scope", claims)
	}
}

func TestMintNegativeTokensFailVerification(t *testing.T) {
	s := newServer(t)
	keys := fetchJWKS(t, s)
	aud := "https://api.example.com/"
	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{"foreign key under the tenant kid", s.Mint(map[string]any{"aud": aud}, mgmttest.WithForeignKey()), jwt.ErrTokenSignatureInvalid},
		{"unknown kid", s.Mint(map[string]any{"aud": aud}, mgmttest.WithKeyID("other-kid")), jwt.ErrTokenUnverifiable},
		{"no kid", s.Mint(map[string]any{"aud": aud}, mgmttest.WithKeyID("")), jwt.ErrTokenUnverifiable},
		{"HS256 keyed with the public key", s.Mint(map[string]any{"aud": aud}, mgmttest.WithHS256PublicKey()), jwt.ErrTokenSignatureInvalid},
		{"alg none", s.Mint(map[string]any{"aud": aud}, mgmttest.WithAlgNone()), jwt.ErrTokenSignatureInvalid},
		{"no exp", s.Mint(map[string]any{"aud": aud, "exp": nil}), jwt.ErrTokenRequiredClaimMissing},
		{"expired", s.Mint(map[string]any{"aud": aud, "exp": 1000}), jwt.ErrTokenExpired},
		{"other issuer", s.Mint(map[string]any{"aud": aud, "iss": "https://evil.example/"}), jwt.ErrTokenInvalidIssuer},
		{"other audience", s.Mint(map[string]any{"aud": "https://other/"}), jwt.ErrTokenInvalidAudience},
	}
	for _, tc := range tests {
		if _, err := verify(keys, s.Issuer(), tc.token); !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: verify = %v; want %v", tc.name, err, tc.wantErr)
		}
	}
}

// TestHS256PublicKeyTokenIsTheConfusionAttack checks the helper builds the real attack: a
// verifier that lets the header pick HS256 and feeds it the PEM it trusts accepts the token.
func TestHS256PublicKeyTokenIsTheConfusionAttack(t *testing.T) {
	s := newServer(t)
	tok := s.Mint(map[string]any{"sub": "auth0|1"}, mgmttest.WithHS256PublicKey())
	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return s.PublicKeyPEM(), nil })
	if err != nil || parsed.Method.Alg() != "HS256" {
		t.Errorf("naive HS256 verification = %v; want the forged token accepted", err)
	}
}

func TestServersHaveDistinctKeyIDs(t *testing.T) {
	a, b := newServer(t), newServer(t)
	if a.KeyID() == b.KeyID() {
		t.Fatalf("two servers share the kid %q", a.KeyID())
	}
	if _, err := verify(fetchJWKS(t, b), a.Issuer(), a.Mint(map[string]any{"aud": "https://api.example.com/"})); err == nil {
		t.Errorf("a token of one tenant verified against another tenant's JWKS")
	}
}
