package bench

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenLifetime is exp-iat of every callout token (the contract allows at most 300 s).
const tokenLifetime = 60 * time.Second

// UserID returns the user_id of bench user i (0 <= i < Users), e.g. "bench|000042".
func UserID(i int) string { return fmt.Sprintf("bench|%06d", i) }

// benchUser is one user's pre-built callout: the exact body bytes and their hash.
type benchUser struct {
	sub  string
	body []byte
	bsh  string
}

// event is the subset of the Auth0 post-login event that the Action sends (CONTRACT.md).
type event struct {
	User struct {
		UserID      string `json:"user_id"`
		Email       string `json:"email"`
		AppMetadata struct {
			Roles []string `json:"roles"`
		} `json:"app_metadata"`
		UserMetadata struct {
			DisplayName string `json:"displayName"`
		} `json:"user_metadata"`
	} `json:"user"`
	Transaction struct {
		ID string `json:"id"`
	} `json:"transaction"`
	Client struct {
		ClientID string `json:"client_id"`
		Name     string `json:"name"`
	} `json:"client"`
	Request struct {
		IP        string `json:"ip"`
		UserAgent string `json:"user_agent"`
	} `json:"request"`
}

// buildUsers pre-builds n callout bodies: roles [] and a displayName set, so that with no plays
// recorded the login changes nothing.
func buildUsers(n int) ([]benchUser, error) {
	users := make([]benchUser, n)
	for i := range users {
		var ev event
		ev.User.UserID = UserID(i)
		ev.User.Email = fmt.Sprintf("bench-%06d@bench.invalid", i)
		ev.User.AppMetadata.Roles = []string{}
		ev.User.UserMetadata.DisplayName = fmt.Sprintf("bench user %d", i)
		ev.Transaction.ID = fmt.Sprintf("bench-tx-%06d", i)
		ev.Client.ClientID = "rulehook-bench"
		ev.Client.Name = "rulehook bench"
		ev.Request.IP = "127.0.0.1"
		ev.Request.UserAgent = "rulehook-bench"
		body, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("bench: build body: %w", err)
		}
		sum := sha256.Sum256(body)
		users[i] = benchUser{sub: ev.User.UserID, body: body, bsh: base64.RawURLEncoding.EncodeToString(sum[:])}
	}
	return users, nil
}

// jwtHeader is the encoded header of every callout token: {"alg":"HS256","typ":"JWT"}.
var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// signer mints one callout token per call. The claims that do not change per request (iss, aud,
// sub, bsh) are encoded once per user; iat, exp and jti are appended per token, and golang-jwt's
// HS256 signs the result. jti is a per-run random prefix plus a counter, so it is unique within
// the run and across runs against the same server.
type signer struct {
	key      []byte
	users    []benchUser
	fixed    [][]byte // per user: `{"iss":…,"aud":…,"sub":…,"bsh":…,"iat":`
	jtiStart string
	seq      atomic.Uint64
	now      func() time.Time
}

func newSigner(key []byte, iss, aud string, users []benchUser) (*signer, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("bench: jti prefix: %w", err)
	}
	s := &signer{key: key, users: users, fixed: make([][]byte, len(users)),
		jtiStart: hex.EncodeToString(b[:]) + "-", now: time.Now}
	for i, u := range users {
		fixed, err := json.Marshal(struct {
			Iss string `json:"iss"`
			Aud string `json:"aud"`
			Sub string `json:"sub"`
			Bsh string `json:"bsh"`
		}{iss, aud, u.sub, u.bsh})
		if err != nil {
			return nil, fmt.Errorf("bench: encode claims: %w", err)
		}
		s.fixed[i] = append(fixed[:len(fixed)-1], `,"iat":`...)
	}
	return s, nil
}

// sign returns a compact HS256 token for user i.
func (s *signer) sign(i int) (string, error) {
	iat := s.now().Unix()
	claims := make([]byte, 0, 256)
	claims = append(claims, s.fixed[i]...)
	claims = strconv.AppendInt(claims, iat, 10)
	claims = append(claims, `,"exp":`...)
	claims = strconv.AppendInt(claims, iat+int64(tokenLifetime/time.Second), 10)
	claims = append(claims, `,"jti":"`...)
	claims = append(claims, s.jtiStart...)
	claims = strconv.AppendUint(claims, s.seq.Add(1), 36)
	claims = append(claims, `"}`...)

	enc := base64.RawURLEncoding
	tok := make([]byte, 0, len(jwtHeader)+2+enc.EncodedLen(len(claims))+enc.EncodedLen(sha256.Size))
	tok = append(tok, jwtHeader...)
	tok = append(tok, '.')
	tok = enc.AppendEncode(tok, claims)
	sig, err := jwt.SigningMethodHS256.Sign(string(tok), s.key)
	if err != nil {
		return "", fmt.Errorf("bench: sign: %w", err)
	}
	tok = append(tok, '.')
	tok = enc.AppendEncode(tok, sig)
	return string(tok), nil
}
