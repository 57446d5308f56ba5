// Package sigverify verifies image signatures for berth's pull-time
// signature policy.
//
// It knows nothing about registries or HTTP: the caller fetches the signature
// material (a cosign simple-signing layer and its annotation, a sigstore
// bundle, a notation envelope) and hands the bytes to a [Verifier] built from
// the policy's [Trust]. All cryptography is done by the official libraries:
// github.com/sigstore/sigstore (classic cosign signatures),
// github.com/sigstore/sigstore-go (sigstore bundles) and
// github.com/notaryproject/notation-go (notation envelopes).
//
// Verification is fully offline. There is no TUF, Rekor, Fulcio, timestamp
// authority or revocation (OCSP/CRL) lookup: cosign material is trusted only
// through the policy's public keys, notation material only through the
// policy's trust roots, and transparency-log entries or timestamps carried by
// a bundle are ignored.
//
// Every "this does not verify" outcome, including malformed input, returns an
// error wrapping [ErrUntrusted] whose message says why.
package sigverify
