// Package webhook is rulehook's HTTP edge: the post-login callout (token verification, event
// decoding, the decision and its answer), the music app's API with its own token verification,
// health and readiness, the single error mapper, request ids, structured logs and the Prometheus
// metrics.
//
// It imports echo, golang-jwt, keyfunc (for JWKSKeyfunc), client_golang and package metadata. It
// never imports an adapter: it declares the small interfaces it consumes (LoginStore, PlayStore,
// AppStore, Writer, UserReader, Rerunner, Pinger) and cmd/rulehook hands it the concrete types.
package webhook
