package main

import (
	"context"
	"errors"
	"fmt"
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
	tc := newTenantClient(st)
	u, err := tc.user(ctx, *user)
	if errors.Is(err, errNoSuchUser) {
		return fmt.Errorf("token: the emulated tenant has no user %q; log them in first: rulehook login --user '%s'", *user, *user)
	}
	if err != nil {
		return fmt.Errorf("token: emulated tenant: %w", err)
	}
	tok, err := tc.userToken(ctx, u.Email)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	fmt.Fprintln(env.stdout, tok)
	return nil
}
