// Package sigpolicy enforces signature policies on pulls: per project (and
// optionally per repository pattern), a manifest may only be pulled when a
// cosign signature (the sha256-<hex>.sig tag scheme, or a sigstore bundle
// referrer) or a notation signature (a referrer) verifies under the
// policy's keys or trust store. Verdicts are cached per digest, policy
// version and set of signatures found; signatures, attestations and SBOMs
// themselves stay pullable; an index that verifies admits its children.
// A dry-run policy records and logs what it would refuse.
//
// The policies live in the metadata store; each node re-reads them every
// Options.Refresh (and at once after a change made through it).
package sigpolicy
