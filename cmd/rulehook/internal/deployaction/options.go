package deployaction

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rulehook/rulehook/actions"
	"github.com/rulehook/rulehook/metadata/mgmt"
)

// Defaults applied to zero Options fields, and the trigger the Action is written for.
const (
	DefaultName           = "rulehook post-login"
	DefaultRuntime        = "node22"
	DefaultBuildTimeout   = 2 * time.Minute
	DefaultRequestTimeout = 30 * time.Second

	TriggerID      = "post-login"
	TriggerVersion = "v3" // post-login.js uses the v3 event and api (api.idToken, api.access, ...)
)

// Options says which tenant to deploy to and what to deploy.
type Options struct {
	// BaseURL is the tenant: "https://example.us.auth0.com" (token endpoint at /oauth/token, API at
	// /api/v2/). http:// is accepted only for loopback hosts (the emulated tenant, tests). Default
	// "https://"+Domain.
	BaseURL string
	// Domain is the tenant domain, e.g. "example.us.auth0.com"; default the host of an https
	// BaseURL. It sets the Management API audience asked for at /oauth/token
	// ("https://"+Domain+"/api/v2/"; without a Domain, BaseURL+"/api/v2/") and, when Secrets has
	// neither CALLOUT_ISSUER nor AUTH0_DOMAIN, the AUTH0_DOMAIN secret, so that the Action's issuer
	// matches rulehook's default CALLOUT_ISSUER even when logins come through a custom domain.
	Domain string
	// ClientID and ClientSecret are an M2M application allowed read:actions, create:actions,
	// update:actions (client-credentials grant).
	ClientID, ClientSecret string

	// Name of the Action; default DefaultName. Action names are unique in a tenant.
	Name string
	// Source is the Action's JavaScript; default actions.Source.
	Source string
	// Runtime is the Node runtime; default DefaultRuntime.
	Runtime string
	// Secrets is the complete set of Action secrets, by name (actions.Secret* constants; other names
	// are refused). RULEHOOK_URL, CALLOUT_SECRET (>= 32 bytes) and CLAIM_NAMESPACE are required.
	// Values are never printed.
	Secrets map[string]string

	// DryRun only reads the tenant and prints the plan.
	DryRun bool
	// Force updates and redeploys the Action even when nothing seems to differ, e.g. after its
	// secrets were edited in the dashboard (which the fingerprint cannot see).
	Force bool
	// Progress receives the plan and the steps, one line each; nil discards them.
	Progress io.Writer
	// BuildTimeout bounds the wait for the Action to be built, deployed (deployed: true) and
	// bound; default DefaultBuildTimeout.
	BuildTimeout time.Duration
	// RequestTimeout bounds each HTTP request; default DefaultRequestTimeout.
	RequestTimeout time.Duration
}

// knownSecrets are the names post-login.js reads; required ones first.
var knownSecrets = []string{
	actions.SecretRulehookURL, actions.SecretCalloutSecret, actions.SecretClaimNamespace,
	actions.SecretFailurePolicy, actions.SecretTimeoutMS, actions.SecretCalloutAudience,
	actions.SecretCalloutIssuer, actions.SecretAuth0Domain,
}

const (
	minCalloutSecretBytes = 32   // post-login.js and rulehook refuse shorter keys
	maxTimeoutMS          = 9000 // post-login.js caps TIMEOUT_MS here; Auth0 asks for < 10 s
)

// config is Options with the defaults applied and the base URL parsed.
type config struct {
	Options
	base     *url.URL
	audience string
}

