package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/rulehook/rulehook/cmd/rulehook/internal/deployaction"
)

// doctorAction checks the Action deploy-action installs: deployed, current, bound to post-login,
// and holding this environment's secrets (the fingerprint deploy-action records in its code).
func doctorAction(ctx context.Context, cfg config, getenv func(string) string, url, name string) []checkLine {
	const redeploy = "run rulehook deploy-action with this environment"
	if cfg.Auth0ClientID == "" {
		return []checkLine{failLine("action", "cannot be checked without AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET", "set them (the application needs read:actions)")}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*doctorTimeout)
	defer cancel()
	st, err := deployaction.Inspect(ctx, deployaction.Options{
		BaseURL: cfg.Auth0ManagementURL, Domain: cfg.Auth0Domain,
		ClientID: cfg.Auth0ClientID, ClientSecret: cfg.Auth0ClientSecret, Name: name,
		Secrets:        actionSecrets(getenv, url, getenv("CLAIM_NAMESPACE"), getenv("FAILURE_POLICY"), 0),
		RequestTimeout: doctorTimeout,
	})
	if err != nil {
		return []checkLine{actionProblem(err)}
	}
	q := fmt.Sprintf("%q", name)
	switch {
	case !st.Found:
		return []checkLine{failLine("action", "no Action named "+q, redeploy)}
	case st.Version == 0:
		return []checkLine{failLine("action deployed", q+" was never deployed", redeploy)}
	case !st.Deployed:
		return []checkLine{failLine("action deployed", fmt.Sprintf("version %d of %s is still deploying", st.Version, q), "wait, then run doctor again")}
	}
	lines := []checkLine{okLine("action deployed", fmt.Sprintf("%s version %d", q, st.Version))}
	if !st.Current {
		lines[0] = failLine("action deployed", fmt.Sprintf("%s has changes since version %d that are not deployed", q, st.Version), redeploy)
	}
	if st.Bound {
		lines = append(lines, okLine("action binding", "bound to post-login"))
	} else {
		lines = append(lines, failLine("action binding", q+" is not bound to post-login: logins do not call rulehook", redeploy))
	}
	switch {
	case !st.Fingerprinted:
		lines = append(lines, failLine("action secrets", "no secrets fingerprint in the code (edited in the dashboard?)", "rulehook deploy-action --force"))
	case !st.SecretsMatch:
		lines = append(lines, failLine("action secrets", "differ from this environment (CALLOUT_SECRET, RULEHOOK_URL, CLAIM_NAMESPACE, FAILURE_POLICY, ...)",
			redeploy+" (and its flags, such as --timeout-ms)"))
	default:
		lines = append(lines, okLine("action secrets", "signed with this CALLOUT_SECRET; RULEHOOK_URL and CLAIM_NAMESPACE match"))
	}
	return lines
}

// actionProblem turns an Inspect error into its line.
func actionProblem(err error) checkLine {
	var apiErr *deployaction.APIError
	switch {
	case errors.Is(err, deployaction.ErrInvalidOptions):
		msg := strings.TrimPrefix(err.Error(), deployaction.ErrInvalidOptions.Error()+": ")
		return failLine("action", strings.ReplaceAll(msg, "\n", "; "), "set the variables deploy-action was run with (RULEHOOK_URL, CLAIM_NAMESPACE, CALLOUT_SECRET)")
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusForbidden:
		return failLine("action", "cannot read the Actions: "+apiErr.Message, "grant read:actions to the M2M application")
	}
	return failLine("action", err.Error(), "")
}
