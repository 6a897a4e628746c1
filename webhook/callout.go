package webhook

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxJTIBytes bounds a callout token's jti (it becomes part of a Redis key).
const MaxJTIBytes = 256

// bshLen is the length of an unpadded base64url SHA-256.
var bshLen = base64.RawURLEncoding.EncodedLen(sha256.Size)

// calloutClaims are the claims of a callout token. Validate adds the contract's rules that the
// parser options do not cover.
type calloutClaims struct {
	jwt.RegisteredClaims
	// BSH is base64url(SHA-256(body)), unpadded.
	BSH string `json:"bsh"`
}

var (
	errNoIAT       = errors.New("iat is required")
	errLifetime    = errors.New("exp is more than 300 s after iat")
	errNoJTI       = errors.New("jti is required and at most 256 bytes")
	errNoSubject   = errors.New("sub is required")
	errNoBSH       = errors.New("bsh is required")
	errBodyHash    = errors.New("bsh does not match the body")
	errWrongMethod = errors.New("unexpected signing method")
)

// Validate implements jwt.ClaimsValidator; the parser calls it after the standard checks.
func (c *calloutClaims) Validate() error {
	switch {
	case c.IssuedAt == nil:
		return errNoIAT
	case c.ExpiresAt != nil && c.ExpiresAt.Sub(c.IssuedAt.Time) > MaxCalloutLifetime:
		return errLifetime
	case c.ID == "" || len(c.ID) > MaxJTIBytes:
		return errNoJTI
	case c.Subject == "":
		return errNoSubject
	case c.BSH == "":
		return errNoBSH
	}
	return nil
}

// calloutVerifier checks callout tokens: HS256 only, the current or previous secret, iss, aud,
// exp required and at most MaxCalloutLifetime after iat, ClockLeeway, jti, and the body hash.
type calloutVerifier struct {
	parser *jwt.Parser
	key    any // []byte, or a jwt.VerificationKeySet of the current and previous secrets
}

func newCalloutVerifier(cfg Config) calloutVerifier {
	return calloutVerifier{
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithAudience(cfg.CalloutAudience),
			jwt.WithIssuer(cfg.CalloutIssuer),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(ClockLeeway),
			jwt.WithTimeFunc(cfg.Now),
		),
		key: keyOf(cfg.CalloutSecrets),
	}
}

func (v calloutVerifier) keyfunc(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodHS256 {
		return nil, errWrongMethod
	}
	return v.key, nil
}

// verify returns the claims of authz's token when it is a valid callout token for body. On
// failure it returns a 401 *apiError and the metrics reason.
func (v calloutVerifier) verify(authz string, body []byte) (*calloutClaims, string, error) {
	raw, ok := bearerToken(authz)
	if !ok {
		return nil, reasonNoToken, tokenError("a callout token is required", nil, true)
	}
	claims := new(calloutClaims)
	if _, err := v.parser.ParseWithClaims(raw, claims, v.keyfunc); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, reasonExpired, tokenError("the callout token has expired", err, false)
		}
		return nil, reasonBadToken, tokenError("the callout token is not valid", err, false)
	}
	if !bodyHashMatches(claims.BSH, body) {
		return nil, reasonBodyHash, tokenError("the callout token does not match the body", errBodyHash, false)
	}
	return claims, "", nil
}

// jtiTTL is how long a jti must be remembered: until the token can no longer pass verification.
func (c *calloutClaims) jtiTTL(now time.Time) time.Duration {
	ttl := c.ExpiresAt.Add(ClockLeeway).Sub(now)
	return max(ttl, time.Second)
}

func bodyHashMatches(bsh string, body []byte) bool {
	if len(bsh) != bshLen {
		return false
	}
	sum := sha256.Sum256(body)
	var want [43]byte
	base64.RawURLEncoding.Encode(want[:], sum[:])
	return subtle.ConstantTimeCompare(want[:], []byte(bsh)) == 1
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header.
func bearerToken(authz string) (string, bool) {
	const prefix = "bearer "
	if len(authz) <= len(prefix) || !strings.EqualFold(authz[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(authz[len(prefix):])
	return tok, tok != ""
}
