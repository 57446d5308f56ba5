// Package conformance holds berth's own OCI Distribution conformance tests,
// written from the distribution-spec text (main branch, v1.1+). They start a
// real berth (app.New + httptest) and drive it over plain HTTP, asserting
// status codes, headers, bodies and the spec's JSON error codes.
//
// Set CONFORMANCE_TARGET=http://host:port to run the same tests against an
// external registry instead (useful to debug the tests against a reference
// implementation). Tests that need a specially configured server adapt or
// skip themselves in that mode. CONFORMANCE_VERBOSE=1 logs every request.
//
// The package contains no production code; everything lives in _test.go
// files. See DEVELOPERS.md for running the official conformance suite.
package conformance
