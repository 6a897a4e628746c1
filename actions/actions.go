// Package actions owns the Auth0 post-login Action that calls rulehook (post-login.js), its
// node --test suite, and the embedded copy of its source that `rulehook deploy-action` installs
// and the login harness (package actions/harness) runs.
//
// It imports embed only. The Action itself is plain JavaScript for Auth0's Node 22 runtime with no
// npm dependencies; its settings are the Action secrets documented at the top of post-login.js.
package actions

import _ "embed"

// Source is the JavaScript source of the post-login Action, exactly as deployed to Auth0.
//
//go:embed post-login.js
var Source string

// Secrets the Action reads from event.secrets. Required ones must be set for a callout to happen;
// the others have defaults (see post-login.js).
const (
	SecretRulehookURL     = "RULEHOOK_URL"     // required: base URL of rulehook
	SecretCalloutSecret   = "CALLOUT_SECRET"   // required: HS256 key, >= 32 bytes
	SecretClaimNamespace  = "CLAIM_NAMESPACE"  // required: claim is <namespace>/roles
	SecretFailurePolicy   = "FAILURE_POLICY"   // open (default) or closed
	SecretTimeoutMS       = "TIMEOUT_MS"       // default 5000, capped at 9000
	SecretCalloutAudience = "CALLOUT_AUDIENCE" // default RULEHOOK_URL without trailing slashes
	SecretCalloutIssuer   = "CALLOUT_ISSUER"   // default https://<AUTH0_DOMAIN>/, else https://<event.request.hostname>/
	SecretAuth0Domain     = "AUTH0_DOMAIN"     // optional: tenant domain for the CALLOUT_ISSUER default
)
