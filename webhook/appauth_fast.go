package webhook

import (
	"fmt"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rulehook/rulehook/metadata"
)

// The fast path for the seed's legacy HS256 app tokens, and why: GET /playlists/getPlays is the
// app's hottest route, and its token is checked on every request. A token with the common
// header {"alg":"HS256","typ":"JWT"} is checked as the callout's fast path checks its tokens
// (callout_fast.go: the header compared, a pooled HMAC, claims read without reflection), with
// the legacy parser's rules: HS256, aud, exp required, iss only when configured, nbf, 30 s
// leeway, a valid user id in sub. Anything else goes to golang-jwt, and FuzzLegacyFastPath holds
// both to the same verdicts. RS256 tokens always go to golang-jwt.

// verifyLegacyFast returns the caller of raw when it is decided here.
func (v appVerifier) verifyLegacyFast(raw string) (string, fastVerdict, error) {
	if v.legacyFast == nil {
		return "", fastUnsure, nil
	}
	sc := v.legacyFast.pool.Get().(*fastScratch)
	defer v.legacyFast.pool.Put(sc)
	js, verdict, err := sc.open(raw)
	if verdict == fastUnsure || err != nil {
		return "", verdict, err
	}
	fc, ok := parseFastClaims(js)
	if !ok {
		return "", fastUnsure, nil
	}
	return v.validateLegacyFast(&fc, js)
}

// validateLegacyFast applies golang-jwt's Validator with the legacy parser's options, then
// appClaims.Validate.
func (v appVerifier) validateLegacyFast(fc *fastClaims, js []byte) (string, fastVerdict, error) {
	now := v.now()
	at := func(i int) int64 { return fc.times[i-nStringClaims] }
	switch {
	case fc.has(claimExp) && !now.Before(unixTime(at(claimExp)).Add(ClockLeeway)):
		return "", fastDecided, jwt.ErrTokenExpired
	case !fc.has(claimExp):
		return "", fastDecided, fmt.Errorf("%w: exp", jwt.ErrTokenRequiredClaimMissing)
	case fc.has(claimNBF) && now.Before(unixTime(at(claimNBF)).Add(-ClockLeeway)):
		return "", fastDecided, jwt.ErrTokenNotValidYet
	case !fc.audienceIs(js, v.legacyAudience):
		return "", fastDecided, jwt.ErrTokenInvalidAudience
	case v.legacyIssuer != "" && string(fc.bytes(js, claimIss)) != v.legacyIssuer:
		return "", fastDecided, jwt.ErrTokenInvalidIssuer
	}
	sub := string(fc.bytes(js, claimSub))
	if err := metadata.ValidateUserID(sub); err != nil {
		return "", fastDecided, err
	}
	return sub, fastDecided, nil
}