// withDefaults validates o and fills in its defaults. The error wraps ErrInvalidOptions and lists
// every problem; it never holds a secret value.
func (o Options) withDefaults() (config, error) {
	var errs []error
	o.Domain = strings.TrimSpace(o.Domain)
	if strings.ContainsAny(o.Domain, "/: ") {
		errs = append(errs, fmt.Errorf("domain %q must be a bare host name, e.g. example.us.auth0.com", o.Domain))
	}
	if o.BaseURL == "" && o.Domain != "" {
		o.BaseURL = "https://" + o.Domain
	}
	base, err := mgmt.ParseBaseURL(o.BaseURL)
	if err != nil {
		errs = append(errs, err)
	}
	if base != nil && base.Scheme == "https" && o.Domain == "" {
		o.Domain = base.Hostname()
	}
	if o.ClientID == "" {
		errs = append(errs, errors.New("client id is required"))
	}
	if o.ClientSecret == "" {
		errs = append(errs, errors.New("client secret is required"))
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Source == "" {
		o.Source = actions.Source
	}
	if o.Runtime == "" {
		o.Runtime = DefaultRuntime
	}
	if o.BuildTimeout == 0 {
		o.BuildTimeout = DefaultBuildTimeout
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.BuildTimeout < 0 || o.RequestTimeout < 0 {
		errs = append(errs, errors.New("timeouts must be positive"))
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	o.Secrets = maps.Clone(o.Secrets)
	if o.Secrets == nil {
		o.Secrets = map[string]string{}
	}
	if o.Domain != "" && o.Secrets[actions.SecretCalloutIssuer] == "" && o.Secrets[actions.SecretAuth0Domain] == "" {
		o.Secrets[actions.SecretAuth0Domain] = o.Domain
	}
	errs = append(errs, checkSecrets(o.Secrets)...)
	if len(errs) > 0 {
		return config{}, fmt.Errorf("%w: %w", ErrInvalidOptions, errors.Join(errs...))
	}
	c := config{Options: o, base: base, audience: base.String() + "/api/v2/"}
	if o.Domain != "" {
		c.audience = "https://" + o.Domain + "/api/v2/"
	}
	return c, nil
}

// checkSecrets refuses what post-login.js would refuse at every login, and names it doesn't read
// (a typo would otherwise be deployed silently). Messages carry names, never values.
func checkSecrets(s map[string]string) []error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(s)) {
		if !slices.Contains(knownSecrets, name) {
			errs = append(errs, fmt.Errorf("secret %q is not read by the Action (known: %s)", name, strings.Join(knownSecrets, ", ")))
		}
	}
	for _, name := range knownSecrets[:3] {
		if strings.TrimSpace(s[name]) == "" {
			errs = append(errs, fmt.Errorf("secret %s is required", name))
		}
	}
	if v := s[actions.SecretCalloutSecret]; v != "" && len(v) < minCalloutSecretBytes {
		errs = append(errs, fmt.Errorf("secret %s must be at least %d bytes", actions.SecretCalloutSecret, minCalloutSecretBytes))
	}
	if v := strings.TrimSpace(s[actions.SecretRulehookURL]); v != "" {
		if _, err := parseServiceURL(v); err != nil {
			errs = append(errs, fmt.Errorf("secret %s: %w", actions.SecretRulehookURL, err))
		}
	}
	if v := strings.TrimSpace(s[actions.SecretClaimNamespace]); v != "" {
		if err := checkClaimNamespace(v); err != nil {
			errs = append(errs, fmt.Errorf("secret %s: %w", actions.SecretClaimNamespace, err))
		}
	}
	if v, ok := s[actions.SecretFailurePolicy]; ok && v != "open" && v != "closed" {
		errs = append(errs, fmt.Errorf("secret %s must be open or closed", actions.SecretFailurePolicy))
	}
	if v, ok := s[actions.SecretTimeoutMS]; ok {
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > maxTimeoutMS {
			errs = append(errs, fmt.Errorf("secret %s must be an integer from 1 to %d", actions.SecretTimeoutMS, maxTimeoutMS))
		}
	}
	return errs
}

// actionLoopbackHosts are the hosts post-login.js lets RULEHOOK_URL reach over http.
var actionLoopbackHosts = []string{"127.0.0.1", "localhost", "::1"}

// parseServiceURL checks RULEHOOK_URL the way post-login.js does: https, or http for loopback.
func parseServiceURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		return nil, errors.New("not an absolute URL")
	case u.Scheme == "https", u.Scheme == "http" && slices.Contains(actionLoopbackHosts, u.Hostname()):
		return u, nil
	}
	return nil, errors.New("must be https (http only for a loopback host)")
}

// restrictedClaimDomains are Auth0's own domains: a custom claim namespaced under one of them (or
// a subdomain) is silently left out of the tokens, as is a claim without a namespace (Auth0,
// "Create Custom Claims", https://auth0.com/docs/secure/tokens/json-web-tokens/create-custom-claims).
var restrictedClaimDomains = []string{"auth0.com", "webtask.io", "webtask.run"}

// checkClaimNamespace checks CLAIM_NAMESPACE the way post-login.js does: an http(s) URL with a
// host that is not auth0.com, webtask.io, webtask.run or a subdomain of one, so that the
// <namespace>/roles claim reaches the tokens.
func checkClaimNamespace(ns string) error {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(ns), "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("must be an http(s) URL such as https://music.example.com (Auth0 drops claims without a namespace)")
	}
	host := strings.ToLower(u.Hostname())
	for _, d := range restrictedClaimDomains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return fmt.Errorf("host %s is an Auth0 domain (%s): Auth0 silently drops claims namespaced there",
				host, strings.Join(restrictedClaimDomains, ", "))
		}
	}
	return nil
}
