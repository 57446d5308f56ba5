// Package errcode holds the error codes of the OCI Distribution Spec (and the
// few berth adds), each registered once with the HTTP status it answers with.
// The registry service returns *Error values; the HTTP layer writes them as
// the spec's JSON error body in one place.
package errcode
