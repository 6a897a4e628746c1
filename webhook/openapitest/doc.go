// Package openapitest holds HTTP exchanges to an OpenAPI document with kin-openapi's
// openapi3filter, so that tests keep the document (webhook/openapi.yaml) and the code from
// drifting apart. Tests import it; the rulehook binary does not.
//
// An exchange passes when the answer matches the document for its route and status (an
// undeclared status fails), and when the request matches the document too, or, for a request the
// test sent outside it on purpose (a missing token, a bad body), when the answer is one of the
// route's documented 4xx errors. A path or method the document does not name must be answered
// 404 or 405 with the contract's error body.
//
// Answer is the one type the tests of webhook and cmd/rulehook decode a callout's answer into,
// independently of webhook's own. The package imports kin-openapi and the standard library.
package openapitest
