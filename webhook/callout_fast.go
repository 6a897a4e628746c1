package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
	"sync"

	"github.com/golang-jwt/jwt/v5"
)

// The fast path of callout verification, and why it exists: every login and every refresh is a
// callout, and golang-jwt's generic parsing (the header decoded into a map, a fresh hmac.New per
// call, claims through reflection) was the largest share of the edge's own CPU. Every callout
// token comes from the Action (actions/post-login.js), whose header is always
// {"alg":"HS256","typ":"JWT"}. So this path compares the header segment with those exact bytes,
// checks the signature with a pooled HMAC per key, and reads the claims with fastClaims (exact
// keys, no reflection). It decides only tokens it fully understands; anything else (another
// header, an escaped or case-folded key, a fractional time, a duplicate claim, ...) goes to
// golang-jwt (verifyGeneric). FuzzCalloutFastPath holds both paths to the same verdicts and claims.

// actionHeader is base64url({"alg":"HS256","typ":"JWT"}), the header the Action signs.
const actionHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// maxFastToken bounds the tokens the fast path handles; longer ones go to golang-jwt.
const maxFastToken = 2048

type fastVerdict int

const (
	fastUnsure  fastVerdict = iota // not decided here: golang-jwt decides
	fastDecided                    // the claims or the error are final
)

// fastVerifier holds the pooled per-key HMACs and scratch buffers.
type fastVerifier struct{ pool sync.Pool }

type fastScratch struct {
	macs   []hash.Hash // one per key, current first
	token  []byte
	claims []byte
	sig    [64]byte
	sum    [sha256.Size]byte
}

func newFastVerifier(keys [][]byte) *fastVerifier {
	f := &fastVerifier{}
	f.pool.New = func() any {
		sc := &fastScratch{token: make([]byte, 0, maxFastToken), claims: make([]byte, 0, maxFastToken)}
		for _, k := range keys {
			sc.macs = append(sc.macs, hmac.New(sha256.New, k))
		}
		return sc
	}
	return f
}

// signed reports whether sig is the HMAC-SHA256 of input under one of the keys.
func (sc *fastScratch) signed(input, sig []byte) bool {
	for _, mac := range sc.macs {
		mac.Reset()
		mac.Write(input)
		if hmac.Equal(mac.Sum(sc.sum[:0]), sig) {
			return true
		}
	}
	return false
}

// verifyFast decides raw when it is a token of the Action's shape; see the comment above.
func (v calloutVerifier) verifyFast(raw string) (calloutClaims, fastVerdict, error) {
	sc := v.fast.pool.Get().(*fastScratch)
	defer v.fast.pool.Put(sc)
	js, verdict, err := sc.open(raw)
	if verdict == fastUnsure || err != nil {
		return calloutClaims{}, verdict, err
	}
	fc, ok := parseFastClaims(js)
	if !ok {
		return calloutClaims{}, fastUnsure, nil
	}
	if err := v.validateFast(&fc, js); err != nil {
		return calloutClaims{}, fastDecided, err
	}
	return fc.claims(js, v.audiences), fastDecided, nil
}

// open checks that raw has the Action's header and a signature by one of the keys, and decodes
// its claims into sc (valid JSON). Any other shape is fastUnsure; a bad signature or claims
// that are not base64url JSON are decided (golang-jwt refuses them too).
func (sc *fastScratch) open(raw string) ([]byte, fastVerdict, error) {
	if len(raw) > maxFastToken || !strings.HasPrefix(raw, actionHeader+".") {
		return nil, fastUnsure, nil
	}
	rest := raw[len(actionHeader)+1:]
	dot := strings.IndexByte(rest, '.')
	if dot < 0 || strings.IndexByte(rest[dot+1:], '.') >= 0 {
		return nil, fastUnsure, nil
	}
	sc.token = append(sc.token[:0], raw...)
	signed := sc.token[:len(actionHeader)+1+dot]
	claimsSeg, sigSeg := signed[len(actionHeader)+1:], sc.token[len(signed)+1:]
	if base64.RawURLEncoding.DecodedLen(len(sigSeg)) > len(sc.sig) {
		return nil, fastUnsure, nil
	}
	n, err := base64.RawURLEncoding.Decode(sc.sig[:], sigSeg)
	if err != nil || !sc.signed(signed, sc.sig[:n]) {
		return nil, fastDecided, jwt.ErrTokenSignatureInvalid
	}
	sc.claims = sc.claims[:base64.RawURLEncoding.DecodedLen(len(claimsSeg))]
	n, err = base64.RawURLEncoding.Decode(sc.claims, claimsSeg)
	if err != nil || !validJSON(sc.claims[:n]) {
		return nil, fastDecided, fmt.Errorf("%w: claims are not base64url JSON", jwt.ErrTokenMalformed)
	}
	return sc.claims[:n], fastDecided, nil
}
