// Package metadata is rulehook's domain: the Auth0 user as rulehook sees it, the three rules of the
// music-app sample as pure functions, the smallest Management API patch that applies them, Auth0's
// metadata field-name rules, and the sentinel errors every adapter translates its failures into.
//
// It imports the standard library only. Adapters live in subpackages (one per external
// dependency) and the HTTP edge in package webhook; both depend on this package, never the reverse.
package metadata
