package mgmttest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Keys are generated once per process: RSA key generation costs tens of milliseconds.
var (
	sharedKey  = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })
	foreignKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })
)

// KeyID is the kid of the tenant's signing key, in the JWKS and in the header of minted tokens.
func (s *Server) KeyID() string { return s.kid }

// PublicKey is the tenant's RSA public key.
func (s *Server) PublicKey() *rsa.PublicKey { return &s.cfg.key.PublicKey }

// PublicKeyPEM is the tenant's public key as a PKIX "PUBLIC KEY" PEM block.
func (s *Server) PublicKeyPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(s.PublicKey())
	if err != nil {
		panic(fmt.Sprintf("mgmttest: marshal public key: %v", err)) // cannot happen for an RSA key
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// jwks answers GET /.well-known/jwks.json with the tenant's one signing key.
func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) {
	pub := s.PublicKey()
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
		"kty": "RSA",
		"use": "sig",
		"alg": "RS256",
		"kid": s.kid,
		"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// openIDConfiguration answers GET /.well-known/openid-configuration with the parts verifiers use.
func (s *Server) openIDConfiguration(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.Issuer(),
		"jwks_uri":                              s.JWKSURL(),
		"token_endpoint":                        s.URL() + "/oauth/token",
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

// MintOption changes how Mint signs, to produce tokens a verifier must reject.
type MintOption func(*mintConfig)

type mintConfig struct {
	method jwt.SigningMethod
	key    any
	kid    string
}

// WithForeignKey signs with an RSA key that is not the tenant's, under the tenant's kid: the
// signature does not verify.
func WithForeignKey() MintOption {
	return func(c *mintConfig) {
		key, err := foreignKey()
		if err != nil {
			panic(fmt.Sprintf("mgmttest: generate foreign key: %v", err))
		}
		c.key = key
	}
}

// WithKeyID puts kid in the token header instead of the tenant's (an unknown kid); "" leaves the
// kid header out.
func WithKeyID(kid string) MintOption { return func(c *mintConfig) { c.kid = kid } }

// WithHS256PublicKey signs with HS256 keyed with the bytes of PublicKeyPEM(): the
// algorithm-confusion attack that a verifier trusting the header's alg falls for.
func WithHS256PublicKey() MintOption {
	return func(c *mintConfig) { c.method, c.key = jwt.SigningMethodHS256, nil }
}

// WithAlgNone produces an unsigned token with "alg": "none".
func WithAlgNone() MintOption {
	return func(c *mintConfig) { c.method, c.key = jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType }
}

// Mint returns a compact JWT signed RS256 with the tenant's key and kid. iss defaults to Issuer(),
// iat to now and exp to an hour from now; a claim given as nil is left out (e.g. "exp": nil for a
// token without expiry). Options produce tokens that must fail verification. Mint panics if
// signing fails, which only a bad option can cause.
func (s *Server) Mint(claims map[string]any, opts ...MintOption) string {
	c := mintConfig{method: jwt.SigningMethodRS256, key: s.cfg.key, kid: s.kid}
	for _, o := range opts {
		o(&c)
	}
	if c.method == jwt.SigningMethodHS256 && c.key == nil {
		c.key = s.PublicKeyPEM()
	}
	now := time.Now()
	mc := jwt.MapClaims{"iss": s.Issuer(), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range claims {
		if v == nil {
			delete(mc, k)
			continue
		}
		mc[k] = v
	}
	tok := jwt.NewWithClaims(c.method, mc)
	if c.kid != "" {
		tok.Header["kid"] = c.kid
	}
	out, err := tok.SignedString(c.key)
	if err != nil {
		panic(fmt.Sprintf("mgmttest: sign token: %v", err))
	}
	return out
}

// issueAccessToken mints a Management API access token for the M2M client with the granted
// scope and remembers it.
func (s *Server) issueAccessToken(clientID, audience, scope string, now time.Time) (string, time.Time) {
	jti := randomHex(16)
	exp := now.Add(s.cfg.tokenTTL)
	tok := s.Mint(map[string]any{
		"sub":   clientID + "@clients",
		"aud":   audience,
		"azp":   clientID,
		"gty":   "client-credentials",
		"scope": scope,
		"jti":   jti,
		"iat":   now.Unix(),
		"exp":   exp.Unix(),
	})
	s.mu.Lock()
	for id, e := range s.issued {
		if e.Before(now) {
			delete(s.issued, id)
		}
	}
	s.issued[jti] = exp
	s.mu.Unlock()
	return tok, exp
}

// RevokeTokens makes every access token issued so far invalid: the API answers 401 to them, as
// Auth0 does after a key rotation or a client secret change. Clients that cache a token keep
// sending it until it expires.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.issued)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randomUUID returns a random (version 4) UUID, the shape of Auth0's action and binding ids.
func randomUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
