package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/auth0/go-auth0/v3/management"
	"github.com/auth0/go-auth0/v3/management/option"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/rulehook/rulehook/metadata/mgmt"
)

// tenantClient is the little of the emulated tenant of `rulehook dev` that `rulehook login` and
// `rulehook token` need: reading, creating and patching one user through mgmt.Client (the go-auth0
// client and token source every command uses), and a user's app API token (userToken).
type tenantClient struct {
	st   devState
	conn *mgmt.Client
	err  error // from building conn; returned by every call
}

type tenantUser struct {
	UserID       string         `json:"user_id,omitempty"` // a PATCH carrying "" is refused
	Email        string         `json:"email,omitempty"`
	AppMetadata  map[string]any `json:"app_metadata,omitempty"`
	UserMetadata map[string]any `json:"user_metadata,omitempty"`
	Password     string         `json:"-"` // write-only: sent when creating a user
}

var errNoSuchUser = errors.New("no such user")

func newTenantClient(st devState) *tenantClient {
	conn, err := mgmt.NewClient(mgmt.ClientConfig{
		BaseURL: st.TenantURL, ClientID: st.ClientID, ClientSecret: st.ClientSecret,
		Audience: "https://" + st.Domain + "/api/v2/", Timeout: 5 * time.Second,
	})
	return &tenantClient{st: st, conn: conn, err: err}
}

// userView is what every go-auth0 user answer type offers.
type userView interface {
	GetUserID() string
	GetEmail() string
	GetAppMetadata() management.UserAppMetadataSchema
	GetUserMetadata() management.UserMetadataSchema
}

func toTenantUser(u userView) tenantUser {
	return tenantUser{UserID: u.GetUserID(), Email: u.GetEmail(), AppMetadata: u.GetAppMetadata(), UserMetadata: u.GetUserMetadata()}
}

// call runs one request with the client's token; a 404 is errNoSuchUser.
func (c *tenantClient) call(ctx context.Context, what string, do func(opts ...option.RequestOption) error) error {
	if c.err != nil {
		return c.err
	}
	opts, err := c.conn.Options(ctx)
	if err == nil {
		err = do(opts...)
	}
	switch status, _ := mgmt.StatusOf(err); {
	case err == nil:
		return nil
	case status == http.StatusNotFound:
		return errNoSuchUser
	case status != 0:
		return fmt.Errorf("%s: answered %d", what, status)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (c *tenantClient) user(ctx context.Context, id string) (tenantUser, error) {
	var u tenantUser
	err := c.call(ctx, "GET user", func(opts ...option.RequestOption) error {
		got, err := c.conn.API.Users.Get(ctx, id, &management.GetUserRequestParameters{}, opts...)
		if err == nil {
			u = toTenantUser(got)
		}
		return err
	})
	return u, err
}

func (c *tenantClient) createUser(ctx context.Context, u tenantUser) (tenantUser, error) {
	req := &management.CreateUserRequestContent{
		Connection: "Username-Password-Authentication",
		// Auth0 prefixes a database user's id with "auth0|" itself.
		UserID: management.String(strings.TrimPrefix(u.UserID, "auth0|")),
		Email:  management.String(u.Email),
	}
	if u.Password != "" {
		req.Password = management.String(u.Password)
	}
	if u.AppMetadata != nil {
		req.AppMetadata = &u.AppMetadata
	}
	if u.UserMetadata != nil {
		req.UserMetadata = &u.UserMetadata
	}
	var out tenantUser
	err := c.call(ctx, "POST user", func(opts ...option.RequestOption) error {
		got, err := c.conn.API.Users.Create(ctx, req, opts...)
		if err == nil {
			out = toTenantUser(got)
		}
		return err
	})
	return out, err
}

// patchUser applies metadata as Auth0 does after an Action called api.user.setAppMetadata or
// setUserMetadata: a top-level merge. An empty object is not sent (Auth0 would wipe it).
func (c *tenantClient) patchUser(ctx context.Context, id string, app, user map[string]any) (tenantUser, error) {
	req := &management.UpdateUserRequestContent{}
	if len(app) > 0 {
		m := management.AppMetadata(app)
		req.AppMetadata = &m
	}
	if len(user) > 0 {
		m := management.UserMetadata(user)
		req.UserMetadata = &m
	}
	var out tenantUser
	err := c.call(ctx, "PATCH user", func(opts ...option.RequestOption) error {
		got, err := c.conn.API.Users.Update(ctx, id, req, opts...)
		if err == nil {
			out = toTenantUser(got)
		}
		return err
	})
	return out, err
}

// userToken asks the tenant for an access token to the app API with the password grant, the
// way an app gets one. golang.org/x/oauth2 offers that grant without an audience parameter, and
// go-auth0's authentication client only over https; clientcredentials lets the grant_type be
// set (for such servers), and the password grant is otherwise its parameters.
func (c *tenantClient) userToken(ctx context.Context, email string) (string, error) {
	conf := clientcredentials.Config{
		ClientID: c.st.ClientID, ClientSecret: c.st.ClientSecret, TokenURL: c.st.TenantURL + "/oauth/token",
		AuthStyle: oauth2.AuthStyleInParams,
		EndpointParams: url.Values{
			"grant_type": {"password"}, "username": {email}, "password": {c.st.UserPassword},
			"audience": {c.st.APIAudience},
		},
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Timeout: 10 * time.Second})
	tok, err := conf.Token(ctx)
	var refused *oauth2.RetrieveError
	switch {
	case errors.As(err, &refused) && refused.ErrorCode == "invalid_grant":
		return "", errors.New("the user has no password of this dev (it was not created by `rulehook login`)")
	case errors.As(err, &refused):
		return "", fmt.Errorf("the tenant answered %s: %s %s", refused.Response.Status, refused.ErrorCode, refused.ErrorDescription)
	case err != nil:
		return "", err
	}
	return tok.AccessToken, nil
}
