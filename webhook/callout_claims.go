package webhook

import (
	"bytes"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rulehook/rulehook/metadata"
)

// fastClaims reads a callout token's claims without reflection, for the fast path
// (callout_fast.go). Strings are kept as spans of the claims JSON until the token is known good,
// so that a rejected token allocates nothing. parseFastClaims gives up (ok false) on any shape
// that golang-jwt might read differently, so that it decides those tokens instead.
type fastClaims struct {
	str    [nStringClaims]span
	aud    [4]span
	nAud   int
	times  [nTimeClaims]int64
	hasAny uint16 // bit i: claim i was present
}

type span struct{ start, end int }

// The claims the fast path reads, in the order of claimNames.
const (
	claimIss = iota
	claimSub
	claimJTI
	claimBSH
	nStringClaims
)

const (
	claimExp = nStringClaims + iota
	claimIAT
	claimNBF
	claimAud
)

const nTimeClaims = 3

var claimNames = [...]string{"iss", "sub", "jti", "bsh", "exp", "iat", "nbf", "aud"}

// parseFastClaims reads js, a JSON value validJSON accepted.
func parseFastClaims(js []byte) (fc fastClaims, ok bool) {
	ok = members(js, func(key, val []byte) bool {
		name, plain := plainString(key)
		if !plain || !isASCII(name) {
			return false // escaped or non-ASCII keys may fold onto a claim in encoding/json
		}
		i := claimIndex(name)
		if i < 0 {
			return !foldsToClaim(name)
		}
		if fc.hasAny&(1<<i) != 0 {
			return false // a duplicate: leave golang-jwt's last-one-wins to golang-jwt
		}
		fc.hasAny |= 1 << i
		return fc.set(i, js, val)
	})
	return fc, ok
}

// set records claim i, whose raw value val is a sub-slice of js.
func (fc *fastClaims) set(i int, js, val []byte) bool {
	switch {
	case i < nStringClaims:
		sp, ok := stringSpan(js, val)
		fc.str[i] = sp
		return ok
	case i == claimAud && len(val) > 0 && val[0] == '"':
		sp, ok := stringSpan(js, val)
		fc.aud[0], fc.nAud = sp, 1
		return ok
	case i == claimAud:
		return elements(val, func(v []byte) bool {
			if fc.nAud == len(fc.aud) {
				return false
			}
			sp, ok := stringSpan(js, v)
			fc.aud[fc.nAud] = sp
			fc.nAud++
			return ok
		})
	}
	n, ok := seconds(val)
	fc.times[i-nStringClaims] = n
	return ok
}

func (fc *fastClaims) has(i int) bool { return fc.hasAny&(1<<i) != 0 }

func (fc *fastClaims) bytes(js []byte, i int) []byte { return js[fc.str[i].start:fc.str[i].end] }

// stringSpan locates the text of the plain JSON string val inside js. val is a sub-slice of js
// (members and elements only re-slice), so its offset is the difference of their capacities.
func stringSpan(js, val []byte) (span, bool) {
	in, ok := plainString(val)
	if !ok {
		return span{}, false
	}
	start := cap(js) - cap(val) + 1 // past the opening quote
	return span{start, start + len(in)}, true
}

// seconds parses a NumericDate written as a plain non-negative integer of at most 15 digits
// (exact as a float64, as golang-jwt reads it).
func seconds(val []byte) (int64, bool) {
	if len(val) == 0 || len(val) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range val {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func claimIndex(name []byte) int {
	for i, c := range claimNames {
		if string(name) == c {
			return i
		}
	}
	return -1
}

func foldsToClaim(name []byte) bool {
	for _, c := range claimNames {
		if bytes.EqualFold(name, []byte(c)) {
			return true
		}
	}
	return false
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// validateFast applies golang-jwt's Validator with the parser's options, then
// jwtCalloutClaims.Validate, with the same errors.Is classes.
func (v calloutVerifier) validateFast(fc *fastClaims, js []byte) error {
	now := v.now()
	at := func(i int) time.Time { return unixTime(fc.times[i-nStringClaims]) }
	if fc.has(claimExp) && !now.Before(at(claimExp).Add(ClockLeeway)) {
		return jwt.ErrTokenExpired
	}
	switch {
	case !fc.has(claimExp):
		return fmt.Errorf("%w: exp", jwt.ErrTokenRequiredClaimMissing)
	case fc.has(claimNBF) && now.Before(at(claimNBF).Add(-ClockLeeway)):
		return jwt.ErrTokenNotValidYet
	case fc.has(claimIAT) && now.Before(at(claimIAT).Add(-ClockLeeway)):
		return jwt.ErrTokenUsedBeforeIssued
	case !fc.audienceIs(js, v.audience):
		return jwt.ErrTokenInvalidAudience
	case string(fc.bytes(js, claimIss)) != v.issuer:
		return jwt.ErrTokenInvalidIssuer
	case !fc.has(claimIAT):
		return errNoIAT
	case at(claimExp).Sub(at(claimIAT)) > MaxCalloutLifetime:
		return errLifetime
	}
	switch jti := fc.str[claimJTI]; {
	case jti.end == jti.start || jti.end-jti.start > metadata.MaxJTIBytes:
		return errNoJTI
	case len(fc.bytes(js, claimSub)) == 0:
		return errNoSubject
	case len(fc.bytes(js, claimBSH)) == 0:
		return errNoBSH
	}
	return nil
}

// audienceIs reports whether one of the token's audiences is want (which is never empty).
func (fc *fastClaims) audienceIs(js []byte, want string) bool {
	for _, sp := range fc.aud[:fc.nAud] {
		if string(js[sp.start:sp.end]) == want {
			return true
		}
	}
	return false
}

// claims builds the verified claims, with one allocation for all their strings.
func (fc *fastClaims) claims(js []byte, audience []string) calloutClaims {
	s := string(js)
	sub := func(sp span) string { return s[sp.start:sp.end] }
	c := calloutClaims{
		Issuer: sub(fc.str[claimIss]), Subject: sub(fc.str[claimSub]),
		ID: sub(fc.str[claimJTI]), BSH: sub(fc.str[claimBSH]),
		ExpiresAt: fc.times[0], IssuedAt: fc.times[1], NotBefore: fc.times[2],
		HasExp: fc.has(claimExp), HasIAT: fc.has(claimIAT), HasNBF: fc.has(claimNBF),
	}
	switch {
	case fc.nAud == 1 && string(js[fc.aud[0].start:fc.aud[0].end]) == audience[0]:
		c.Audience = audience // shared, never modified: the usual single audience costs nothing
	case fc.nAud > 0:
		c.Audience = make([]string, fc.nAud)
		for i, sp := range fc.aud[:fc.nAud] {
			c.Audience[i] = sub(sp)
		}
	}
	return c
}

func unixTime(sec int64) time.Time { return time.Unix(sec, 0) }
