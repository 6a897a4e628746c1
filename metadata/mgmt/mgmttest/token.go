package mgmttest

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// token answers POST /oauth/token for the client credentials grant. The client authenticates with
// client_id/client_secret in the body (form or JSON) or with HTTP Basic (client_secret_basic, what
// golang.org/x/oauth2 tries first); the audience must be the tenant's Management API.
//
// Like Auth0 it grants the client exactly the scopes of its client grant: the answer's "scope"
// field and the access token's "scope" claim list them, space-separated (RFC 6749 section 5.1;
// Auth0, "Get Management API Access Tokens for Production",
// https://auth0.com/docs/secure/tokens/access-tokens/management-api-access-tokens/get-management-api-access-tokens-for-production).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	p, err := tokenParams(r)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	id, secret := p["client_id"], p["client_secret"]
	if user, pass, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(user)
		secret, _ = url.QueryUnescape(pass)
	}
	if p["grant_type"] == "password" && s.cfg.api != "" {
		s.passwordGrant(w, id, secret, p)
		return
	}
	if p["grant_type"] != "client_credentials" {
		oauthError(w, http.StatusForbidden, "unauthorized_client",
			fmt.Sprintf("Grant type '%s' not allowed for the client.", p["grant_type"]))
		return
	}
	client, known := s.validClient(id, secret)
	if !known {
		oauthError(w, http.StatusUnauthorized, "access_denied", "Unauthorized")
		return
	}
	aud := p["audience"]
	switch {
	case aud == "":
		oauthError(w, http.StatusForbidden, "access_denied",
			"No audience parameter was provided, and no default audience has been configured")
		return
	case !slices.Contains(s.audiences(), aud):
		oauthError(w, http.StatusForbidden, "access_denied", "Service not found: "+aud)
		return
	}
	scope := strings.Join(client.scopes, " ")
	tok, _ := s.issueAccessToken(id, aud, scope, time.Now())
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"scope":        scope,
		"expires_in":   int(s.cfg.tokenTTL / time.Second),
		"token_type":   "Bearer",
	})
}

// validClient reports whether id and secret are the M2M client's credentials.
func (s *Server) validClient(id, secret string) (m2mClient, bool) {
	client, known := s.cfg.clients()[id]
	return client, known && subtle.ConstantTimeCompare([]byte(secret), []byte(client.secret)) == 1
}

// tokenParams reads a token request body, JSON or form-encoded, into string values.
func tokenParams(r *http.Request) (map[string]string, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, errors.New("could not read the request body")
	}
	out := map[string]string{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, errors.New("the request body is not a JSON object")
		}
		for k, v := range m {
			if sv, ok := v.(string); ok {
				out[k] = sv
			}
		}
		return out, nil
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errors.New("the request body is not form-encoded")
	}
	for k := range v {
		out[k] = v.Get(k)
	}
	return out, nil
}

// authorized checks the bearer token of an /api/v2 request and answers 401 when it is missing,
// not one this tenant issued (or revoked since), or expired. It returns the token's scope claim.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	if h == "" || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		apiError(w, http.StatusUnauthorized, "", "Missing authentication")
		return "", false
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return s.PublicKey(), nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(s.Issuer()), jwt.WithExpirationRequired())
	if errors.Is(err, jwt.ErrTokenExpired) {
		apiError(w, http.StatusUnauthorized, "", "Expired token received for JSON Web Token validation")
		return "", false
	}
	if err != nil || !s.issuedToken(claims) {
		apiError(w, http.StatusUnauthorized, "", "Invalid token")
		return "", false
	}
	scope, _ := claims["scope"].(string)
	return scope, true
}

// issuedToken reports whether claims belong to a live Management API token this tenant issued.
func (s *Server) issuedToken(claims jwt.MapClaims) bool {
	aud, _ := claims.GetAudience()
	if len(aud) != 1 || !slices.Contains(s.audiences(), aud[0]) || claims["gty"] != "client-credentials" {
		return false
	}
	jti, _ := claims["jti"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.issued[jti]
	return ok
}
