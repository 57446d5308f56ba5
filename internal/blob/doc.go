// Package blob declares the content-addressed blob store every storage driver
// implements: blobs keyed by digest, plus upload sessions that become blobs
// when committed. Drivers live in subpackages (fs, mem) and all pass the
// blobtest conformance suite.
package blob
