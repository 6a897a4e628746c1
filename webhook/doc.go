// Package webhook is rulehook's HTTP edge: the post-login callout (token verification, event
// decoding, the decision and its answer), the music app's API with its own token verification,
// health and readiness, the single error mapper, request ids, structured logs and the Prometheus
// metrics.
//
// It imports echo, golang-jwt, keyfunc (for JWKSKeyfunc), client_golang and package metadata. It
// never imports an adapter: it declares the small interfaces it consumes (LoginStore, PlayStore,
// AppStore, Writer, UserReader, Rerunner, Pinger) and cmd/rulehook hands it the concrete types.
//
// # Routes
//
//	POST /v1/post-login     callout token (HS256)  the decision (CONTRACT.md); plays is null when unknown
//	GET  /healthz           none                   200 "ok" while the process serves
//	GET  /readyz            none                   200 "ok" when Redis answers (a second line warns of a
//	                                               maxmemory-policy that evicts keys); 503 otherwise or after Drain
//	GET  /metrics           none                   Prometheus text format of Config.Registry
//	GET  /openapi.yaml      none                   openapi.yaml: OpenAPI 3.1 of every route here (see OpenAPI)
//	GET  /playlists/getPlays app token             the caller's play count, text/plain ("120")
//	POST /v1/plays          app token              one play for the caller: {"plays": n}
//	GET  /genres/getFav     app token              the caller's favourite genre, text/plain; 404 when unset
//	PUT  /genres/fav        app token              {"genre": "..."} sets it (trimmed, 1-64 characters): {"genre": "..."}
//	GET  /songs             app token              the caller's songs: [{"id": 1, "name": "..."}]
//	POST /songs             app token              {"name": "..."} adds one: 201 {"id": n, "name": "..."}; 409 at the limit
//	GET  /displayName       app token              {"displayName": "..." or null}, read from the Management API
//	PUT  /displayName       app token              {"displayName": "..."}: one PATCH of only user_metadata.displayName
//	                                               (200), or queued for a retry (202)
//
// Every error is {"error": "<code>", "message": "<text>"}: 400 bad_request, 401 missing_token or
// invalid_token (with a WWW-Authenticate Bearer challenge), 403 subject_mismatch, 404 not_found,
// 405 method_not_allowed, 409 replay or limit_reached, 413 too_large (every route, before any other
// work), 415 unsupported_media_type (JSON bodies must be application/json), 501 not_configured
// (displayName without Management API access), 503 unavailable or draining. No internal detail
// reaches a client; it is logged once, on the request's log line. openapi.yaml says all of this
// in machine-readable form, and the tests hold every exchange to it (package openapitest).
//
// Every response carries X-Request-Id: the client's when it is 1-128 characters of
// [A-Za-z0-9._-], a new one otherwise. Each request writes one JSON log line with it (plus the
// Auth0 transaction id and outcome for a callout): at info for a change, a rejection or a failure,
// at debug for a login that changes nothing and a successful read. No token, secret, email or
// event is logged. A callout's token is verified before its body is read, and the bodies held
// at once are bounded by Config.MaxBodyMemoryBytes (503 past it).
package webhook
