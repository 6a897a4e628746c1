package main

import (
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

// runToken prints an app API access token for a user of dev's emulated tenant, got the way an
// app gets one (the tenant's /oauth/token, password grant), so the app API can be tried with curl.
func runToken(ctx context.Context, args []string, env *environment) error {
	fs := newFlagSet(env, "token", "The user must have been created by `rulehook login` (which gives it dev's password).")
	statePath := fs.String("state", defaultDevStatePath(), "the state file `rulehook dev` wrote")
	user := fs.String("user", "", "the user_id the token is for, e.g. auth0|alice (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *user == "" {
		return usageErrorf("token: --user is required (see `rulehook token -h`)")
	}
	st, err := findDev(*statePath)
	if err != nil {
		return err
	}
	u, err := newTenantClient(st).user(ctx, *user)
	if errors.Is(err, errNoSuchUser) {
		return fmt.Errorf("token: the emulated tenant has no user %q; log them in first: rulehook login --user '%s'", *user, *user)
	}
	if err != nil {
		return fmt.Errorf("token: emulated tenant: %w", err)
	}
	tok, err := userToken(ctx, st, u.Email)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	fmt.Fprintln(env.stdout, tok)
	return nil
}

// userToken asks dev's tenant for an access token to the app API with the password grant.
func userToken(ctx context.Context, st devState, email string) (string, error) {
	form := url.Values{
		"grant_type": {"password"}, "client_id": {st.ClientID}, "client_secret": {st.ClientSecret},
		"username": {email}, "password": {st.UserPassword}, "audience": {st.APIAudience},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.TenantURL+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return "", fmt.Errorf("token answer (%s): %w", resp.Status, err)
	}
	switch {
	case out.Error == "invalid_grant":
		return "", errors.New("the user has no password of this dev (it was not created by `rulehook login`)")
	case resp.StatusCode != http.StatusOK || out.AccessToken == "":
		return "", fmt.Errorf("the tenant answered %s: %s %s", resp.Status, out.Error, out.Description)
	}
	return out.AccessToken, nil
}
