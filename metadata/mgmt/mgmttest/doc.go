// Package mgmttest is an emulated Auth0 tenant for tests and for `rulehook dev`: a real HTTP server
// on loopback that speaks enough of the Auth0 Authentication and Management APIs for go-auth0 v3
// (or any HTTP client, in any language) to work against it unchanged.
//
// It owns:
//   - POST /oauth/token (client credentials, form or JSON body, client secret in the body or in
//     HTTP Basic auth) issuing RS256 access tokens that the /api/v2 endpoints then require;
//   - users: GET/PATCH/DELETE /api/v2/users/{id}, POST and paged GET /api/v2/users, with Auth0's
//     metadata merge rules and its 400s for invalid metadata keys;
//   - GET /.well-known/jwks.json and Mint, to sign test tokens with the tenant key (and helpers to
//     sign wrongly, for negative tests);
//   - the Actions endpoints a deploy command needs: actions CRUD, build status, deploy, versions,
//     trigger bindings;
//   - X-RateLimit-Limit/Remaining/Reset on every answer and, with WithTier, Auth0's rate-limit
//     tiers: FreeTier (one bucket for every Management API call) and SelfServiceTier (Read Users,
//     Write Users and the rest apart), each bucket cited in tier.go; an optional write rate limit;
//     fault injection per method and path (429, 5xx, hang, delay) and a request log.
//
// It imports the standard library and golang-jwt (to sign) only; it knows nothing of rulehook's
// domain, so it checks rulehook against Auth0's rules rather than against rulehook's own copy.
package mgmttest
