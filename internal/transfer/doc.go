// Package transfer copies images between registries — any registries that
// speak the OCI Distribution API: berth, the reference registry (registry:2),
// or a cloud registry. It is the engine behind `berth copy` and `berth sync`,
// and is shaped so replication can drive it too.
//
// A copy keeps digests: manifests travel byte for byte, an index with every
// platform it lists (or, with Options.Platform, only one platform's image,
// whose digest is then that image's). The referrers of every manifest copied
// travel with it: those the source lists through the OCI referrers API
// (GET /v2/<name>/referrers/<digest>, or the referrers tag schema
// sha256-<hex> where the API is missing), and tags named after the digest in
// the cosign style (sha256-<hex>, sha256-<hex>.sig, .att, .sbom).
//
// Nothing is sent twice: a manifest the destination has (HEAD by digest) is
// not written again, a tag that already names the source's digest is "up to
// date", and a blob the destination has (HEAD) is skipped. When source and
// destination are on the same registry, blobs are mounted across
// repositories instead of uploaded.
//
// Few round trips: each side is pinged and authenticated once per copy, or
// once for many copies through an Endpoint made by Connect; a tag's HEAD and
// its manifest's HEAD go out together; a blob costs one HEAD, then POST and
// PUT with the body (a PATCH too above monolithicMax), as a client's push
// does. A failed blob upload starts again from its HEAD; other requests
// without a body are retried on network flakes and 408, 429 and 5xx.
//
// Manifests are read and written with go-containerregistry's remote package
// (Puller and Pusher), blobs uploaded by this package; it decides what to
// copy, in which order, and reports every step to a Progress and in a
// Report.
//
// Layering: transfer depends only on go-containerregistry; it knows nothing
// of berth's own packages, so it runs the same against any two registries.
package transfer
