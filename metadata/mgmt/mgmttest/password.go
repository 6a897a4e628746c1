package mgmttest

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"
)

// WithAPI registers an API (an Auth0 resource server) with this audience, for which the tenant
// issues users' access tokens through the password grant: what `rulehook dev` uses so that its
// app API can be tried with a real RS256 token.
func WithAPI(audience string) Option { return func(c *config) { c.api = audience } }

// userTokenTTL is the lifetime of a user's access token: Auth0's default for an API (86400 s).
const userTokenTTL = 24 * time.Hour

// passwordGrant answers POST /oauth/token with grant_type=password, as Auth0's Resource Owner
// Password flow does (https://auth0.com/docs/get-started/authentication-and-authorization-flow/
// resource-owner-password-flow/call-your-api-using-resource-owner-password-flow): the client
// authenticates, username is the email of a database user, password the one given when the user
// was created, and audience the registered API. A wrong username or password is 403
// invalid_grant "Wrong email or password."; an unknown audience 403 access_denied. The token
// carries sub (the user_id), aud, azp, scope and gty "password".
func (s *Server) passwordGrant(w http.ResponseWriter, id, secret string, p map[string]string) {
	if _, ok := s.validClient(id, secret); !ok {
		oauthError(w, http.StatusUnauthorized, "access_denied", "Unauthorized")
		return
	}
	if p["username"] == "" || p["password"] == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: username and password")
		return
	}
	if p["audience"] != s.cfg.api {
		oauthError(w, http.StatusForbidden, "access_denied", "Service not found: "+p["audience"])
		return
	}
	userID, ok := s.checkPassword(p["username"], p["password"])
	if !ok {
		oauthError(w, http.StatusForbidden, "invalid_grant", "Wrong email or password.")
		return
	}
	now := time.Now()
	tok := s.Mint(map[string]any{
		"sub": userID, "aud": s.cfg.api, "azp": s.cfg.clientID, "scope": p["scope"], "gty": "password",
		"iat": now.Unix(), "exp": now.Add(userTokenTTL).Unix(),
	})
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "expires_in": int(userTokenTTL / time.Second), "token_type": "Bearer",
	})
}

// checkPassword finds the user whose email is username and compares the password.
func (s *Server) checkPassword(username, password string) (string, bool) {
	sum := sha256.Sum256([]byte(password))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.password != nil && strings.EqualFold(u.email, username) {
			return u.id, subtle.ConstantTimeCompare(u.password, sum[:]) == 1
		}
	}
	return "", false
}

// hashPassword is what the tenant keeps of a password given at creation.
func hashPassword(pw string) []byte {
	sum := sha256.Sum256([]byte(pw))
	return sum[:]
}
