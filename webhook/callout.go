package webhook

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rulehook/rulehook/metadata"
)

// bshLen is the length of an unpadded base64url SHA-256.
var bshLen = base64.RawURLEncoding.EncodedLen(sha256.Size)

// calloutClaims are the claims of a verified callout token, as one flat value whichever path
// verified it (the fast path of callout_fast.go, or golang-jwt). Times are Unix seconds.
type calloutClaims struct {
	Issuer, Subject, ID string
	// BSH is base64url(SHA-256(body)), unpadded.
	BSH                            string
	Audience                       []string
	ExpiresAt, IssuedAt, NotBefore int64
	HasExp, HasIAT, HasNBF         bool
}

// jwtCalloutClaims are the claims golang-jwt decodes on the generic path. Validate adds the
// contract's rules that the parser options do not cover.
type jwtCalloutClaims struct {
	jwt.RegisteredClaims
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
	errCrit        = errors.New("crit header parameters are not supported (RFC 7515 4.1.11)")
)

// Validate implements jwt.ClaimsValidator; the parser calls it after the standard checks.
func (c *jwtCalloutClaims) Validate() error {
	switch {
	case c.IssuedAt == nil:
		return errNoIAT
	case c.ExpiresAt != nil && c.ExpiresAt.Sub(c.IssuedAt.Time) > MaxCalloutLifetime:
		return errLifetime
	}
	return validateCalloutIDs(c.ID, c.Subject, c.BSH)
}

// validateCalloutIDs checks the claims both paths require beyond the registered ones.
func validateCalloutIDs(jti, sub, bsh string) error {
	switch {
	case jti == "" || len(jti) > metadata.MaxJTIBytes:
		return errNoJTI
	case sub == "":
		return errNoSubject
	case bsh == "":
		return errNoBSH
	}
	return nil
}

// flat converts golang-jwt's claims into calloutClaims.
func (c *jwtCalloutClaims) flat() calloutClaims {
	out := calloutClaims{Issuer: c.Issuer, Subject: c.Subject, ID: c.ID, BSH: c.BSH, Audience: c.Audience}
	if c.ExpiresAt != nil {
		out.ExpiresAt, out.HasExp = c.ExpiresAt.Unix(), true
	}
	if c.IssuedAt != nil {
		out.IssuedAt, out.HasIAT = c.IssuedAt.Unix(), true
	}
	if c.NotBefore != nil {
		out.NotBefore, out.HasNBF = c.NotBefore.Unix(), true
	}
	return out
}

// calloutVerifier checks callout tokens: HS256 only, the current or previous secret, iss, aud,
// exp required and at most MaxCalloutLifetime after iat, ClockLeeway, jti, no crit header. The
// body hash is checked separately (bodyHashMatches), after the body is read.
type calloutVerifier struct {
	parser    *jwt.Parser
	key       any // []byte, or a jwt.VerificationKeySet of the current and previous secrets
	fast      *fastVerifier
	audience  string
	audiences []string // {audience}, shared by the claims of every token that names only it
	issuer    string
	now       func() time.Time
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
		key:       keyOf(cfg.CalloutSecrets),
		fast:      newFastVerifier(cfg.CalloutSecrets),
		audience:  cfg.CalloutAudience,
		audiences: []string{cfg.CalloutAudience},
		issuer:    cfg.CalloutIssuer,
		now:       cfg.Now,
	}
}

func (v calloutVerifier) keyfunc(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodHS256 {
		return nil, errWrongMethod
	}
	if _, ok := t.Header["crit"]; ok {
		return nil, errCrit
	}
	return v.key, nil
}

// verify returns the claims of authz's token when it is a valid callout token. On failure it
// returns a 401 *apiError and the metrics reason. It does not look at the body: the caller
// checks the claims' bsh once it has read it.
func (v calloutVerifier) verify(authz string) (calloutClaims, string, error) {
	raw, ok := bearerToken(authz)
	if !ok {
		return calloutClaims{}, reasonNoToken, tokenError("a callout token is required", nil, true)
	}
	claims, verdict, err := v.verifyFast(raw)
	if verdict == fastUnsure {
		claims, err = v.verifyGeneric(raw)
	}
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return calloutClaims{}, reasonExpired, tokenError("the callout token has expired", err, false)
		}
		return calloutClaims{}, reasonBadToken, tokenError("the callout token is not valid", err, false)
	}
	return claims, "", nil
}

// verifyGeneric verifies raw with golang-jwt and the parser's explicit options.
func (v calloutVerifier) verifyGeneric(raw string) (calloutClaims, error) {
	claims := new(jwtCalloutClaims)
	if _, err := v.parser.ParseWithClaims(raw, claims, v.keyfunc); err != nil {
		return calloutClaims{}, err
	}
	return claims.flat(), nil
}

// jtiTTL is how long a jti must be remembered: until the token can no longer pass verification.
func (c *calloutClaims) jtiTTL(now time.Time) time.Duration {
	ttl := time.Unix(c.ExpiresAt, 0).Add(ClockLeeway).Sub(now)
	return max(ttl, time.Second)
}

func bodyHashMatches(bsh string, body []byte) bool {
	if len(bsh) != bshLen {
		return false
	}
	sum := sha256.Sum256(body)
	var want [43]byte
	base64.RawURLEncoding.Encode(want[:], sum[:])
	var got [43]byte
	copy(got[:], bsh)
	return subtle.ConstantTimeCompare(want[:], got[:]) == 1
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
