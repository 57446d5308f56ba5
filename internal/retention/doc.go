// Package retention applies the projects' retention rules: which version
// tags of a repository to keep (the most recently pushed, the recently
// pulled, those matching a pattern), and after how long untagged
// manifests go.
//
// A run has two halves. Evaluate is the plan: a pure function from what
// the metadata index holds (tags with their push times, manifests with
// their references, pull statistics, immutability) to the tags and
// manifests that go, with their sizes, so a dry run shows exactly what a
// real run removes. Engine.Run reads that input for each project, and,
// unless dry, applies the plan through the registry service, one
// conditional deletion at a time, so that each is an ordinary delete with
// its event, immutability check and audit entry, and a tag pushed after
// the plan was made is never lost.
//
// Tags of the referrers tag schema (sha256-<hex>, .sig, .att, .sbom) are
// their subject's artifacts, not versions: retention never counts nor
// removes them; they go with their subject through garbage collection.
package retention
