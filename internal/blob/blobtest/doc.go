// Package blobtest is the conformance suite every blob.Store driver passes.
//
// A driver's test runs it in a few lines:
//
//	func TestConformance(t *testing.T) {
//		blobtest.Run(t, func(t *testing.T) blob.Store { return mem.New() })
//	}
//
// The suite computes every digest itself, as the registry service does: a
// driver never hashes. Drivers whose backend can be opened twice (the
// filesystem, object storage) pass WithReopen so the suite also continues
// and commits an upload through a second Store on the same backend.
package blobtest
