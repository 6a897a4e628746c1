// Package mgmttest is an emulated Auth0 tenant: a real HTTP server on loopback that speaks enough
// of the Auth0 Authentication and Management APIs for go-auth0 v3 (or any HTTP client, in any
// language) to work against it unchanged.
//
// It is a part of the product as well as a test helper: `rulehook dev` serves it as the tenant
// (and so `rulehook login` logs in against it), `rulehook bench`, `bench reconcile` and
// `bench-budget` measure against it, and the shared bench's rulehook-tenant tool serves it as
// a process through Start. So it ships in the binary, and its API (New, Start and the With
// options) is kept as stable as any other package's.
//
// It owns:
//   - POST /oauth/token (client credentials, form or JSON body, client secret in the body or in
//     HTTP Basic auth) issuing RS256 access tokens that the /api/v2 endpoints then require;
//   - users: GET/PATCH/DELETE /api/v2/users/{id}, POST and paged GET /api/v2/users, with Auth0's
//     metadata merge rules and its 400s for invalid metadata keys;
//   - GET /api/v2/users pages through the first 1000 users only (Auth0's listing limit, a 400
//     invalid_paging beyond it; list.go), and the users-export job that reads any number:
//     POST /api/v2/jobs/users-exports, GET /api/v2/jobs/{id} (pending, processing, then completed
//     or failed) and the gzipped NDJSON or CSV file at a signed location that expires after 60 s
//     (export.go and export_file.go, which cite their sources);
//   - GET /.well-known/jwks.json and Mint, to sign test tokens with the tenant key (and helpers to
//     sign wrongly, for negative tests);
//   - the Actions endpoints a deploy command needs: actions CRUD, build status, deploy, versions,
//     trigger bindings;
//   - per-client granted scopes (WithGrantedScopes, WithClient; default AllScopes): the token
//     answer's "scope" field and the token's "scope" claim carry them, and every /api/v2 route
//     answers Auth0's 403 insufficient_scope when the token lacks the scope it needs (scopes.go,
//     with the Auth0 reference pages and auth0-cli's recorded body it follows);
//   - a deployed Action version that reads "built" with deployed: false until it has finished
//     deploying, and Auth0's 400 "Trying to create a binding for an action that has not been
//     deployed yet" meanwhile (WithDeployDelay; go-auth0's TestActionManager_Deploy recording,
//     auth0-deploy-cli issue 385, terraform-provider-auth0's waitForActionDeployed);
//   - X-RateLimit-Limit/Remaining/Reset on every answer and, with WithTier, Auth0's rate-limit
//     tiers: FreeTier (one bucket for every Management API call) and SelfServiceTier (Read Users,
//     Write Users and the rest apart), each bucket cited in tier.go; an optional write rate limit;
//     fault injection per method and path (429, 5xx, hang, delay) and a request log.
//
// It imports the standard library and golang-jwt (to sign) only; it knows nothing of rulehook's
// domain, so it checks rulehook against Auth0's rules rather than against rulehook's own copy.
package mgmttest
