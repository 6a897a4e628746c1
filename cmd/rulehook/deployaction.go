package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/rulehook/rulehook/actions"
	"github.com/rulehook/rulehook/cmd/rulehook/internal/deployaction"
)

// runDeployAction installs actions/post-login.js into the tenant and binds it to post-login.
// The tenant and the callout settings come from the same environment as serve.
func runDeployAction(ctx context.Context, args []string, env *environment) error {
	fs := newFlagSet(env, "deploy-action", envTable("environment", deployActionEnv))
	name := fs.String("name", deployaction.DefaultName, "the Action's name in the tenant")
	url := fs.String("rulehook-url", env.getenv("RULEHOOK_URL"), "rulehook's public base URL the Action calls (default $RULEHOOK_URL)")
	ns := fs.String("claim-namespace", env.getenv("CLAIM_NAMESPACE"), "namespace of the roles claim, e.g. https://music.example.com (default $CLAIM_NAMESPACE)")
	policy := fs.String("failure-policy", env.getenv("FAILURE_POLICY"), "the Action's failure policy: open or closed (default $FAILURE_POLICY, else open)")
	timeoutMS := fs.Int("timeout-ms", 0, "the Action's callout timeout in milliseconds (default 5000)")
	dryRun := fs.Bool("dry-run", false, "print the plan and change nothing")
	force := fs.Bool("force", false, "update and redeploy even when nothing seems to differ (secrets edited in the dashboard)")
	buildTimeout := fs.Duration("build-timeout", deployaction.DefaultBuildTimeout, "how long to wait for Auth0 to build the Action")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	tenant, err := deployActionSettings(env, *url, *ns, *policy)
	if err != nil {
		return err
	}
	secrets := actionSecrets(env.getenv, *url, *ns, *policy, *timeoutMS)
	res, err := deployaction.Deploy(ctx, deployaction.Options{
		BaseURL:      strings.TrimRight(env.getenv("AUTH0_MANAGEMENT_URL"), "/"),
		Domain:       tenant.Domain,
		ClientID:     tenant.ClientID,
		ClientSecret: tenant.ClientSecret,
		Name:         *name,
		Secrets:      secrets,
		DryRun:       *dryRun,
		Force:        *force,
		Progress:     env.stdout,
		BuildTimeout: *buildTimeout,
	})
	if err != nil {
		return fmt.Errorf("deploy-action: %w", err)
	}
	printDeployResult(env, *name, res)
	return nil
}

// actionSecrets is the Action's set of secrets for the given settings and serve's environment
// (CALLOUT_SECRET, AUTH0_DOMAIN, CALLOUT_AUDIENCE, CALLOUT_ISSUER): what deploy-action installs and
// doctor compares with the fingerprint in the deployed code.
func actionSecrets(getenv func(string) string, url, ns, policy string, timeoutMS int) map[string]string {
	secrets := map[string]string{
		actions.SecretRulehookURL:    url,
		actions.SecretCalloutSecret:  getenv("CALLOUT_SECRET"),
		actions.SecretClaimNamespace: ns,
		actions.SecretAuth0Domain:    getenv("AUTH0_DOMAIN"),
	}
	optional := map[string]string{
		actions.SecretFailurePolicy:   policy,
		actions.SecretCalloutAudience: getenv("CALLOUT_AUDIENCE"),
		actions.SecretCalloutIssuer:   getenv("CALLOUT_ISSUER"),
	}
	if timeoutMS > 0 {
		optional[actions.SecretTimeoutMS] = strconv.Itoa(timeoutMS)
	}
	for k, v := range optional {
		if v != "" {
			secrets[k] = v
		}
	}
	return secrets
}

// printDeployResult is deploy-action's last line: what happened, in words an operator checks.
func printDeployResult(env *environment, name string, res deployaction.Result) {
	bound := fmt.Sprintf("bound to post-login once (%d bindings)", len(res.BindingsAfter))
	switch {
	case res.DryRun:
		fmt.Fprintf(env.stdout, "action %q: %s (dry run; nothing changed); %s\n", name, res.Change, bound)
	case res.Change == deployaction.ChangeNone && !res.Deployed:
		fmt.Fprintf(env.stdout, "action %q is deployed and current (version %d); %s\n", name, res.Version, bound)
	default:
		done := map[deployaction.Change]string{deployaction.ChangeCreate: "created", deployaction.ChangeUpdate: "updated"}[res.Change]
		if done == "" {
			done = "redeployed"
		}
		fmt.Fprintf(env.stdout, "action %q %s and deployed (version %d); %s\n", name, done, res.Version, bound)
	}
}

// deployActionSettings checks every setting deploy-action needs at once, before anything is
// sent, and returns the tenant's (BaseURL is left to the caller).
func deployActionSettings(env *environment, url, ns, policy string) (deployaction.Options, error) {
	r := &envReader{getenv: env.getenv}
	o := deployaction.Options{
		Domain:       r.required("AUTH0_DOMAIN", ""),
		ClientID:     r.required("AUTH0_CLIENT_ID", " (an M2M application allowed read/create/update:actions)"),
		ClientSecret: r.required("AUTH0_CLIENT_SECRET", ""),
	}
	r.secret("CALLOUT_SECRET", true)
	if url == "" {
		r.problem("RULEHOOK_URL (or --rulehook-url) is required: rulehook's public base URL the Action calls")
	}
	if ns == "" {
		r.problem("CLAIM_NAMESPACE (or --claim-namespace) is required, e.g. https://music.example.com")
	}
	if policy != "" && policy != policyOpen && policy != policyClosed {
		r.problem("FAILURE_POLICY (or --failure-policy) %q must be open or closed", policy)
	}
	if len(r.problems) > 0 {
		return o, &configError{problems: r.problems}
	}
	return o, nil
}
