package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// tenantClient is the little of the Management API that `rulehook login` needs against the
// emulated tenant of `rulehook dev`: a token, and reading or creating one user. The service itself
// talks to Auth0 through package mgmt (go-auth0); this is a developer tool's convenience.
type tenantClient struct {
	base, clientID, clientSecret, audience string
	http                                   *http.Client
	token                                  string
}

type tenantUser struct {
	UserID       string         `json:"user_id,omitempty"` // a PATCH carrying "" is refused
	Email        string         `json:"email,omitempty"`
	AppMetadata  map[string]any `json:"app_metadata,omitempty"`
	UserMetadata map[string]any `json:"user_metadata,omitempty"`
	Connection   string         `json:"connection,omitempty"`
	Password     string         `json:"password,omitempty"` // write-only: sent when creating
}

var errNoSuchUser = errors.New("no such user")

func newTenantClient(st devState) *tenantClient {
	return &tenantClient{
		base: st.TenantURL, clientID: st.ClientID, clientSecret: st.ClientSecret,
		audience: "https://" + st.Domain + "/api/v2/",
		http:     &http.Client{Timeout: 5 * time.Second},
	}
}

func (c *tenantClient) do(ctx context.Context, method, path string, in, out any) error {
	if c.token == "" && path != "/oauth/token" {
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		err := c.do(ctx, http.MethodPost, "/oauth/token", map[string]string{
			"grant_type": "client_credentials", "client_id": c.clientID,
			"client_secret": c.clientSecret, "audience": c.audience,
		}, &tok)
		if err != nil {
			return fmt.Errorf("tenant token: %w", err)
		}
		c.token = tok.AccessToken
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return errNoSuchUser
	case resp.StatusCode >= 300:
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out)
}

func (c *tenantClient) user(ctx context.Context, id string) (tenantUser, error) {
	var u tenantUser
	err := c.do(ctx, http.MethodGet, "/api/v2/users/"+url.PathEscape(id), nil, &u)
	return u, err
}

func (c *tenantClient) createUser(ctx context.Context, u tenantUser) (tenantUser, error) {
	var out tenantUser
	u.Connection = "Username-Password-Authentication"
	// Auth0 prefixes a database user's id with "auth0|" itself.
	u.UserID = strings.TrimPrefix(u.UserID, "auth0|")
	err := c.do(ctx, http.MethodPost, "/api/v2/users", u, &out)
	return out, err
}

// patchUser applies metadata as Auth0 does after an Action called api.user.setAppMetadata or
// setUserMetadata: a top-level merge.
func (c *tenantClient) patchUser(ctx context.Context, id string, app, user map[string]any) (tenantUser, error) {
	var out tenantUser
	err := c.do(ctx, http.MethodPatch, "/api/v2/users/"+url.PathEscape(id),
		tenantUser{AppMetadata: app, UserMetadata: user}, &out)
	return out, err
}
